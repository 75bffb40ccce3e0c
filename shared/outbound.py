"""The SSRF guard: which URLs Herald may send webhooks to, checked on save and again on connect.

A webhook sender makes requests to URLs strangers supply, from inside a cloud network. So: only
http(s) (http only when allowed), only ports 80/443 or explicitly allowed ones, and only globally
routable addresses: never a private, loopback, link-local, shared, multicast, reserved or
documentation address, nor Azure's platform address, nor an IPv6 address that carries such an IPv4
address (mapped, compatible, NAT64, 6to4, Teredo).

The host is read as the HTTP client reads it: yarl (under aiohttp) encodes it with UTS46 (IDNA
2008), which maps, say, fullwidth digits or U+3002 to ASCII, so a host that looks like a name can
become an IP literal. The guard checks, and the endpoint stores, that encoded form. And the policy
is enforced where the connection is made: the connector's socket factory checks every address
(literal or resolved) and port before a socket exists, so no spelling reaches a socket unchecked.
Every address a name resolves to is checked, the connection goes to a checked address (no second
lookup for DNS rebinding to exploit), and redirects are never followed.
`HERALD_DELIVERY_ALLOWED_CIDRS` exempts ranges (local development and tests use loopback).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from shared.settings import HeraldSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Refused although Python's registry of special addresses (`is_global`) counts them as global.
ALSO_REFUSED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "168.63.129.16/32",  # Azure WireServer / platform DNS: public, but answers only inside Azure
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated): relays into whatever IPv4 it carries
        "fec0::/10",  # site-local (deprecated): may still route inside a network
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 segment identifiers (RFC 9602)
        # Local-use NAT64 (RFC 8215): translates into the operator's own IPv4 networks, at a
        # prefix length only the operator knows, so the IPv4 it carries cannot be read reliably.
        "64:ff9b:1::/48",
    )
)
# IPv6 addresses that are only another spelling of the IPv4 address in their last 32 bits.
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
DEFAULT_PORTS = {"http": 80, "https": 443}
DNS_TIMEOUT_SECONDS = 3.0
# Host spellings that the C resolver reads as IPv4 (2130706433, 0177.0.0.1, 0x7f.1): only digits,
# dots and hex markers.
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)
# A DNS name as the resolver takes it, once encoded: labels of 1-63 letters, digits, '-' or '_'.
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
MAX_NAME_LENGTH = 253


class RefusedTargetError(Exception):
    """The URL or one of its addresses may not be sent to; the message says why (no secrets)."""


class RefusedAddressError(RefusedTargetError, OSError):
    """Raised at connect time: aiohttp reports an OSError of its resolver or socket factory as a
    connection error, which carries this one (`os_error`) to the sender."""


@dataclass(frozen=True)
class Target:
    scheme: str
    # The host as the HTTP client encodes and connects to it (ASCII; IPv6 without brackets).
    host: str
    port: int
    # The whole URL in that form: what endpoints store, and exactly what the client will send.
    url: str


def _allowed(address: IPAddress, settings: HeraldSettings) -> bool:
    return any(address in network for network in _networks(tuple(settings.delivery_allowed_cidrs)))


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    # Parsed once: every delivery checks its target against them.
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _translated_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address merely spells (mapped, compatible, NAT64 well-known prefix)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _IPV4_COMPATIBLE or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _tunnelled_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a tunnelled IPv6 address carries (6to4, Teredo server and client)."""
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    return []


def _routable(address: IPAddress) -> bool:
    if address.is_multicast or any(address in net for net in ALSO_REFUSED if net.version == address.version):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        translated = _translated_ipv4(address)
        if translated is not None:
            return _routable(translated)
        if not all(_routable(carried) for carried in _tunnelled_ipv4(address)):
            return False
    return address.is_global


def check_address(address: IPAddress, settings: HeraldSettings) -> None:
    """Refuses an address that is not globally routable, unless an allowed range exempts it.

    The message never names the address: for a name, that would tell the caller what an internal
    name resolves to.
    """
    if _allowed(address, settings):
        return
    if isinstance(address, ipaddress.IPv6Address):
        translated = _translated_ipv4(address)
        if translated is not None and _allowed(translated, settings):
            return
    if not _routable(address):
        raise RefusedTargetError(
            "The host is, or resolves to, an address in a range webhooks may not be sent to "
            "(only public, globally routable addresses are allowed)."
        )


def literal_address(host: str) -> IPAddress | None:
    """The address a host denotes without DNS, in any spelling the resolver would accept."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _check_name(host: str) -> None:
    name = host[:-1] if host.endswith(".") else host
    if len(name) > MAX_NAME_LENGTH or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise RefusedTargetError("The URL's host is not a valid name.")


def parse_target(url: str, settings: HeraldSettings) -> Target:
    """Scheme, host and port of a webhook URL as the HTTP client reads them, refusing what is
    refused without any lookup."""
    try:
        parsed = yarl.URL(url)
        # The host as yarl encodes it (UTS46), which is the host aiohttp connects to.
        host = parsed.raw_host or ""
        port = parsed.port
    except ValueError:  # UnicodeError included: a host UTS46 cannot encode
        raise RefusedTargetError("The URL cannot be parsed.") from None
    scheme = parsed.scheme
    if scheme not in DEFAULT_PORTS or (scheme == "http" and not settings.delivery_allow_http):
        allowed = "http or https" if settings.delivery_allow_http else "https"
        raise RefusedTargetError(f"Only {allowed} URLs are allowed.")
    if not host:
        raise RefusedTargetError("The URL has no host.")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise RefusedTargetError("URLs with credentials are not allowed; use custom headers.")
    target = Target(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme], url=str(parsed))
    bare = host.rstrip(".")
    try:
        # Canonical literals only: dotted decimal IPv4 without leading zeros, or IPv6.
        address: IPAddress | None = ipaddress.ip_address(bare)
    except ValueError:
        address = None
    if address is None:
        if literal_address(bare) is not None:
            # 2130706433, 0x7f.1, 127.1: the C resolver reads these as addresses.
            raise RefusedTargetError("Write an IPv4 address as four decimal numbers (a.b.c.d).")
        if ":" in host:
            raise RefusedTargetError("The URL's host is not a valid address.")
        _check_name(host)
        return target
    if "%" in host:
        # An IPv6 zone (fe80::1%eth0) names an interface of Herald's own host.
        raise RefusedTargetError("The URL's host is not a valid address.")
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


async def check_endpoint_url(url: str, settings: HeraldSettings) -> str:
    """The check on save: the URL's form, and its addresses when the name resolves now.

    Returns the URL as the HTTP client will send it (host encoded as it encodes hosts): the form
    to store. A name that does not resolve yet is accepted; every delivery checks it again on
    connect.
    """
    target = parse_target(url, settings)
    try:
        await resolve_checked(target.host, target.port, settings)
    except RefusedTargetError:
        raise  # some are OSErrors too (RefusedAddressError): a refusal is never "does not resolve"
    except (OSError, TimeoutError):
        check_port(target.port, [], settings)
    return target.url


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that hands the connector only addresses the guard checked.

    aiohttp does not call a resolver for IP literals: those meet the guard in `_guarded_socket`.
    """

    def __init__(self, settings: HeraldSettings) -> None:
        self._settings = settings

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        try:
            addresses = await resolve_checked(host, port, self._settings)
        except RefusedTargetError as exc:
            raise RefusedAddressError(str(exc)) from None
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


def _guarded_socket(settings: HeraldSettings) -> Callable[[tuple[Any, ...]], socket.socket]:
    """The connector's socket factory: the last check, on the very address and port connected to.

    It runs for every connection attempt, whether the host was a name (resolved above) or an IP
    literal (never resolved), so no spelling of an address reaches a socket unchecked.
    """

    def create(addr_info: tuple[Any, ...]) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        try:
            check_address(address, settings)
            check_port(int(sockaddr[1]), [address], settings)
        except RefusedTargetError as exc:
            raise RefusedAddressError(str(exc)) from None
        return socket.socket(family=family, type=kind, proto=proto)

    return create


def guarded_session(settings: HeraldSettings, **session_options: Any) -> aiohttp.ClientSession:
    """An HTTP client whose every connection passes the guard. Callers pass allow_redirects=False."""
    # As large as the process's outbound lane (shared/delivery/lanes.py), which every request
    # passes first: the pool itself never queues one, so its timeout runs from when it is sent.
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(settings),
        socket_factory=_guarded_socket(settings),
        limit=settings.outbound_connections,
        ttl_dns_cache=0,
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
