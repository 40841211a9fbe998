"""Outgoing requests to user-supplied URLs: refuse targets inside our own network.

A URL that a user gives us (a bot's outgoing URL, say) must not make the server call
itself, its cloud metadata service (169.254.169.254) or anything else on a private
network: that is server-side request forgery. ``check_public_url`` resolves the host and
refuses the URL unless *every* address it resolves to is globally routable.
``resolve_public_address`` does the same and returns one vetted address, so the caller
can connect to exactly that address instead of resolving the name a second time (which
an attacker's DNS server could answer differently: DNS rebinding).

``settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS`` lifts the address check (scheme and host
are still checked), for a demo or test bot on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import NoReturn
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# IPv6 ranges that carry an IPv4 address the traffic may end up at.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UnresolvableHost(ValidationFailed):
    """The host name does not resolve (now): perhaps a passing DNS failure."""


class NonPublicAddress(ValidationFailed):
    """The host resolves to at least one address that is not globally routable."""


def private_targets_allowed() -> bool:
    return bool(getattr(settings, "TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS", False))


def is_public_address(ip: IPAddress) -> bool:
    """Whether ``ip`` is globally routable: not loopback, private, link-local, multicast,
    reserved, unspecified, shared (CGNAT), documentation, … nor an IPv6 form of one."""
    if (
        not ip.is_global
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    ):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:  # 2002:7f00:1::
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:  # 2001:0::/32 (server, client)
            embedded.extend(ip.teredo)
        if ip in _NAT64:  # 64:ff9b::7f00:1
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if not all(is_public_address(v4) for v4 in embedded):
            return False
    return True


def _refuse(message: str, field: str, cls: type[ValidationFailed] = ValidationFailed) -> NoReturn:
    raise cls(message, fields={field: [message]})


def _split(url: str, field: str) -> tuple[SplitResult, str, int]:
    """The parsed URL, its host name (no brackets) and its port, or ValidationFailed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        _refuse(_("The URL is not valid."), field)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        _refuse(_("The URL must be an http or https address."), field)
    host = parts.hostname or ""
    if not host:
        _refuse(_("The URL has no host."), field)
    return parts, host, port or DEFAULT_PORTS[parts.scheme.lower()]


def _resolve(host: str, port: int, field: str) -> list[IPAddress]:
    """Every address ``host`` resolves to, in resolver order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        infos = []
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        try:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        except ValueError:
            continue
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        _refuse(_("The URL's host name does not resolve."), field, UnresolvableHost)
    return addresses


def _vetted_addresses(url: str, field: str) -> list[IPAddress]:
    _parts, host, port = _split(url, field)
    addresses = _resolve(host, port, field)
    if not private_targets_allowed() and not all(is_public_address(a) for a in addresses):
        _refuse(
            _(
                "The URL must point to a public internet address, "
                "not to a private, local or reserved one."
            ),
            field,
            NonPublicAddress,
        )
    return addresses


def check_public_url(url: str, *, field: str = "outgoing_url") -> None:
    """Refuse (``ValidationFailed`` on ``field``) a URL that is not http(s), has no host,
    does not resolve, or resolves to any address that is not globally routable.

    Raises the subclass ``UnresolvableHost`` when resolution fails (callers may treat it as
    passing) and ``NonPublicAddress`` for a non-public address.
    """
    _vetted_addresses(url, field)


def resolve_public_address(url: str, *, field: str = "outgoing_url") -> str:
    """Like ``check_public_url``, and return one vetted address of the URL's host to connect
    to (IPv6 without brackets)."""
    return str(_vetted_addresses(url, field)[0])
