"""Where connectors may connect.

An ERP or a legacy database usually sits on the customer's private network, so a
self-hosted Tack must reach private addresses. A shared (multi-tenant) deployment must
not let one organisation's connector probe the platform's own network: there,
``TACK_CONNECTOR_PRIVATE_TARGETS = False`` applies the same check as outgoing webhooks
(``core.netguard``: every resolved address must be public). Link-local addresses (cloud
metadata services) are refused either way.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from connectors.registries import ConfigError, TransientError
from core.errors import ValidationFailed
from core.netguard import UnresolvableHost, check_public_url


def private_targets_allowed() -> bool:
    return bool(getattr(settings, "TACK_CONNECTOR_PRIVATE_TARGETS", True))


def check_host(host: str, port: int) -> None:
    """Refuse link-local targets always, and non-public ones when the setting says so."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise TransientError(f"The host {host} does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address.is_link_local:
            raise ConfigError(f"{host} resolves to a link-local address; refused.")
    if not private_targets_allowed():
        check_public_url(f"http://{host}:{port}/", field="host")


def check_target(url: str, *, field: str = "url") -> None:
    """A connector URL: http(s), a host, and an allowed address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"The {field} must be an http or https URL.")
    try:
        check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except UnresolvableHost as exc:
        raise TransientError(exc.message) from exc
    except ValidationFailed as exc:
        raise ConfigError(exc.message) from exc
