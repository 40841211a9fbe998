"""core.netguard: user-supplied URLs may only reach public internet addresses.

IP literals need no network; host names are resolved through a patched
``socket.getaddrinfo`` (there is no internet here, and tests must not depend on it).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from core import netguard
from core.errors import ValidationFailed

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


@pytest.fixture
def guarded(settings):
    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = False
    return settings


def fake_dns(monkeypatch, table: dict[str, list[str]]) -> list[str]:
    """Answer getaddrinfo from ``table``; unknown names fail as a resolver would."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        asked.append(host)
        if host not in table:
            try:  # IP literals still work, without the network
                return real(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
            except socket.gaierror:
                pass
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in table[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:6379/",
        "http://localhost/hook",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",  # shared address space (CGNAT)
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 around 169.254.169.254
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.1/",
        "ftp://93.184.216.34/",
        "file:///etc/passwd",
        "gopher://93.184.216.34/",
        "http:///no-host",
        "http://",
        "not a url",
        "http://[::1/",
    ],
)
def test_private_local_and_malformed_targets_are_refused(guarded, url):
    with pytest.raises(ValidationFailed) as caught:
        netguard.check_public_url(url)

    assert "outgoing_url" in caught.value.fields
    assert not isinstance(caught.value, netguard.UnresolvableHost)  # refused for what it is
    with pytest.raises(ValidationFailed):
        netguard.resolve_public_address(url)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        (f"http://{PUBLIC_V4}/", PUBLIC_V4),
        (f"https://{PUBLIC_V4}:8443/hook?x=1", PUBLIC_V4),
        (f"http://[{PUBLIC_V6}]/", PUBLIC_V6),
    ],
)
def test_public_literals_are_accepted_without_the_network(guarded, url, address):
    netguard.check_public_url(url)

    assert netguard.resolve_public_address(url) == address


def test_the_caller_names_the_field(guarded):
    with pytest.raises(ValidationFailed) as caught:
        netguard.check_public_url("http://127.0.0.1/", field="callback_url")

    assert list(caught.value.fields) == ["callback_url"]


def test_a_host_name_is_checked_by_what_it_resolves_to(guarded, monkeypatch):
    asked = fake_dns(
        monkeypatch,
        {"bot.example.com": [PUBLIC_V4], "metadata.example.com": ["169.254.169.254"]},
    )

    netguard.check_public_url("https://bot.example.com/tack")
    assert netguard.resolve_public_address("https://bot.example.com/tack") == PUBLIC_V4
    with pytest.raises(netguard.NonPublicAddress):
        netguard.check_public_url("https://metadata.example.com/")
    assert "bot.example.com" in asked and "metadata.example.com" in asked


def test_a_host_with_one_private_address_among_public_ones_is_refused(guarded, monkeypatch):
    fake_dns(monkeypatch, {"mixed.example.com": [PUBLIC_V4, PUBLIC_V6, "10.1.2.3"]})

    with pytest.raises(netguard.NonPublicAddress):
        netguard.check_public_url("http://mixed.example.com/")
    with pytest.raises(netguard.NonPublicAddress):
        netguard.resolve_public_address("http://mixed.example.com/")


def test_a_host_resolving_to_a_mapped_loopback_address_is_refused(guarded, monkeypatch):
    fake_dns(monkeypatch, {"sneaky.example.com": ["::ffff:127.0.0.1"]})

    with pytest.raises(netguard.NonPublicAddress):
        netguard.check_public_url("http://sneaky.example.com/")


def test_an_unresolvable_host_is_refused_as_such(guarded, monkeypatch):
    fake_dns(monkeypatch, {})

    with pytest.raises(netguard.UnresolvableHost) as caught:
        netguard.check_public_url("http://nowhere.invalid/")

    assert isinstance(caught.value, ValidationFailed)
    assert "outgoing_url" in caught.value.fields


def test_the_setting_allows_private_targets(settings, monkeypatch):
    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = True
    fake_dns(monkeypatch, {"localhost": ["127.0.0.1"]})

    netguard.check_public_url("http://127.0.0.1:8000/hook")
    netguard.check_public_url("http://localhost/hook")
    assert netguard.resolve_public_address("http://127.0.0.1:8000/") == "127.0.0.1"
    # Scheme and host are still checked.
    with pytest.raises(ValidationFailed):
        netguard.check_public_url("ftp://127.0.0.1/")
    with pytest.raises(ValidationFailed):
        netguard.check_public_url("http:///x")
