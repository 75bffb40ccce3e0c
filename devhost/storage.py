"""Storage connections as the Functions host finds them from a binding's ``connection`` property."""

from __future__ import annotations

from collections.abc import Mapping

from devhost.errors import StartupError

# The setting every storage binding falls back to when it names no connection.
DEFAULT_CONNECTION_SETTING = "AzureWebJobsStorage"
# The host also looks a connection name up with this prefix ("MyStorage" -> "AzureWebJobsMyStorage").
CONNECTION_PREFIX = "AzureWebJobs"
DEVELOPMENT_STORAGE = "usedevelopmentstorage=true"
# Azurite's documented, public development account; "UseDevelopmentStorage=true" means this.
AZURITE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


def storage_connection_string(connection: str | None, environ: Mapping[str, str], *, where: str) -> str:
    """The connection string behind a binding's ``connection`` (empty: AzureWebJobsStorage).

    Raises StartupError naming ``where`` when no such setting exists, or when only an
    identity-based connection (``<name>__serviceUri`` and friends) is configured: devhost speaks
    to storage with connection strings only.
    """
    name = connection or DEFAULT_CONNECTION_SETTING
    candidates = [name] if name.startswith(CONNECTION_PREFIX) else [name, f"{CONNECTION_PREFIX}{name}"]
    value = next((environ[c] for c in candidates if environ.get(c)), None)
    if value is None:
        if any(key.startswith(f"{c}__") for c in candidates for key in environ):
            raise StartupError(
                f"{where}: connection '{name}' is identity-based; devhost needs a connection string "
                f"in app setting '{name}'"
            )
        raise StartupError(f"{where}: app setting '{name}' (the storage connection string) is not set")
    if value.replace(" ", "").rstrip(";").lower().startswith(DEVELOPMENT_STORAGE):
        return AZURITE_CONNECTION_STRING
    # Checked here, because the storage SDK is imported (and would complain) only after start-up.
    pairs = [part.split("=", 1) for part in value.strip().rstrip(";").split(";")]
    keys = {pair[0].strip().lower() for pair in pairs if len(pair) == 2 and pair[0].strip()}
    if len(keys) != len(pairs) or not keys & {"accountname", "queueendpoint"}:
        raise StartupError(f"{where}: app setting '{name}' does not hold a storage connection string")
    return value
