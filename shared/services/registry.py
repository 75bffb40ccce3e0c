"""Wires the services to their adapters once per process (the composition of `shared/`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared import telemetry
from shared.auth import TokenValidator, jwks_source
from shared.delivery.lanes import OutboundLanes
from shared.outbound import GuardedClient
from shared.portal_tokens import PortalTokens, RevocationList, portal_signer
from shared.probes import Readiness, close_probe_clients
from shared.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from shared.secretbox import KeyProvider, SecretBox, key_provider, legacy_key_provider
from shared.services.applications import ApplicationService
from shared.services.attempt_stats import AttemptStatsService
from shared.services.attempts import AttemptService
from shared.services.background_tasks import BackgroundTaskService
from shared.services.breaker import CircuitBreaker
from shared.services.dead_letters import DeadLetterService
from shared.services.delivery import DeliveryService
from shared.services.dispatch import DispatchService
from shared.services.endpoint_health import EndpointHealthService
from shared.services.endpoints import EndpointService
from shared.services.environment import EnvironmentService
from shared.services.event_types import EventTypeService
from shared.services.examples import ExampleService
from shared.services.idempotency import IdempotencyService
from shared.services.inbound import InboundService
from shared.services.messages import MessageService
from shared.services.operational import OperationalEndpointService, OperationalEvents
from shared.services.portal_access import PortalAccessService
from shared.services.portal_config import PortalConfigService
from shared.services.purge import ContentPurgeService
from shared.services.recovery import RecoveryService
from shared.services.replay import ReplayService
from shared.services.resend import ManualAttempts, ResendService
from shared.services.statistics import StatisticsService
from shared.services.sweeper import Sweeper
from shared.settings import HeraldSettings, get_settings
from shared.store.base import DocumentStore
from shared.store.cosmos import get_store
from shared.store.joined import JoinedBatches
from shared.store.schema import OPERATIONAL_ENDPOINT_TYPE

log = logging.getLogger(__name__)

# How App Service passes on a Key Vault reference it could not resolve: as written.
_UNRESOLVED_REFERENCE = "@Microsoft.KeyVault("


@dataclass(frozen=True)
class Services:
    settings: HeraldSettings
    store: DocumentStore
    applications: ApplicationService
    endpoints: EndpointService
    event_types: EventTypeService
    messages: MessageService
    attempts: AttemptService
    idempotency: IdempotencyService
    dead_letters: DeadLetterService
    inbound: InboundService
    tokens: TokenValidator
    rate_limiter: RateLimiter
    delivery: DeliveryService
    sweeper: Sweeper
    # A message's first round and its retry workflows; the sweeper's finds too.
    dispatch: DispatchService
    operational_endpoints: OperationalEndpointService
    operational: OperationalEvents
    resend: ResendService
    background_tasks: BackgroundTaskService
    recovery: RecoveryService
    statistics: StatisticsService
    environment: EnvironmentService
    replay: ReplayService
    examples: ExampleService
    attempt_stats: AttemptStatsService
    purge: ContentPurgeService
    portal_access: PortalAccessService
    endpoint_health: EndpointHealthService
    portal_config: PortalConfigService
    # The pooled outbound client of operational events and manual attempts.
    http: GuardedClient
    # /api/v1/health/ready's verdict, probed at most once per HERALD_READINESS_CACHE_SECONDS.
    readiness: Readiness

    @classmethod
    def build(
        cls,
        store: DocumentStore,
        settings: HeraldSettings,
        *,
        keys: KeyProvider | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> Services:
        applications = ApplicationService(store, settings)
        secret_box = SecretBox(keys or key_provider(settings), legacy=legacy_key_provider(settings))
        http = GuardedClient(settings)
        # One set of outbound lanes per process: webhooks and operational events share them.
        lanes = OutboundLanes.from_settings(settings)
        operational_endpoints = OperationalEndpointService(
            EndpointService(store, secret_box, settings, kind=OPERATIONAL_ENDPOINT_TYPE)
        )
        operational = OperationalEvents(operational_endpoints, settings, http, applications, lanes)
        endpoints = EndpointService(store, secret_box, settings, events=operational)
        # One group commit for both writes of the message path: accepts and first rounds of
        # one application in flight together share requests.
        batches = JoinedBatches(store)
        messages = MessageService(store, settings, applications, endpoints, batches)
        idempotency = IdempotencyService(
            store,
            secret_box,
            ttl_seconds=settings.idempotency_ttl_seconds,
            wait_seconds=settings.idempotency_wait_seconds,
        )
        dead_letters = DeadLetterService(store, retention_days=settings.retention_days)
        limiter = rate_limiter or _rate_limiter(settings)
        attempts = AttemptService(store, applications, endpoints, messages, batches)
        background_tasks = BackgroundTaskService(
            store, retention_days=settings.retention_days, events=operational
        )
        event_types = EventTypeService(store)
        environment = EnvironmentService(store, settings, event_types)
        delivery = DeliveryService(
            store, settings, endpoints, attempts, limiter, events=operational, lanes=lanes
        )
        manual = ManualAttempts(delivery)
        sweeper = Sweeper(store, settings, attempts)
        portal_tokens = PortalTokens(
            portal_signer(settings), RevocationList(store), leeway_seconds=settings.auth_leeway_seconds
        )
        return cls(
            settings=settings,
            store=store,
            applications=applications,
            endpoints=endpoints,
            event_types=event_types,
            messages=messages,
            attempts=attempts,
            idempotency=idempotency,
            dead_letters=dead_letters,
            inbound=InboundService(messages, dead_letters),
            tokens=TokenValidator(settings, jwks_source(settings), portal=portal_tokens),
            rate_limiter=limiter,
            delivery=delivery,
            sweeper=sweeper,
            dispatch=DispatchService(delivery, sweeper),
            operational_endpoints=operational_endpoints,
            operational=operational,
            resend=ResendService(messages, endpoints, manual),
            background_tasks=background_tasks,
            recovery=RecoveryService(store, settings, applications, endpoints, background_tasks, manual),
            statistics=StatisticsService(store, applications, endpoints, background_tasks),
            environment=environment,
            replay=ReplayService(store, settings, applications, endpoints, background_tasks, manual),
            examples=ExampleService(applications, endpoints, event_types, messages),
            attempt_stats=AttemptStatsService(
                store, applications, endpoints, retention_days=settings.retention_days
            ),
            purge=ContentPurgeService(store, applications, messages, background_tasks),
            portal_access=PortalAccessService(applications, portal_tokens),
            endpoint_health=EndpointHealthService(endpoints, CircuitBreaker(store, settings)),
            portal_config=PortalConfigService(environment, settings),
            http=http,
            readiness=Readiness(store, settings),
        )

    async def close(self) -> None:
        """Lets the background dispatches started so far finish, then closes the outbound HTTP clients
        and the probes' (the store belongs to whoever created it)."""
        await self.dispatch.settle()
        await self.delivery.close()
        await self.operational.drain()
        await self.http.close()
        await close_probe_clients()


def _rate_limiter(settings: HeraldSettings) -> RateLimiter:
    url = settings.redis_url
    if url and url.startswith(_UNRESOLVED_REFERENCE):
        # In Azure the URL is a Key Vault reference; until the platform resolves it (the role on
        # the secret can take minutes to apply) Herald runs as with an unreachable Redis.
        log.warning("HERALD_REDIS_URL is an unresolved Key Vault reference: rate limits are per process")
        url = None
    return RedisRateLimiter(url) if url else MemoryRateLimiter()


_services: Services | None = None


async def get_services() -> Services:
    """The process's services; the store (and its one Cosmos client) is created on first use."""
    global _services
    if _services is None:
        settings = get_settings()
        telemetry.set_log_level(settings.log_level)
        _services = Services.build(await get_store(settings), settings)
    return _services
