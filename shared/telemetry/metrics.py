"""Herald's metrics: kept in process, always, for the Prometheus text of `GET /api/v1/metrics`.

The instruments are created with the first metric recorded (the first request or delivery), on
the meter provider start-up configured (`shared.telemetry.startup`), else on an SDK provider of
their own: a cold start that records nothing loads no SDK.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider, UpDownCounter

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_SECONDS_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SECONDS_HTTP = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
_SECONDS_LAG = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass(frozen=True)
class Instruments:
    deliveries: Counter
    attempt_duration: Histogram
    dispatch_lag: Histogram
    pending_retries: UpDownCounter
    exhausted: Counter
    store_operations: Counter
    store_duration: Histogram
    api_requests: Counter
    api_duration: Histogram


_meter_provider: MeterProvider | None = None
_registry: Any = None  # the prometheus_client CollectorRegistry behind /api/v1/metrics
_lock = threading.Lock()
_instruments: Instruments | None = None
# Per process: the breaker and the poison-queue probe report here, the gauges read it.
_open_circuits: set[str] = set()
_poison_depth: int | None = None


def prometheus_reader() -> Any:
    """The reader behind /api/v1/metrics, on a registry of Herald's own (not prometheus_client's
    global one); start-up hands it to the meter provider it configures."""
    global _registry
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import CollectorRegistry

    _registry = CollectorRegistry(auto_describe=False)
    return PrometheusMetricReader(disable_target_info=True, scope_info_enabled=False, registry=_registry)


def use_meter_provider(provider: MeterProvider) -> None:
    """The provider start-up configured (with a `prometheus_reader`): the instruments go on it."""
    global _meter_provider
    _meter_provider = provider


def instruments() -> Instruments:
    """The instruments, created with the first metric recorded (the first request or delivery)."""
    global _instruments, _meter_provider
    if _instruments is not None:
        return _instruments
    with _lock:
        if _instruments is None:
            if _meter_provider is None:
                from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider

                _meter_provider = SdkMeterProvider(metric_readers=[prometheus_reader()])
            _instruments = _create_instruments(_meter_provider)
    return _instruments


def _create_instruments(provider: MeterProvider) -> Instruments:
    from opentelemetry.metrics import Observation

    meter = provider.get_meter("herald")

    def open_circuits(_: Any) -> list[Observation]:
        return [Observation(len(_open_circuits))]

    def poison_depth(_: Any) -> list[Observation]:
        return [] if _poison_depth is None else [Observation(_poison_depth)]

    meter.create_observable_gauge(
        "herald.circuits.open", [open_circuits], description="Endpoints whose circuit is open."
    )
    meter.create_observable_gauge(
        "herald.inbound.poison_depth",
        [poison_depth],
        description="Approximate message count of the herald-inbound-poison queue.",
    )
    return Instruments(
        deliveries=meter.create_counter(
            "herald.deliveries", description="Webhook delivery attempts, by outcome (success | failure)."
        ),
        attempt_duration=meter.create_histogram(
            "herald.attempt.duration",
            unit="s",
            description="Duration of webhook requests, by outcome.",
            explicit_bucket_boundaries_advisory=_SECONDS_HTTP,
        ),
        dispatch_lag=meter.create_histogram(
            "herald.dispatch.lag",
            unit="s",
            description="From a message's timestamp to its first attempt to an endpoint.",
            explicit_bucket_boundaries_advisory=_SECONDS_LAG,
        ),
        pending_retries=meter.create_up_down_counter(
            "herald.retries.pending", description="Retry workflows started and not yet finished."
        ),
        exhausted=meter.create_counter(
            "herald.exhausted",
            description="Message-endpoint pairs that used their whole retry schedule without success.",
        ),
        store_operations=meter.create_counter(
            "herald.store.operations",
            description="Cosmos DB and Durable (Storage) operations, by container, operation and outcome.",
        ),
        store_duration=meter.create_histogram(
            "herald.store.duration",
            unit="s",
            description="Duration of store operations, by container and operation.",
            explicit_bucket_boundaries_advisory=_SECONDS_FAST,
        ),
        api_requests=meter.create_counter(
            "herald.api.requests", description="API requests, by route, method and status."
        ),
        api_duration=meter.create_histogram(
            "herald.api.duration",
            unit="s",
            description="Duration of API requests, by route and method.",
            explicit_bucket_boundaries_advisory=_SECONDS_HTTP,
        ),
    )


def prometheus_text() -> str:
    """The in-process metrics in the Prometheus text exposition format (0.0.4)."""
    from prometheus_client import generate_latest

    instruments()
    return generate_latest(_registry).decode("utf-8")


def record_circuit(endpoint_id: str, open: bool) -> None:
    """The delivery circuit breaker reports each endpoint's circuit as it opens and closes."""
    instruments()
    if open:
        _open_circuits.add(endpoint_id)
    else:
        _open_circuits.discard(endpoint_id)


def record_poison_depth(depth: int) -> None:
    global _poison_depth
    instruments()
    _poison_depth = depth


def record_api_request(route: str, method: str, status: int, seconds: float) -> None:
    measured = instruments()
    measured.api_requests.add(1, {"route": route, "method": method, "status": status})
    measured.api_duration.record(seconds, {"route": route, "method": method})


def record_retries_started(count: int = 1) -> None:
    instruments().pending_retries.add(count)


def record_retry_finished(status: str) -> None:
    """A retry workflow's last attempt is done: `status` is the pair's (success, fail, canceled)."""
    measured = instruments()
    measured.pending_retries.add(-1)
    if status == "fail":
        measured.exhausted.add(1)


@dataclass
class StoreOperation:
    """One store request being measured; the store sets `outcome` when it is not a success."""

    outcome: str = "success"


@contextmanager
def store_operation(container: str, operation: str) -> Iterator[StoreOperation]:
    """Counts and times one store request (a Cosmos DB call, or a Durable client call)."""
    measured = StoreOperation()
    started = time.perf_counter()
    try:
        yield measured
    except BaseException:
        if measured.outcome == "success":
            measured.outcome = "error"
        raise
    finally:
        recorded = instruments()
        recorded.store_operations.add(
            1, {"container": container, "operation": operation, "outcome": measured.outcome}
        )
        recorded.store_duration.record(
            time.perf_counter() - started, {"container": container, "operation": operation}
        )
