"""The SSRF guard: which URLs Herald may send webhooks to, checked on save and again on connect.

A webhook sender makes requests to URLs strangers supply, from inside a cloud network. So: only
http(s) (http only when allowed), only ports 80/443 or explicitly allowed ones, and never an address
in a private, loopback, link-local, shared, multicast or reserved range, nor Azure's platform
address. Every address a name resolves to is checked, the connection goes to a checked address
(no second lookup for DNS rebinding to exploit), and redirects are never followed.
`HERALD_DELIVERY_ALLOWED_CIDRS` exempts ranges (local development and tests use loopback).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from shared.settings import HeraldSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "168.63.129.16/32",  # Azure WireServer / platform DNS
        "169.254.0.0/16",  # link-local, cloud instance metadata
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",  # unspecified
        "::1/128",  # loopback
        "64:ff9b::/96",  # NAT64 (embeds IPv4)
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4 (embeds IPv4)
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
)
DEFAULT_PORTS = {"http": 80, "https": 443}
DNS_TIMEOUT_SECONDS = 3.0
# Host spellings that the C resolver reads as IPv4 (2130706433, 0177.0.0.1, 0x7f.1): only digits,
# dots and hex markers. Such a host is checked as the address it denotes.
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)


class RefusedTargetError(Exception):
    """The URL or one of its addresses may not be sent to; the message says why (no secrets)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def _allowed(address: IPAddress, settings: HeraldSettings) -> bool:
    return any(address in network for network in _networks(tuple(settings.delivery_allowed_cidrs)))


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    # Parsed once: every delivery checks its target against them.
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def check_address(address: IPAddress, settings: HeraldSettings) -> None:
    if _allowed(address, settings):
        return
    # IPv4-mapped IPv6 (::ffff:127.0.0.1) is the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        check_address(address.ipv4_mapped, settings)
        return
    if any(address in network for network in REFUSED_NETWORKS if network.version == address.version):
        raise RefusedTargetError(f"The address {address} is in a range webhooks may not be sent to.")


def literal_address(host: str) -> IPAddress | None:
    """The address a host denotes without DNS, in any spelling the resolver would accept."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def parse_target(url: str, settings: HeraldSettings) -> Target:
    """Scheme, host and port of a webhook URL, refusing what is refused without any lookup."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedTargetError("The URL cannot be parsed.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or (scheme == "http" and not settings.delivery_allow_http):
        allowed = "http or https" if settings.delivery_allow_http else "https"
        raise RefusedTargetError(f"Only {allowed} URLs are allowed.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise RefusedTargetError("The URL has no host.")
    try:
        # The resolver takes only names IDNA can encode; another name could never be sent to.
        host.encode("idna")
    except UnicodeError:
        raise RefusedTargetError("The URL's host is not a valid name.") from None
    if parts.username or parts.password:
        raise RefusedTargetError("URLs with credentials are not allowed; use custom headers.")
    target = Target(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme])
    address = literal_address(host)
    if address is not None:
        check_address(address, settings)
        check_port(target.port, [address], settings)
    return target


def check_port(port: int, addresses: list[IPAddress], settings: HeraldSettings) -> None:
    """Ports 80 and 443, or allowed ones; any port on exempted (allow-listed) addresses."""
    if port in (80, 443) or port in settings.delivery_allowed_ports:
        return
    if addresses and all(_allowed(address, settings) for address in addresses):
        return
    raise RefusedTargetError(f"Port {port} is not allowed.")


async def resolve_checked(host: str, port: int, settings: HeraldSettings) -> list[IPAddress]:
    """Every address of `host`, all checked; refuses the host if any one of them is refused."""
    literal = literal_address(host)
    if literal is not None:
        check_address(literal, settings)
        return [literal]
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=DNS_TIMEOUT_SECONDS
    )
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        check_address(address, settings)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise RefusedTargetError(f"The host {host} has no address.")
    check_port(port, addresses, settings)
    return addresses


async def check_endpoint_url(url: str, settings: HeraldSettings) -> None:
    """The check on save: the URL's form, and its addresses when the name resolves now.

    A name that does not resolve yet is accepted; every delivery checks it again on connect.
    """
    target = parse_target(url, settings)
    try:
        await resolve_checked(target.host, target.port, settings)
    except (OSError, TimeoutError):
        check_port(target.port, [], settings)


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that hands the connector only addresses the guard checked."""

    def __init__(self, settings: HeraldSettings) -> None:
        self._settings = settings

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        try:
            addresses = await resolve_checked(host, port, self._settings)
        except RefusedTargetError as exc:
            raise OSError(str(exc)) from exc
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET if address.version == 4 else socket.AF_INET6,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def guarded_session(settings: HeraldSettings, **session_options: Any) -> aiohttp.ClientSession:
    """An HTTP client whose every connection passes the guard. Callers pass allow_redirects=False."""
    # As large as the process's outbound lane (shared/delivery/lanes.py), which every request
    # passes first: the pool itself never queues one, so its timeout runs from when it is sent.
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(settings), limit=settings.outbound_connections, ttl_dns_cache=0
    )
    return aiohttp.ClientSession(connector=connector, **session_options)


async def guarded_request(
    session: aiohttp.ClientSession, method: str, url: str, settings: HeraldSettings, **options: Any
) -> aiohttp.ClientResponse:
    """One request through `session`, never following redirects, its URL checked first."""
    _check_url(url, settings)
    return await session.request(method, url, allow_redirects=False, **options)


# URLs that passed `parse_target` under a given policy. Every delivery checks its URL again; an
# accepted URL's verdict is remembered (a refusal is not), bounded like any per-process memory.
_accepted: dict[tuple[str, tuple[object, ...]], None] = {}
_ACCEPTED_MAX = 10_000


def _check_url(url: str, settings: HeraldSettings) -> None:
    policy = (
        settings.delivery_allow_http,
        tuple(settings.delivery_allowed_cidrs),
        tuple(settings.delivery_allowed_ports),
    )
    if (url, policy) in _accepted:
        return
    parse_target(url, settings)
    if len(_accepted) >= _ACCEPTED_MAX:
        _accepted.clear()
    _accepted[(url, policy)] = None


class GuardedClient:
    """One pooled guarded session per process, created inside the running event loop on first use."""

    def __init__(self, settings: HeraldSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = guarded_session(self._settings)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
