"""The durable client binding's value and the management URLs it advertises.

The value is the JSON the Durable extension gives a ``durableClient`` input; ``rpcBaseUrl`` points
at devhost itself, so the SDK's own ``DurableOrchestrationClient`` talks to devhost unchanged.
"""

from __future__ import annotations

import json
from urllib.parse import quote

# The extension's placeholder for the instance id; the SDK substitutes it in every URL.
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
# devhost accepts any key, as Core Tools does; the URLs carry one because clients expect it.
LOCAL_KEY = "devhost"
CONNECTION_NAME = "Storage"
# The paths both address families are served under.
PUBLIC_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask"


def management_urls(base_url: str, hub: str, instance_id: str) -> dict[str, str]:
    """The extension's HttpManagementPayload for one instance (placeholder or real id)."""
    instance = f"{base_url}/instances/{instance_id}"
    query = f"taskHub={quote(hub)}&connection={CONNECTION_NAME}&code={LOCAL_KEY}"
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{instance}?{query}",
        "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{instance}?{query}",
        "restartPostUri": f"{instance}/restart?{query}",
        "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
    }


def client_binding_value(*, origin: str, rpc_origin: str, hub: str) -> str:
    """The ``durableClient`` input: public URLs at ``origin``, the client's calls to ``rpc_origin``.

    Both are ``http://host:port``; the RPC endpoint is a loopback port of its own, as the Durable
    extension's is, so clients work as soon as the engine runs, before the app's port listens.
    """
    base_url = f"{origin}{PUBLIC_PATH}"
    create = f"{base_url}/orchestrators/{{functionName}}[/{{instanceId}}]"
    return json.dumps(
        {
            "taskHubName": hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{create}?code={LOCAL_KEY}",
                "createAndWaitOnNewInstancePostUri": (
                    f"{create}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&code={LOCAL_KEY}"
                ),
            },
            "managementUrls": management_urls(base_url, hub, INSTANCE_ID_PLACEHOLDER),
            "baseUrl": base_url,
            "requiredQueryStringParameters": f"code={LOCAL_KEY}",
            "rpcBaseUrl": f"{rpc_origin}{RPC_PATH}/",
        }
    )
