"""The low-code web pages: shells for the right member, 404 across organisations, 403 by level."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from core.models import Membership, User
from lowcode.actions import do_create_app, do_create_form, do_save_lookup

pytestmark = pytest.mark.django_db

FIELDS = [
    {"key": "batch", "type": "text", "label": "Batch number", "indexed": True},
    {
        "key": "grade",
        "type": "single_select",
        "label": "Grade",
        "options": {"choices": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]},
    },
]


def client_for(who: Membership | User) -> Client:
    client = Client()
    client.force_login(who.user if isinstance(who, Membership) else who)
    return client


def config_of(html: str) -> dict:
    found = re.search(r'<script id="lc-config" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page passes its configuration as a json_script element"
    return json.loads(found.group(1))


@pytest.fixture
def form(make_form):
    return make_form(FIELDS)


@pytest.fixture
def lookup(owner, form):
    return do_save_lookup(owner, form, name="Find a batch", input_field="batch", columns=["batch"])


def urls(org_id: int, form, lookup) -> dict[str, str]:
    return {
        "apps": reverse("lowcode:apps", args=[org_id]),
        "app": reverse("lowcode:app", args=[org_id, form.app_id]),
        "designer": reverse("lowcode:designer", args=[org_id, form.pk]),
        "fill": reverse("lowcode:fill", args=[org_id, form.pk]),
        "records": reverse("lowcode:records", args=[org_id, form.pk]),
        "lookup": reverse("lowcode:lookup", args=[org_id, lookup.pk]),
        "approvals": reverse("lowcode:approvals", args=[org_id]),
    }


def test_every_page_renders_for_the_app_owner_with_its_script_and_config(org, owner, form, lookup):
    client = client_for(owner)
    scripts = {
        "apps": "lowcode/apps.js",
        "app": "lowcode/app.js",
        "designer": "lowcode/designer.js",
        "fill": "lowcode/fill.js",
        "records": "lowcode/records.js",
        "lookup": "lowcode/lookup.js",
        "approvals": "lowcode/approvals.js",
    }
    for name, url in urls(org.pk, form, lookup).items():
        response = client.get(url)
        assert response.status_code == 200, name
        html = response.content.decode()
        assert scripts[name] in html and "lowcode/lowcode.css" in html, name
        config = config_of(html)
        assert config["org_id"] == org.pk
        assert config["lowcode_api"] == f"/api/v1/orgs/{org.pk}/lowcode/"
        assert config["strings"]["submit"] == "Submit"
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (name, tag)
        assert not re.search(r'(src|href)="(https?:)?//', html), name


def test_page_configs_carry_what_each_script_needs(org, owner, form, lookup):
    client = client_for(owner)
    fill = config_of(
        client.get(reverse("lowcode:fill", args=[org.pk, form.pk]) + "?batch=B-7").content.decode()
    )
    assert fill["form_id"] == form.pk and fill["prefill"] == {"batch": "B-7"}
    records = config_of(
        client.get(reverse("lowcode:records", args=[org.pk, form.pk])).content.decode()
    )
    assert records["export_url"] == f"/api/v1/orgs/{org.pk}/lowcode/forms/{form.pk}/export/"
    assert set(records["levels"]) == {"submit", "view_all", "manage"}
    found = config_of(
        client.get(reverse("lowcode:lookup", args=[org.pk, lookup.pk]) + "?q=B-7").content.decode()
    )
    assert (found["lookup_id"], found["form_id"], found["query"]) == (lookup.pk, form.pk, "B-7")
    inbox = config_of(
        client.get(
            reverse("lowcode:approvals", args=[org.pk]) + "?box=done&open=9"
        ).content.decode()
    )
    assert (inbox["box"], inbox["open"]) == ("done", 9)
    odd = config_of(
        client.get(reverse("lowcode:approvals", args=[org.pk]) + "?box=x&open=-1").content.decode()
    )
    assert (odd["box"], odd["open"]) == ("todo", None)


def test_records_page_includes_the_import_dialog_for_managers_only(org, owner, member, form):
    url = reverse("lowcode:records", args=[org.pk, form.pk])
    assert "data-lc-import" in client_for(owner).get(url).content.decode()
    response = client_for(member).get(url)
    assert response.status_code == 200
    assert "data-lc-import" not in response.content.decode()


def test_another_organisations_member_gets_404_on_every_page(org, outsider, form, lookup):
    client = client_for(outsider)
    for name, url in urls(org.pk, form, lookup).items():
        assert client.get(url).status_code == 404, name


def test_ids_of_another_organisation_are_404_even_in_my_own(org, outsider, form, lookup):
    """My organisation in the URL, another organisation's app/form/lookup id: 404."""
    mine = outsider.org_id
    client = client_for(outsider)
    for url in [
        reverse("lowcode:app", args=[mine, form.app_id]),
        reverse("lowcode:designer", args=[mine, form.pk]),
        reverse("lowcode:fill", args=[mine, form.pk]),
        reverse("lowcode:records", args=[mine, form.pk]),
        reverse("lowcode:lookup", args=[mine, lookup.pk]),
    ]:
        assert client.get(url).status_code == 404, url


def test_levels_decide_designer_and_lookup_access(org, member, form, lookup):
    """A plain member may submit (fill, own records) but not design or use lookups."""
    client = client_for(member)
    assert client.get(reverse("lowcode:fill", args=[org.pk, form.pk])).status_code == 200
    assert client.get(reverse("lowcode:records", args=[org.pk, form.pk])).status_code == 200
    assert client.get(reverse("lowcode:app", args=[org.pk, form.app_id])).status_code == 200
    assert client.get(reverse("lowcode:designer", args=[org.pk, form.pk])).status_code == 403
    assert client.get(reverse("lowcode:lookup", args=[org.pk, lookup.pk])).status_code == 403


def test_guest_without_a_grant_cannot_see_the_app_at_all(org, guest, form, lookup):
    client = client_for(guest)
    assert client.get(reverse("lowcode:apps", args=[org.pk])).status_code == 200
    for name in ("app", "designer", "fill", "records", "lookup"):
        assert client.get(urls(org.pk, form, lookup)[name]).status_code == 404, name


def test_unpublished_app_is_hidden_from_members_but_open_to_its_manager(org, owner, member):
    app = do_create_app(owner, name="Draft app")
    form = do_create_form(owner, app, name="Draft form", fields=FIELDS)
    assert client_for(member).get(reverse("lowcode:app", args=[org.pk, app.pk])).status_code == 404
    response = client_for(owner).get(reverse("lowcode:fill", args=[org.pk, form.pk]))
    assert response.status_code == 200
    assert "This form has not been published yet." in response.content.decode()


def test_signed_out_visitors_are_sent_to_log_in(org, form):
    response = Client().get(reverse("lowcode:apps", args=[org.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_main_navigation_links_to_apps(org, member):
    html = client_for(member).get(reverse("core:org_home", args=[org.pk])).content.decode()
    assert f'href="{reverse("lowcode:apps", args=[org.pk])}"' in html


def test_pages_and_strings_are_translated_to_simplified_chinese(org, owner, form):
    owner.user.locale = "zh-hans"
    owner.user.save(update_fields=["locale"])
    client = client_for(owner)
    client.cookies["django_language"] = "zh-hans"
    response = client.get(
        reverse("lowcode:fill", args=[org.pk, form.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
