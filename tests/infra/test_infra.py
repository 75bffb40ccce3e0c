"""The Bicep in infra/ agrees with the code it deploys.

The app settings it writes are real `HERALD_` settings and never the local-only ones; every Cosmos
container of `shared/store/cosmos.py` exists there with the same partition key, indexing and TTL; no
key or connection string is used anywhere; and what azd passes in matches what the Bicep declares.
These read the Bicep as text (no Bicep CLI or checkov here: `scripts/checkov.sh` runs checkov).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprints.inbound_queue import INBOUND_QUEUE
from shared.settings import HeraldSettings
from shared.store.cosmos import CONTAINERS, ContainerSpec

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

# Settings that exist for local development and tests only. The Bicep must never set them.
LOCAL_ONLY = {
    "HERALD_COSMOS_KEY": "account keys are disabled in Azure; the app signs in with its managed identity",
    "HERALD_COSMOS_VERIFY_TLS": "false only for the local server's self-signed certificate",
    "HERALD_COSMOS_CREATE_CONTAINERS": "the Bicep creates the containers (the app's data role cannot)",
    "HERALD_AUTH_JWKS": "inline keys sign local tokens; Azure reads the issuer's JWKS URL",
    "HERALD_LOCAL_KEK": "the KEK lives in Key Vault",
    "HERALD_PORTAL_LOCAL_KEY": "the portal's signing key lives in Key Vault",
    "HERALD_DELIVERY_ALLOW_HTTP": "plain-http endpoints are for local receivers; the SSRF guard stays whole",
    "HERALD_DELIVERY_ALLOWED_CIDRS": "exempts ranges from the SSRF guard: local settings and tests only",
}

# Settings Azure cannot run without: their defaults point at the local emulators or are unset.
REQUIRED_IN_AZURE = {
    "HERALD_COSMOS_ENDPOINT",
    "HERALD_COSMOS_DATABASE",
    "HERALD_KEYVAULT_URL",
    "HERALD_KEK_KEY_NAME",
    "HERALD_PORTAL_KEY_NAME",
    "HERALD_AUTH_ISSUER",
    "HERALD_AUTH_AUDIENCE",
    "HERALD_AUTH_JWKS_URL",
    "HERALD_CORS_ALLOWED_ORIGINS",
}

# Settings set at their defaults because a binding names them (%NAME%): the host resolves those
# itself, where pydantic's defaults never apply. tests/parity checks that every such name is set.
NAMED_BY_BINDINGS = {"HERALD_SWEEP_SCHEDULE"}

ROLE_DEFINITIONS = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Cosmos DB Built-in Data Contributor": "00000000-0000-0000-0000-000000000002",
    "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Storage Queue Data Message Sender": "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}


def _strip_comments(text: str) -> str:
    """Bicep without its // and /* */ comments (a // inside a string, as in a URL, stays)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("'''", i):
            end = text.index("'''", i + 3) + 3
            out.append(text[i:end])
            i = end
        elif text[i] == "'":
            j = i + 1
            while text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@cache
def _bicep_files() -> tuple[Path, ...]:
    return tuple(sorted(INFRA.rglob("*.bicep")))


@cache
def _code(path: Path) -> str:
    return _strip_comments(path.read_text())


def _all_code() -> str:
    return "\n".join(_code(path) for path in _bicep_files())


def _app_setting_names() -> set[str]:
    """HERALD_ names the Bicep gives values: object keys (`HERALD_X: ...`) or `name: 'HERALD_X'`."""
    code = _all_code()
    keys = re.findall(r"^\s*'?(HERALD_[A-Z0-9_]+)'?\s*:", code, flags=re.MULTILINE)
    names = re.findall(r"\bname:\s*'(HERALD_[A-Z0-9_]+)'", code)
    return set(keys) | set(names)


def _setting_env_names() -> set[str]:
    prefix = HeraldSettings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in HeraldSettings.model_fields}


def test_infra_exists() -> None:
    names = {path.relative_to(INFRA).as_posix() for path in _bicep_files()}
    assert {"main.bicep", "modules/cosmos.bicep", "modules/functionapp.bicep"} <= names


def test_every_herald_name_in_the_bicep_is_a_setting() -> None:
    # Anywhere in code, strings included: a misspelt name would be a setting the app never reads.
    mentioned = set(re.findall(r"\bHERALD_[A-Z0-9_]+", _all_code()))
    assert mentioned, "the Bicep sets no HERALD_ setting at all"
    assert mentioned <= _setting_env_names(), f"unknown: {sorted(mentioned - _setting_env_names())}"


def test_the_bicep_sets_no_local_only_setting() -> None:
    assert _setting_env_names() >= set(LOCAL_ONLY), "the local-only list names a setting that is gone"
    assert _app_setting_names() & set(LOCAL_ONLY) == set()


def test_the_bicep_sets_every_setting_azure_needs() -> None:
    assert _setting_env_names() >= REQUIRED_IN_AZURE
    assert REQUIRED_IN_AZURE - _app_setting_names() == set()


def test_the_azure_settings_are_exactly_the_expected_subset() -> None:
    optional = {
        "HERALD_REDIS_URL",
        "HERALD_AUTH_TENANT_CLAIM",
        "HERALD_KEK_SECRET_NAME",
        "HERALD_AUTH_SINGLE_TENANT",
        "HERALD_OPERATOR_TENANTS",
        "HERALD_PUBLIC_BASE_URL",
    }
    expected = (REQUIRED_IN_AZURE | optional | NAMED_BY_BINDINGS) & (_setting_env_names() - set(LOCAL_ONLY))
    assert _app_setting_names() == expected


def test_redis_url_is_set_only_when_a_redis_url_is_given() -> None:
    # The value is a Key Vault reference (tests/infra/test_posture.py); the URL itself is a
    # secure parameter that only the vault's secret receives.
    code = _code(INFRA / "modules" / "functionapp.bicep")
    assert re.search(r"empty\(redisUrlSecretUri\)\s*\?\s*\{\}\s*:\s*\{\s*HERALD_REDIS_URL:", code)
    for module in ("main.bicep", "modules/keyvault.bicep"):
        secure = r"@secure\(\)\s*(@description\('(?:[^'\\]|\\.)*'\)\s*)?param redisUrl string"
        assert re.search(secure, _code(INFRA / module)), module


def test_platform_cors_comes_from_the_same_origins_as_herald() -> None:
    code = _code(INFRA / "modules" / "functionapp.bicep")
    assert "HERALD_CORS_ALLOWED_ORIGINS: corsAllowedOrigins" in code
    assert "split(corsAllowedOrigins, ',')" in code
    assert re.search(r"cors:\s*\{\s*allowedOrigins:\s*corsOrigins", code)


# --- Cosmos DB containers ---------------------------------------------------------------------------


class _LiteralReader:
    """Reads a Bicep literal (objects, arrays, strings, integers, booleans, null) into Python."""

    _TOKEN = re.compile(r"\s*(?:('(?:\\.|[^'\\])*')|(-?\d+)|([A-Za-z_]\w*)|([\[\]{}:,]))")

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def _peek(self) -> str:
        match = self._TOKEN.match(self._text, self._pos)
        if not match:
            raise ValueError(f"not a Bicep literal at: {self._text[self._pos : self._pos + 40]!r}")
        return match.group(0).strip()

    def _next(self) -> str:
        token = self._peek()
        match = self._TOKEN.match(self._text, self._pos)
        assert match
        self._pos = match.end()
        return token

    def value(self) -> Any:
        token = self._next()
        if token == "{":
            obj: dict[str, Any] = {}
            while self._peek() != "}":
                key = self._next().strip("'")
                if self._next() != ":":
                    raise ValueError(f"expected ':' after {key}")
                obj[key] = self.value()
                if self._peek() == ",":
                    self._next()
            self._next()
            return obj
        if token == "[":
            items: list[Any] = []
            while self._peek() != "]":
                items.append(self.value())
                if self._peek() == ",":
                    self._next()
            self._next()
            return items
        if token.startswith("'"):
            return re.sub(r"\\(.)", r"\1", token[1:-1])
        if re.fullmatch(r"-?\d+", token):
            return int(token)
        literals = {"true": True, "false": False, "null": None}
        if token in literals:
            return literals[token]
        raise ValueError(f"not a literal: {token!r}")


@cache
def _bicep_containers() -> dict[str, dict[str, Any]]:
    code = _code(INFRA / "modules" / "cosmos.bicep")
    start = re.search(r"^var containers\s*=\s*", code, flags=re.MULTILINE)
    assert start, "cosmos.bicep declares no `var containers`"
    containers = _LiteralReader(code[start.end() :]).value()
    return {container["name"]: container for container in containers}


def test_the_bicep_has_exactly_the_containers_of_the_store() -> None:
    assert set(_bicep_containers()) == {spec.name for spec in CONTAINERS}


@pytest.mark.parametrize("spec", CONTAINERS, ids=lambda spec: spec.name)
def test_each_container_has_the_partition_key_of_its_spec(spec: ContainerSpec) -> None:
    container = _bicep_containers()[spec.name]
    assert container["partitionKeyPaths"] == spec.partition_key
    assert container["kind"] == ("MultiHash" if len(spec.partition_key) > 1 else "Hash")


@pytest.mark.parametrize("spec", CONTAINERS, ids=lambda spec: spec.name)
def test_each_container_has_the_indexing_and_ttl_of_its_spec(spec: ContainerSpec) -> None:
    container = _bicep_containers()[spec.name]
    assert container["excludedPaths"] == spec.indexing_policy()["excludedPaths"]
    assert container["compositeIndexes"] == spec.indexing_policy().get("compositeIndexes", [])
    # The Bicep can say "TTL on, no default expiry" (-1) or "off"; any other default needs it changed.
    assert spec.default_ttl in (None, -1)
    assert container["ttlOn"] is (spec.default_ttl == -1)


def test_the_container_resource_uses_each_entry_as_written() -> None:
    code = _code(INFRA / "modules" / "cosmos.bicep")
    body = code[code.index("resource sqlContainers") :]
    for fragment in (
        "[for container in containers:",
        "paths: container.partitionKeyPaths",
        "kind: container.kind",
        "version: 2",
        "excludedPaths: container.excludedPaths",
        "compositeIndexes: container.compositeIndexes",
        "container.ttlOn ? { defaultTtl: -1 } : {}",
        "indexingMode: 'consistent'",
    ):
        assert fragment in body, fragment


# --- identity, not keys ---------------------------------------------------------------------------


def test_no_key_or_connection_string_is_used() -> None:
    code = _all_code()
    for forbidden in ("listKeys(", "listConnectionStrings(", "AccountKey=", "SharedAccessSignature"):
        assert forbidden not in code, forbidden
    # AzureWebJobsStorage only in its identity-based form (AzureWebJobsStorage__...).
    assert not re.search(r"\bAzureWebJobsStorage\s*:", code)


@pytest.mark.parametrize(
    ("module", "setting"),
    [
        ("storage.bicep", "allowSharedKeyAccess: false"),
        ("cosmos.bicep", "disableLocalAuth: true"),
        ("monitoring.bicep", "DisableLocalAuth: true"),
        ("keyvault.bicep", "enableRbacAuthorization: true"),
        ("keyvault.bicep", "enablePurgeProtection: true"),
        ("functionapp.bicep", "AzureWebJobsStorage__credential: 'managedidentity'"),
        ("functionapp.bicep", "AzureWebJobsStorage__clientId: identityClientId"),
        ("functionapp.bicep", "AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint"),
        ("functionapp.bicep", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};"),
        ("functionapp.bicep", "type: 'UserAssignedIdentity'"),
    ],
)
def test_services_authenticate_with_entra_only(module: str, setting: str) -> None:
    assert setting in _code(INFRA / "modules" / module)


@pytest.mark.parametrize(("role", "definition_id"), sorted(ROLE_DEFINITIONS.items()))
def test_the_app_identity_is_granted_each_role(role: str, definition_id: str) -> None:
    assert definition_id in _all_code(), role


# --- wiring ---------------------------------------------------------------------------------------


def test_the_inbound_queue_and_its_poison_queue_are_created() -> None:
    code = _code(INFRA / "main.bicep")
    assert f"'{INBOUND_QUEUE}'" in code
    assert f"'{INBOUND_QUEUE}-poison'" in code
    assert "herald.inbound.poison_depth" in _code(INFRA / "modules" / "monitoring.bicep")


def test_every_module_exists_and_is_used() -> None:
    used = set(re.findall(r"^module \w+ '([^']+)'", _code(INFRA / "main.bicep"), flags=re.MULTILINE))
    assert used, "main.bicep uses no module"
    for path in used:
        assert (INFRA / path).is_file(), path
    present = {path.relative_to(INFRA).as_posix() for path in (INFRA / "modules").glob("*.bicep")}
    assert present == used


def _main_parameters() -> dict[str, bool]:
    """main.bicep's parameters, each with whether it has a default."""
    params = re.findall(r"^param (\w+) \w+( =)?", _code(INFRA / "main.bicep"), flags=re.MULTILINE)
    return {name: bool(default) for name, default in params}


def test_azd_passes_only_declared_parameters_and_every_required_one() -> None:
    passed = set(json.loads((INFRA / "main.parameters.json").read_text())["parameters"])
    declared = _main_parameters()
    assert passed <= set(declared), f"undeclared: {sorted(passed - set(declared))}"
    required = {name for name, has_default in declared.items() if not has_default}
    assert required <= passed, f"not passed: {sorted(required - passed)}"


def test_the_durable_task_hub_comes_from_an_app_setting() -> None:
    # Its value is the deployment's own hub name (that every %NAME% is set at all: tests/parity).
    functionapp = _code(INFRA / "modules" / "functionapp.bicep")
    assert re.search(r"^\s*TASK_HUB_NAME:\s*taskHubName", functionapp, flags=re.MULTILINE)
    durable = json.loads((ROOT / "host.json").read_text()).get("extensions", {}).get("durableTask", {})
    hub = durable.get("hubName")
    if hub is not None:
        # A fixed name would share one task hub between every environment's app.
        match = re.fullmatch(r"%(\w+)%", hub)
        assert match, f"host.json hubName {hub!r} should name an app setting (%TASK_HUB_NAME%)"
        assert match[1] == "TASK_HUB_NAME"


def test_azd_deploys_the_tagged_function_app_and_the_bicep_alone_makes_the_kek() -> None:
    azure_yaml = (ROOT / "azure.yaml").read_text()
    assert re.search(r"^services:\n  api:\n(    .*\n)*    host: function$", azure_yaml, re.M)
    assert "'azd-service-name': 'api'" in _code(INFRA / "modules" / "functionapp.bicep")
    # The vault generates the KEK (a key resource): no hook makes key material on a laptop. The
    # one hook builds the portal's files (portal/dist/) before the app is packaged.
    config = yaml.safe_load(azure_yaml)
    assert "hooks" not in config and not (INFRA / "hooks").exists()
    assert config["services"]["api"]["hooks"] == {"prepackage": {"shell": "sh", "run": "make portal"}}
    outputs = set(re.findall(r"^output (\w+)", _code(INFRA / "main.bicep"), flags=re.MULTILINE))
    assert {"AZURE_KEY_VAULT_NAME", "KEK_KEY_NAME"} <= outputs
