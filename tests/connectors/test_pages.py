"""The connector web pages: shells for admins, 403 for members, 404 across organisations."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from connectors.models import Connection
from core.models import Membership, User

pytestmark = pytest.mark.django_db


def client_for(who: Membership | User) -> Client:
    client = Client()
    client.force_login(who.user if isinstance(who, Membership) else who)
    return client


def config_of(html: str) -> dict:
    found = re.search(r'<script id="lc-config" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page passes its configuration as a json_script element"
    return json.loads(found.group(1))


def inline_scripts(html: str) -> list[str]:
    """Script elements that carry code: neither a src= nor a JSON data block."""
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    return [body for attrs, body in scripts if "src=" not in attrs and "json" not in attrs]


@pytest.fixture
def connection(org, owner):
    return Connection.objects.create(
        org=org,
        name="Tryton ERP",
        type="tryton",
        config={"url": "http://erp.example.com", "database": "tack", "username": "admin"},
        created_by=owner,
    )


def urls(org_id: int, connection: Connection) -> dict[str, str]:
    return {
        "connections": reverse("connectors:connections", args=[org_id]),
        "connection": reverse("connectors:connection", args=[org_id, connection.pk]),
        "scenarios": reverse("connectors:scenarios", args=[org_id]),
    }


def test_every_page_renders_for_an_admin_with_its_config_and_no_inline_script(
    org, admin, connection
):
    client = client_for(admin)
    for name, url in urls(org.pk, connection).items():
        response = client.get(url)
        assert response.status_code == 200, name
        html = response.content.decode()
        assert "connectors/connectors.js" in html and "connectors/connectors.css" in html, name
        assert "lowcode/lowcode.js" in html, name
        assert inline_scripts(html) == [], name
        assert " onclick=" not in html and " onload=" not in html, name
        config = config_of(html)
        assert config["page"] == name
        assert config["org_id"] == org.pk
        assert config["connectors_api"] == f"/api/v1/orgs/{org.pk}/connectors/"
        assert config["strings"]["sync_now"] == "Sync now"
        assert config["strings"]["load_error"], "the shared helpers' strings come along"
        assert config["max_attempts"] >= 1
        assert config["triggers"]["manual"] == "Sync now"
    detail = config_of(client.get(urls(org.pk, connection)["connection"]).content.decode())
    assert detail["connection_id"] == connection.pk
    scenarios = config_of(client.get(urls(org.pk, connection)["scenarios"]).content.decode())
    assert scenarios["openapi_url"] == f"/api/v1/orgs/{org.pk}/connectors/scenarios/openapi/"


def test_the_connection_page_never_shows_a_secret(org, owner, connection):
    connection.secrets = "never-in-the-page"
    connection.save()
    html = client_for(owner).get(urls(org.pk, connection)["connection"]).content.decode()
    assert "Tryton ERP" in html
    assert "never-in-the-page" not in html


def test_a_member_without_the_permission_gets_the_403_page(org, member, connection):
    client = client_for(member)
    for name, url in urls(org.pk, connection).items():
        response = client.get(url)
        assert response.status_code == 403, name
        assert "lc-config" not in response.content.decode(), name


def test_another_organisations_member_gets_404(org, connection, make_user, make_org):
    stranger = make_user("stranger@example.com")
    make_org("Elsewhere", owner=stranger)
    client = client_for(stranger)
    for name, url in urls(org.pk, connection).items():
        assert client.get(url).status_code == 404, name


def test_another_organisations_connection_is_404_for_an_admin(
    org, owner, connection, make_user, make_org
):
    other_owner = make_user("other-owner@example.com")
    other = make_org("Elsewhere", owner=other_owner)
    theirs = Connection.objects.create(
        org=other, name="Theirs", type="tryton", config={}, created_by=None
    )
    url = reverse("connectors:connection", args=[org.pk, theirs.pk])
    assert client_for(owner).get(url).status_code == 404
    missing = reverse("connectors:connection", args=[org.pk, 2**40])
    assert client_for(owner).get(missing).status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(org, connection):
    for name, url in urls(org.pk, connection).items():
        response = Client().get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("core:login")), name


def test_pages_only_answer_get(org, admin, connection):
    client = client_for(admin)
    for name, url in urls(org.pk, connection).items():
        assert client.post(url).status_code == 405, name


def test_launcher_and_home_tile_link_to_connectors_only_for_admins(org, admin, member):
    home = reverse("core:org_home", args=[org.pk])
    target = reverse("connectors:connections", args=[org.pk])
    assert f'href="{target}"' in client_for(admin).get(home).content.decode()
    assert f'href="{target}"' not in client_for(member).get(home).content.decode()
