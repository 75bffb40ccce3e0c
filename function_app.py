"""Herald's composition root: the Functions app and its blueprints, nothing more."""

import logging

import azure.durable_functions as df
import azure.functions as func

from blueprints import (
    applications,
    attempts,
    auth,
    background_tasks,
    dead_letters,
    endpoints,
    environment,
    event_types,
    health,
    inbound_queue,
    messages,
    metrics,
    not_served,
    operational_webhooks,
    portal,
    portal_config,
    recovery,
    replay,
    retries,
    statistics,
)
from shared import telemetry

# The Azure SDKs log every request's headers at INFO; warnings are what operators need.
logging.getLogger("azure").setLevel(logging.WARNING)
# JSON logs, and the OpenTelemetry exporters the environment names (none: no SDK is imported here).
telemetry.configure()

# Herald authenticates callers itself; the host's default (FUNCTION) would demand a function key.
app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (
    health.bp,
    applications.bp,
    endpoints.bp,
    event_types.bp,
    messages.bp,
    attempts.bp,
    dead_letters.bp,
    inbound_queue.bp,
    retries.bp,
    operational_webhooks.bp,
    recovery.bp,
    statistics.bp,
    environment.bp,
    replay.bp,
    background_tasks.bp,
    auth.bp,
    metrics.bp,
    not_served.bp,
    portal.bp,
    portal_config.bp,
):
    app.register_functions(blueprint)
