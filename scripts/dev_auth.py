"""Local settings and development tokens: a dev key pair, its JWKS in local settings, tokens on demand.

    python scripts/dev_auth.py init     # local.settings.json: new example settings, key pair, KEK,
                                        # the app portal's signing key
    python scripts/dev_auth.py token [--tenant T] [--scopes "herald.read ..."]

Herald validates these tokens with the same code path as Entra ID tokens in production: only the
issuer, audience and key set differ, and they come from settings. A token names its tenant in the
claim Herald reads (HERALD_AUTH_TENANT_CLAIM: `azp`, the calling application, by default), beside
the one `tid` every token of a directory shares, as Entra's tokens do.

App portal tokens Herald signs itself: locally with a P-256 key made here beside the dev key (in
Azure a Key Vault key), which Herald reads from HERALD_PORTAL_LOCAL_KEY. It is made once, so portal
links outlive restarts and `init` again.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.tokens import ALL_SCOPES, Issuer, new_key  # noqa: E402

KEY_FILE = ROOT / ".local" / "dev-auth" / "private.pem"
PORTAL_KEY_FILE = ROOT / ".local" / "dev-auth" / "portal-private.pem"
SETTINGS_FILE = ROOT / "local.settings.json"
EXAMPLE_FILE = ROOT / "local.settings.example.json"
ISSUER = "https://herald.local/dev"
AUDIENCE = "api://herald"
KID = "herald-dev-1"
TOKEN_LIFETIME_SECONDS = 12 * 3600
# The local "directory": like an Entra tenant id, the same in every token.
DIRECTORY_ID = "herald-local-directory"
DEFAULT_TENANT_CLAIM = "azp"


def _key_file(path: Path, generate: Callable[[], PrivateKeyTypes]) -> PrivateKeyTypes:
    """The private key in `path`, made by `generate` the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Owner-only: it signs tokens the local Herald accepts.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _private_key() -> rsa.RSAPrivateKey:
    loaded = _key_file(KEY_FILE, new_key)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def _portal_key() -> str:
    """The portal's signing key as HERALD_PORTAL_LOCAL_KEY takes it: base64 of its PKCS#8 DER."""
    loaded = _key_file(PORTAL_KEY_FILE, lambda: ec.generate_private_key(ec.SECP256R1()))
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    der = loaded.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(der).decode()


def _issuer() -> Issuer:
    return Issuer(_private_key(), issuer=ISSUER, audience=AUDIENCE, kid=KID, directory=DIRECTORY_ID)


def init() -> None:
    settings = json.loads(SETTINGS_FILE.read_text())
    values = settings.setdefault("Values", {})
    # Settings added to the example since this file was made join it; the user's values stay.
    example = json.loads(EXAMPLE_FILE.read_text())["Values"]
    for name, value in example.items():
        values.setdefault(name, value)
    values["HERALD_AUTH_ISSUER"] = ISSUER
    values["HERALD_AUTH_AUDIENCE"] = AUDIENCE
    # Files made before tenants were per calling application name `tid`, which Herald now refuses
    # unless HERALD_AUTH_SINGLE_TENANT says so: they move to the example's claim.
    single = values.get("HERALD_AUTH_SINGLE_TENANT", "").strip().lower() == "true"
    if values.get("HERALD_AUTH_TENANT_CLAIM") == "tid" and not single:
        values["HERALD_AUTH_TENANT_CLAIM"] = example["HERALD_AUTH_TENANT_CLAIM"]
    values["HERALD_AUTH_JWKS"] = _issuer().jwks
    if not values.get("HERALD_LOCAL_KEK"):
        values["HERALD_LOCAL_KEK"] = base64.b64encode(os.urandom(32)).decode()
    values["HERALD_PORTAL_LOCAL_KEY"] = _portal_key()
    SETTINGS_FILE.write_text(json.dumps(settings, indent=2) + "\n")


def _tenant_claim() -> str:
    """The claim the local Herald reads the tenant from: the environment wins, as it does there."""
    configured = os.environ.get("HERALD_AUTH_TENANT_CLAIM")
    if configured is None and SETTINGS_FILE.exists():
        configured = json.loads(SETTINGS_FILE.read_text()).get("Values", {}).get("HERALD_AUTH_TENANT_CLAIM")
    return configured or DEFAULT_TENANT_CLAIM


def token(tenant: str, scopes: str) -> str:
    return _issuer().mint(
        tenant,
        scopes,
        tenant_claim=_tenant_claim(),
        lifetime=TOKEN_LIFETIME_SECONDS,
        sub="local-developer",
        jti=str(uuid.uuid4()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create the key pair and write its JWKS into local.settings.json")
    minting = commands.add_parser("token", help="print a development token (alone on the last line)")
    minting.add_argument("--tenant", default="default")
    minting.add_argument("--scopes", default=ALL_SCOPES)
    args = parser.parse_args()
    if args.command == "init":
        init()
    else:
        print(f"# tenant {args.tenant}, scopes '{args.scopes}', valid {TOKEN_LIFETIME_SECONDS // 3600} h")
        print(token(args.tenant, args.scopes))


if __name__ == "__main__":
    main()
