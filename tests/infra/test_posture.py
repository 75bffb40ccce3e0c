"""The security posture of infra/ and of the CI workflow that previews it.

Private networking closes public access; every role is granted on the one resource it is for; the
KEK is a vault-generated HSM key the app can only wrap and unwrap with, the portal's signing key one
it can only sign with; the Redis URL reaches the
app as a Key Vault reference; the inbound queue's publishers may send to that queue alone; and CI
hands Azure credentials only to a job of the protected branch, as an identity that can change
nothing. The Bicep is read with pycep-parser, the parser checkov uses.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

from blueprints.inbound_queue import INBOUND_QUEUE
from tests.infra.test_infra import ROLE_DEFINITIONS

pytestmark = pytest.mark.offline

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
WORKFLOWS = ROOT / ".github" / "workflows"
ROLE_NAMES = {definition: name for name, definition in ROLE_DEFINITIONS.items()}


@cache
def _template(module: str) -> Any:
    return BicepParser().parse(file_path=INFRA / module)


def _config(node: dict[str, Any]) -> dict[str, Any]:
    """A resource's or module's body, under its condition (`= if (...)`) or loop (`[for ...]`)."""
    config: dict[str, Any] = node["config"]
    if "condition" in config or "loop_type" in config:
        config = config["config"]
    return config


def _condition(node: dict[str, Any]) -> Any:
    return node["config"].get("condition")


def _resources(module: str) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = _template(module)["resources"]
    return resources


def _variable(module: str, name: str) -> Any:
    return _template(module)["variables"][name]["value"]


def _role_assignments() -> list[tuple[str, str, dict[str, Any]]]:
    """(module, symbolic name, resource) of every RBAC role assignment in infra/."""
    found = []
    for path in sorted(INFRA.rglob("*.bicep")):
        module = path.relative_to(INFRA).as_posix()
        for name, resource in _resources(module).items():
            if resource["type"] == "Microsoft.Authorization/roleAssignments":
                found.append((module, name, resource))
    return found


def _role_of(module: str, resource: dict[str, Any]) -> str:
    definition = _config(resource)["properties"]["roleDefinitionId"]["function"]
    assert definition["type"] == "subscription_resource_id", definition
    return ROLE_NAMES[_variable(module, definition["parameters"]["resource_name_1"])]


def _scope_type(module: str, resource: dict[str, Any]) -> str:
    """The type of the resource a role assignment is scoped to; it must name one of the module's."""
    scope = _config(resource).get("scope")
    # Without a scope the assignment applies to the whole resource group it is deployed to.
    assert scope is not None, "no scope: the role would cover the resource group"
    if isinstance(scope, dict):
        accessor = scope["operator"]
        assert accessor["type"] == "index_accessor", f"not a resource: {scope}"
        scope = accessor["operands"]["operand_1"]
    assert scope in _resources(module), f"scope {scope!r} is not a resource of {module}"
    return str(_resources(module)[scope]["type"])


# --- private networking ---------------------------------------------------------------------------


def test_private_networking_turns_public_access_off() -> None:
    assert _variable("main.bicep", "publicNetworkAccess") == {
        "operator": {
            "type": "conditional",
            "operands": {
                "condition": "enablePrivateNetworking",
                "true_value": "Disabled",
                "false_value": "Enabled",
            },
        }
    }
    modules = _template("main.bicep")["modules"]
    for name in ("storage", "cosmos", "keyVault"):
        assert _config(modules[name])["params"]["publicNetworkAccess"] == "publicNetworkAccess", name
    closed = {
        "modules/storage.bicep": "Microsoft.Storage/storageAccounts",
        "modules/cosmos.bicep": "Microsoft.DocumentDB/databaseAccounts",
        "modules/keyvault.bicep": "Microsoft.KeyVault/vaults",
    }
    for module, kind in closed.items():
        (account,) = (r for r in _resources(module).values() if r["type"] == kind)
        properties = _config(account)["properties"]
        assert properties["publicNetworkAccess"] == "publicNetworkAccess", module
        # The firewalls deny by default too (what publicNetworkAccess leaves to them).
        if "networkAcls" in properties:
            deny = "defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'"
            assert deny in (INFRA / module).read_text(), module


def test_private_networking_reaches_every_closed_service_through_a_private_endpoint() -> None:
    modules = _template("main.bicep")["modules"]
    assert _condition(modules["network"]) == "enablePrivateNetworking"
    links = {link["groupId"] for link in _variable("modules/network.bicep", "privateLinks")}
    assert links == {"Sql", "blob", "queue", "table", "vault"}
    subnet = _config(modules["functionApp"])["params"]["subnetId"]["operator"]
    assert subnet["operands"]["condition"] == "enablePrivateNetworking"


# --- roles ----------------------------------------------------------------------------------------

# Each role the Bicep grants, and the one kind of resource it is granted on.
ROLE_SCOPES = {
    "Storage Blob Data Owner": {"Microsoft.Storage/storageAccounts"},
    "Storage Queue Data Contributor": {"Microsoft.Storage/storageAccounts"},
    "Storage Table Data Contributor": {"Microsoft.Storage/storageAccounts"},
    "Storage Queue Data Message Sender": {"Microsoft.Storage/storageAccounts/queueServices/queues"},
    "Key Vault Crypto Service Encryption User": {"Microsoft.KeyVault/vaults/keys"},
    "Key Vault Secrets User": {"Microsoft.KeyVault/vaults/secrets"},
    "Key Vault Crypto User": {"Microsoft.KeyVault/vaults/keys"},
    "Monitoring Metrics Publisher": {"Microsoft.Insights/components"},
}


def test_every_role_is_granted_on_the_single_resource_it_is_for() -> None:
    granted: dict[str, set[str]] = {}
    for module, name, resource in _role_assignments():
        assert module != "main.bicep", f"{name}: a role assignment at subscription scope"
        granted.setdefault(_role_of(module, resource), set()).add(_scope_type(module, resource))
    assert granted == ROLE_SCOPES
    # Cosmos DB's data-plane role: on the account (which holds only Herald's database).
    cosmos = _config(_resources("modules/cosmos.bicep")["dataContributor"])
    scope = cosmos["properties"]["scope"]["operator"]["operands"]
    assert scope == {"operand_1": "account", "operand_2": "id"}


def test_nobody_holds_a_role_on_the_whole_vault() -> None:
    # A vault-wide role would reach every key and secret; each principal gets one item instead.
    for module, name, resource in _role_assignments():
        assert _scope_type(module, resource) != "Microsoft.KeyVault/vaults", name


def test_the_inbound_queue_publishers_may_send_to_that_queue_only() -> None:
    (publishers,) = (
        resource
        for module, _, resource in _role_assignments()
        if _role_of(module, resource) == "Storage Queue Data Message Sender"
    )
    scope = _config(publishers)["scope"]["operator"]["operands"]
    assert scope == {"operand_1": "queues", "operand_2": 0}
    # queues[0] is the inbound queue: main.bicep lists it first.
    assert re.search(rf"inboundQueues = \[\s*'{INBOUND_QUEUE}'", (INFRA / "main.bicep").read_text())
    storage = _config(_template("main.bicep")["modules"]["storage"])["params"]
    assert storage["queueNames"] == "inboundQueues"
    assert "inboundPublisherPrincipalIds" in storage


# --- Key Vault: the KEK, the portal's signing key, the Redis URL -------------------------------------


def test_the_kek_is_an_hsm_key_that_only_wraps_and_unwraps() -> None:
    resources = _resources("modules/keyvault.bicep")
    vault = _config(resources["vault"])["properties"]
    assert vault["sku"]["name"] == "premium" and vault["enablePurgeProtection"] is True
    kek = _config(resources["kek"])
    assert resources["kek"]["type"] == "Microsoft.KeyVault/vaults/keys" and kek["parent"] == "vault"
    assert kek["properties"]["kty"] == "RSA-HSM" and kek["properties"]["keySize"] >= 3072
    assert kek["properties"]["keyOps"] == ["wrapKey", "unwrapKey"]
    assert kek["properties"]["rotationPolicy"]["lifetimeActions"][0]["action"]["type"] == "rotate"
    use = _config(resources["appUsesKek"])
    assert use["scope"] == "kek" and use["properties"]["principalId"] == "principalId"
    assert (
        _role_of("modules/keyvault.bicep", resources["appUsesKek"])
        == "Key Vault Crypto Service Encryption User"
    )
    # The app finds the key by name; no KEK secret is made any more.
    functionapp = (INFRA / "modules" / "functionapp.bicep").read_text()
    assert "HERALD_KEK_KEY_NAME: kekKeyName" in functionapp
    made = [name for name, r in resources.items() if r["type"].endswith("/secrets") and not r["existing"]]
    assert made == ["redisSecret"]


def test_the_portal_signing_key_is_an_hsm_key_that_only_signs_and_only_the_app_uses() -> None:
    resources = _resources("modules/keyvault.bicep")
    key = _config(resources["portalKey"])
    assert resources["portalKey"]["type"] == "Microsoft.KeyVault/vaults/keys" and key["parent"] == "vault"
    assert (key["properties"]["kty"], key["properties"]["curveName"]) == ("EC-HSM", "P-256")
    # Signing only: verifying needs the public half alone, which Herald holds in memory.
    assert key["properties"]["keyOps"] == ["sign"]
    assert key["properties"]["rotationPolicy"]["lifetimeActions"][0]["action"]["type"] == "rotate"
    use = _config(resources["appSignsPortalTokens"])
    assert use["scope"] == "portalKey" and use["properties"]["principalId"] == "principalId"
    assert _role_of("modules/keyvault.bicep", resources["appSignsPortalTokens"]) == "Key Vault Crypto User"
    functionapp = (INFRA / "modules" / "functionapp.bicep").read_text()
    assert "HERALD_PORTAL_KEY_NAME: portalKeyName" in functionapp


def test_the_redis_url_is_a_key_vault_reference_to_a_secret_only_the_app_reads() -> None:
    settings = _variable("modules/functionapp.bicep", "redisSettings")["operator"]["operands"]
    assert settings["false_value"] == {
        "HERALD_REDIS_URL": "@Microsoft.KeyVault(SecretUri=${redisUrlSecretUri})"
    }
    assert settings["true_value"] == {}
    # The Function App module never sees the URL itself, and resolves references as the app identity.
    functionapp = _template("modules/functionapp.bicep")
    assert "redisUrl" not in functionapp["parameters"]
    site = _config(functionapp["resources"]["site"])["properties"]
    assert site["keyVaultReferenceIdentity"] == "identityId"
    resources = _resources("modules/keyvault.bicep")
    secret = _config(resources["redisSecret"])
    assert secret["properties"]["value"] == "redisUrl" and secret["properties"]["contentType"]
    read = _config(resources["appReadsRedisUrl"])
    assert read["scope"] == "redisSecret"
    assert _condition(resources["redisSecret"]) == _condition(resources["appReadsRedisUrl"])
    # Given only with a Redis URL, and as the secret's address, never the URL.
    app = _config(_template("main.bicep")["modules"]["functionApp"])["params"]
    given = app["redisUrlSecretUri"]["operator"]["operands"]
    assert given["condition"] == {"function": {"type": "empty", "parameters": {"item_to_test": "redisUrl"}}}
    assert given["true_value"] == ""
    assert "redisUrlSecretUri" in json.dumps(given["false_value"])
    assert "redisUrl" not in json.dumps(_template("modules/keyvault.bicep")["outputs"]).replace(
        "redisUrlSecretUri", ""
    )


# --- CI -------------------------------------------------------------------------------------------


@cache
def _workflows() -> dict[str, dict[Any, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(WORKFLOWS.glob("*.yml"))}


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    triggers: dict[str, Any] = workflow["on"] if "on" in workflow else workflow[True]
    return triggers


def _uses_credentials(job: dict[str, Any]) -> bool:
    return job.get("permissions", {}).get("id-token") == "write" or "secrets." in json.dumps(job)


@pytest.mark.parametrize("name", sorted(_workflows()))
def test_no_workflow_runs_with_the_base_repositorys_rights_for_a_pull_request(name: str) -> None:
    workflow = _workflows()[name]
    # pull_request_target and workflow_run run a pull request's code with the repository's secrets.
    assert not {"pull_request_target", "workflow_run"} & set(_triggers(workflow)), name
    assert workflow["permissions"] == {"contents": "read"}, name


@pytest.mark.parametrize("name", sorted(_workflows()))
def test_only_protected_branch_jobs_in_a_reviewed_environment_get_azure_credentials(name: str) -> None:
    for job_name, job in _workflows()[name]["jobs"].items():
        if not _uses_credentials(job):
            assert "id-token" not in json.dumps(job.get("permissions", {})), job_name
            continue
        # The environment admits main only and needs a reviewer; Azure trusts only its tokens.
        assert job.get("environment") == "infra-preview", job_name
        condition = re.sub(r"\s+", " ", job["if"])
        assert "github.ref == 'refs/heads/main'" in condition, job_name
        assert "github.event_name != 'pull_request'" in condition, job_name
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, job_name
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("azure/login"):
                # OpenID Connect: a client id, never a stored secret or credentials blob.
                assert set(step["with"]) == {"client-id", "tenant-id", "subscription-id"}, job_name
            if "checkout" in str(step.get("uses", "")):
                assert step["with"]["persist-credentials"] is False, job_name


def test_the_ci_identity_can_preview_and_nothing_else() -> None:
    role = json.loads((INFRA / "ci" / "what-if-reader.json").read_text())
    assert role["Actions"] == [
        "*/read",
        "Microsoft.Resources/deployments/validate/action",
        "Microsoft.Resources/deployments/whatIf/action",
    ]
    assert role["DataActions"] == [] and role["NotActions"] == []
    # The what-if checks read rights instead of write rights, so that role suffices.
    preview = _workflows()["infra.yml"]["jobs"]["preview"]
    commands = " ".join(str(step.get("run", "")) for step in preview["steps"])
    assert "az deployment sub what-if" in commands and "--validation-level ProviderNoRbac" in commands
    for forbidden in (
        "az deployment sub create",
        "azd provision",
        "azd up",
        "azd deploy",
        "--confirm-with-what-if",
    ):
        assert forbidden not in commands, forbidden
