"""The connectors API: catalogue, connections with masked secrets, streams, destinations,
sync runs; admins only; another organisation's objects are 404."""

from __future__ import annotations

import pytest
from django.test import override_settings

from connectors.actions import MASK, decrypt_secrets
from connectors.models import Connection, SyncRun
from lowcode.actions import do_create_app, do_update_app

PASSWORD = "erp-password-that-must-never-leak"
CONFIG = {"url": "http://127.0.0.1:9", "database": "erp", "username": "sync", "password": PASSWORD}


def url(org, path=""):
    return f"/api/v1/orgs/{org.pk}/connectors/{path}"


@pytest.fixture
def connection(org, owner, api):
    response = api(owner).post(
        url(org, "connections/"), {"type": "tryton", "name": "ERP", "config": CONFIG}, format="json"
    )
    assert response.status_code == 201, response.content
    return Connection.objects.get(pk=response.json()["id"])


def test_catalogue_lists_built_in_connectors_with_their_settings(org, owner, api):
    types = {t["type"]: t for t in api(owner).get(url(org, "types/")).json()}
    tryton = types["tryton"]
    assert tryton["origin"] == "built-in"
    assert tryton["spec"]["properties"]["password"]["x-secret"] is True
    assert {a["name"] for a in tryton["actions"]} >= {"create_party", "create_sale_order"}


def test_secrets_are_encrypted_masked_and_kept_when_masked(connection, org, owner, api):
    assert PASSWORD not in connection.secrets and PASSWORD not in str(connection.config)
    assert decrypt_secrets(connection.secrets) == {"password": PASSWORD}
    shown = api(owner).get(url(org, f"connections/{connection.pk}/")).json()
    assert shown["config"]["password"] == MASK
    assert PASSWORD not in str(api(owner).get(url(org, "connections/")).content)
    # Saving the form back with the mask keeps the secret; a new value replaces it.
    changed = api(owner).patch(
        url(org, f"connections/{connection.pk}/"),
        {"config": {**CONFIG, "password": MASK, "database": "erp2"}},
        format="json",
    )
    assert changed.status_code == 200
    connection.refresh_from_db()
    assert decrypt_secrets(connection.secrets) == {"password": PASSWORD}
    assert connection.config["database"] == "erp2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "nope", "config": {}}, "type"),
        ({"type": "tryton", "config": {"url": "http://x"}}, "config.database"),
        ({"type": "tryton", "config": {**CONFIG, "database": ""}}, "config.database"),
        ({"type": "tryton", "config": {**CONFIG, "extra": 1}}, "config"),
        (
            {"type": "tryton", "config": CONFIG, "schedule": "interval", "interval_minutes": 1},
            "interval_minutes",
        ),
        ({"type": "tryton", "config": CONFIG, "schedule": "cron", "cron": "* * * * *"}, "cron"),
        ({"type": "tryton", "config": CONFIG, "schedule": "cron", "cron": "nonsense"}, "cron"),
    ],
)
def test_invalid_configuration_is_400_with_the_reason(org, owner, api, body, field):
    response = api(owner).post(url(org, "connections/"), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Connection.objects.exists()


def test_a_bad_password_never_echoes_back(org, owner, api):
    response = api(owner).post(
        url(org, "connections/"),
        {"type": "tryton", "config": {**CONFIG, "password": 12345}},
        format="json",
    )
    assert response.status_code == 400
    assert "12345" not in response.content.decode()


def test_check_reports_an_unreachable_server_on_the_connection(connection, org, owner, api):
    checked = api(owner).post(url(org, f"connections/{connection.pk}/check/")).json()
    assert checked["last_check_ok"] is False
    assert "not reachable" in checked["last_check_message"]


def test_streams_destinations_and_sync_requests(connection, org, owner, api):
    streams = api(owner).get(url(org, f"connections/{connection.pk}/streams/")).json()
    assert "parties" in {s["name"] for s in streams}
    assert {"name", "type", "title"} <= set(streams[0]["fields"][0])
    app = do_create_app(owner, name="CRM")
    made = api(owner).post(
        url(org, f"connections/{connection.pk}/form-from-stream/"),
        {"stream": "parties", "app": app.pk},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["mapping"]["ext_name"] == "name"
    bad = api(owner).post(
        url(org, f"connections/{connection.pk}/destinations/"),
        {"stream": "parties", "form": made.json()["form_id"], "mapping": {"ext_name": "nope"}},
        format="json",
    )
    assert bad.status_code == 400 and "mapping.ext_name" in bad.json()["error"]["fields"]
    first = api(owner).post(url(org, f"connections/{connection.pk}/sync/"), {}, format="json")
    assert first.status_code == 201 and first.json()["state"] == "queued"
    again = api(owner).post(url(org, f"connections/{connection.pk}/sync/"), {}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    runs = api(owner).get(url(org, "runs/"), {"connection": connection.pk}).json()["results"]
    assert [r["id"] for r in runs] == [first.json()["id"]]
    cancelled = api(owner).post(url(org, f"runs/{first.json()['id']}/cancel/")).json()
    assert cancelled["state"] == "cancelled"
    assert api(owner).post(url(org, f"runs/{first.json()['id']}/cancel/")).status_code == 409


def test_sync_needs_a_destination(connection, org, owner, api):
    response = api(owner).post(url(org, f"connections/{connection.pk}/sync/"), {}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_destination"
    assert not SyncRun.objects.exists()


def test_members_cannot_manage_connections(connection, org, member, api):
    assert api(member).get(url(org, "connections/")).status_code == 403
    assert api(member).get(url(org, f"connections/{connection.pk}/")).status_code == 403
    assert (
        api(member)
        .post(url(org, "connections/"), {"type": "tryton", "config": CONFIG}, format="json")
        .status_code
        == 403
    )


def test_action_parameters_are_checked_before_calling_the_system(connection, org, owner, api):
    response = api(owner).post(
        url(org, f"connections/{connection.pk}/actions/"),
        {"action": "create_sale_order", "params": {"party": "x", "lines": []}},
        format="json",
    )
    assert response.status_code == 400
    assert "params.party" in response.json()["error"]["fields"]


@override_settings(TACK_CONNECTOR_PRIVATE_TARGETS=False)
def test_shared_deployments_refuse_private_targets(connection, org, owner, api):
    checked = api(owner).post(url(org, f"connections/{connection.pk}/check/")).json()
    assert checked["last_check_ok"] is False
    assert (
        "public" in checked["last_check_message"].lower() or "not" in checked["last_check_message"]
    )


def test_destination_into_an_app_i_cannot_manage_is_refused(
    connection, org, owner, admin, member, api
):
    """Connection managers still need the manage level of the app the data lands in."""
    from core.actions import do_set_role_grants

    do_set_role_grants(owner, "admin", {"lowcode.app.manage_all": False})
    app = do_create_app(member, name="Member's app")
    only_me = {"roles": [], "members": [member.pk], "departments": []}
    do_update_app(
        member, app, permissions={"submit": only_me, "view_all": only_me, "manage": only_me}
    )
    response = api(admin).post(
        url(org, f"connections/{connection.pk}/form-from-stream/"),
        {"stream": "parties", "app": app.pk},
        format="json",
    )
    assert response.status_code == 404  # an unpublished app of someone else: invisible
    assert not app.forms.exists()


def test_a_webhook_connection_shows_its_signing_secret_once(org, owner, api):
    body = {
        "type": "webhook",
        "name": "Shop",
        "config": {"streams": [{"name": "orders", "primary_key": "id"}]},
    }
    created = api(owner).post(url(org, "connections/"), body, format="json")
    assert created.status_code == 201, created.content
    secret = created.json()["issued"]["signing_secret"]
    assert len(secret) >= 30
    shown = api(owner).get(url(org, f"connections/{created.json()['id']}/")).content.decode()
    assert secret not in shown
    rotated = api(owner).post(url(org, f"connections/{created.json()['id']}/rotate-secret/"))
    assert rotated.status_code == 200 and rotated.json()["signing_secret"] != secret
    # A config update that leaves the secret out keeps it.
    connection = Connection.objects.get(pk=created.json()["id"])
    api(owner).patch(
        url(org, f"connections/{connection.pk}/"), {"config": body["config"]}, format="json"
    )
    connection.refresh_from_db()
    assert decrypt_secrets(connection.secrets)["signing_secret"] == rotated.json()["signing_secret"]


def test_runs_are_listed_newest_first(connection, org, owner, api):
    from django.db import transaction

    from connectors.actions import do_create_form_from_stream, do_request_sync

    do_create_form_from_stream(
        owner, connection, stream="parties", app=do_create_app(owner, name="CRM")
    )
    ids = []
    for _ in range(3):
        with transaction.atomic():
            run, _created = do_request_sync(owner, connection)
        SyncRun.objects.filter(pk=run.pk).update(state="succeeded")
        ids.append(run.pk)
    listed = api(owner).get(url(org, "runs/")).json()["results"]
    assert [r["id"] for r in listed] == sorted(ids, reverse=True)


def test_a_mapping_onto_a_field_of_the_wrong_type_is_refused(
    connection, org, owner, make_form, api
):
    form = make_form(
        [
            {"key": "when", "type": "date", "label": "When"},
            {"key": "name", "type": "text", "label": "Name"},
            {"key": "active", "type": "checkbox", "label": "Active"},
        ]
    )
    response = api(owner).post(
        url(org, f"connections/{connection.pk}/destinations/"),
        {
            "stream": "parties",
            "form": form.pk,
            "mapping": {"when": "active", "name": "name", "active": "name"},
        },
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"mapping.when", "mapping.active"}
    ok = api(owner).post(
        url(org, f"connections/{connection.pk}/destinations/"),
        {"stream": "parties", "form": form.pk, "mapping": {"name": "name", "active": "active"}},
        format="json",
    )
    assert ok.status_code == 201, ok.content
