"""Destinations (pause, resume, delete) and scenario tokens (revoke) through the API;
admins only; another organisation's are 404 like missing ones."""

from __future__ import annotations

import pytest
from django.db import transaction

from connectors.actions import do_create_connection, do_create_form_from_stream, do_request_sync
from connectors.models import Destination, ScenarioToken, StreamState, SyncRun
from connectors.scenarios import do_create_scenario_token, do_save_scenario, token_for
from core.models import AuditLogEntry
from lowcode.actions import do_create_app
from lowcode.models import Record

CONFIG = {"url": "http://127.0.0.1:9", "database": "erp", "username": "sync", "password": "pw"}


def url(org, path=""):
    return f"/api/v1/orgs/{org.pk}/connectors/{path}"


def _destination(owner) -> Destination:
    connection = do_create_connection(owner, type="tryton", name="ERP", config=CONFIG)
    return do_create_form_from_stream(
        owner, connection, stream="parties", app=do_create_app(owner, name="CRM")
    )


def _token(owner):
    connection = do_create_connection(owner, type="tryton", name="ERP", config=CONFIG)
    steps = [
        {
            "id": "find",
            "connection": connection.pk,
            "action": "find_party",
            "params": {"name": "{{input.name}}"},
        }
    ]
    scenario = do_save_scenario(owner, {"name": "Lookup", "steps": steps})
    token, raw = do_create_scenario_token(owner, scenario, name="Shop")
    return scenario, token, raw


@pytest.mark.django_db
def test_a_destination_is_paused_resumed_and_deleted(org, owner, api):
    destination = _destination(owner)
    StreamState.objects.create(org=org, destination=destination, state={"cursor": [1]})
    path = url(org, f"destinations/{destination.pk}/")
    assert api(owner).get(path).json()["enabled"] is True
    paused = api(owner).patch(path, {"enabled": False}, format="json")
    assert paused.status_code == 200 and paused.json()["enabled"] is False
    destination.refresh_from_db()
    assert destination.enabled is False
    assert AuditLogEntry.objects.filter(action="connectors.destination.disable").count() == 1
    # A paused destination is not synced: with none enabled there is nothing to run.
    sync = api(owner).post(url(org, f"connections/{destination.connection_id}/sync/"), {})
    assert sync.status_code == 409 and sync.json()["error"]["code"] == "no_destination"
    bad = api(owner).patch(path, {"enabled": "sometimes"}, format="json")
    assert bad.status_code == 400 and "enabled" in bad.json()["error"]["fields"]
    assert api(owner).patch(path, {}, format="json").status_code == 400
    resumed = api(owner).patch(path, {"enabled": True}, format="json")
    assert resumed.json()["enabled"] is True
    form_id = destination.form_id
    assert api(owner).delete(path).status_code == 204
    assert not Destination.objects.filter(pk=destination.pk).exists()
    assert not StreamState.objects.filter(org=org).exists()
    assert destination.form.__class__.objects.filter(pk=form_id).exists()  # the form stays
    assert api(owner).get(path).status_code == 404
    assert AuditLogEntry.objects.filter(action="connectors.destination.delete").count() == 1


@pytest.mark.django_db
def test_a_destination_is_not_deleted_while_its_connection_syncs(org, owner, api):
    destination = _destination(owner)
    with transaction.atomic():  # the queued task would run on commit; tests never commit
        run, _created = do_request_sync(owner, destination.connection)
    refused = api(owner).delete(url(org, f"destinations/{destination.pk}/"))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "sync_running"
    assert Destination.objects.filter(pk=destination.pk).exists()
    SyncRun.objects.filter(pk=run.pk).update(state=SyncRun.State.SUCCEEDED)
    assert api(owner).delete(url(org, f"destinations/{destination.pk}/")).status_code == 204


@pytest.mark.django_db
def test_destinations_are_for_admins_and_other_orgs_get_404(
    org, owner, member, other_org, add_member, api
):
    destination = _destination(owner)
    path = url(org, f"destinations/{destination.pk}/")
    assert api(member).patch(path, {"enabled": False}, format="json").status_code == 403
    assert api(member).delete(path).status_code == 403
    stranger = add_member(other_org, "owner")
    theirs = f"/api/v1/orgs/{other_org.pk}/connectors/destinations/{destination.pk}/"
    assert api(stranger).get(theirs).status_code == 404
    assert api(stranger).patch(theirs, {"enabled": False}, format="json").status_code == 404
    assert api(stranger).delete(theirs).status_code == 404
    missing = f"/api/v1/orgs/{other_org.pk}/connectors/destinations/999999/"
    assert api(stranger).delete(missing).status_code == 404
    destination.refresh_from_db()
    assert destination.enabled is True
    assert Record.objects.count() == 0


@pytest.mark.django_db
def test_a_revoked_scenario_token_stops_working_and_stays_listed(org, owner, api):
    scenario, token, raw = _token(owner)
    assert token_for(raw, org.pk, scenario.slug) is not None
    revoked = api(owner).post(url(org, f"scenario-tokens/{token.pk}/revoke/"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert token_for(raw, org.pk, scenario.slug) is None
    run = api().post(
        url(org, f"scenarios/{scenario.slug}/run/"),
        {"name": "Acme"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert run.status_code == 401
    listed = api(owner).get(url(org, f"scenarios/{scenario.pk}/tokens/")).json()
    assert [t["revoked_at"] is not None for t in listed] == [True]
    again = api(owner).post(url(org, f"scenario-tokens/{token.pk}/revoke/"))
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert AuditLogEntry.objects.filter(action="connectors.scenario_token.revoke").count() == 1


@pytest.mark.django_db
def test_scenario_tokens_are_revoked_by_admins_of_their_org_only(
    org, owner, member, other_org, add_member, api
):
    scenario, token, raw = _token(owner)
    assert api(member).post(url(org, f"scenario-tokens/{token.pk}/revoke/")).status_code == 403
    stranger = add_member(other_org, "owner")
    theirs = f"/api/v1/orgs/{other_org.pk}/connectors/scenario-tokens/{token.pk}/revoke/"
    assert api(stranger).post(theirs).status_code == 404
    missing = f"/api/v1/orgs/{other_org.pk}/connectors/scenario-tokens/999999/revoke/"
    assert api(stranger).post(missing).status_code == 404
    assert ScenarioToken.objects.get(pk=token.pk).revoked_at is None
    assert token_for(raw, org.pk, scenario.slug) is not None


def test_running_a_scenario_as_a_person_obeys_the_ip_allowlist(api, owner):
    """A person's token runs scenarios under the organisation's security policy, like every
    other org route (a scenario token is the machine-to-machine way in)."""
    from core.security.actions import do_update_security_policy

    scenario, _token_row, _raw = _token(owner)
    do_update_security_policy(owner, {"ip_allowlist": ["127.0.0.0/8"]}, ip="127.0.0.1")
    run = url(owner.org, f"scenarios/{scenario.slug}/run/")

    refused = api(owner).post(run, {"name": "Acme"}, format="json", REMOTE_ADDR="198.51.100.7")

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ip_not_allowed"
