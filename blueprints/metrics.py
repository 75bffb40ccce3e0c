"""Metrics: the Prometheus text of this process's metrics, and the probe of the poison queue's depth."""

import logging

import azure.functions as func

from blueprints._http import Call, RawReply, Reply, api_function
from shared import telemetry
from shared.scopes import Scope

bp = func.Blueprint()
log = logging.getLogger("herald.metrics")
# Every minute: the poison-queue alert (infra/modules/monitoring.bicep) looks at 15-minute windows.
POISON_PROBE_SCHEDULE = "0 */1 * * * *"


# Platform-wide figures, every tenant's work in them: for the operator, not a tenant's admin.
@api_function(bp, "metrics", "v1/metrics", ["GET"], scope=Scope.OPERATOR)
async def metrics(call: Call) -> Reply:
    # Per process: a scraper sees the instance that answered (Application Insights sees them all).
    return 200, RawReply(telemetry.PROMETHEUS_CONTENT_TYPE, telemetry.prometheus_text())


@bp.function_name("inbound_poison_probe")
@bp.timer_trigger(arg_name="timer", schedule=POISON_PROBE_SCHEDULE, run_on_startup=False)
async def inbound_poison_probe(timer: func.TimerRequest) -> None:
    """Publishes herald.inbound.poison_depth, the gauge the poison-queue alert reads."""
    from shared.probes import POISON_QUEUE, poison_depth

    with telemetry.store_operation(POISON_QUEUE, "get_properties"):
        depth = await poison_depth()
    telemetry.record_poison_depth(depth)
    if depth:
        log.warning("%d messages wait in %s", depth, POISON_QUEUE)
