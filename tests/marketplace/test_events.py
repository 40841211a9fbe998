"""Platform events reach the apps that subscribed to them, with their scope, after commit."""

from __future__ import annotations

import pytest

from marketplace.models import WebhookDelivery

pytestmark = pytest.mark.django_db

FIELDS = [{"key": "batch", "type": "text", "label": "Batch"}]
SECRETISH = ("secret", "password", "whsec_", "token")


def _types(receiver) -> list[str]:
    return [b["type"] for b in receiver.bodies()]


def _no_secrets(receiver) -> None:
    for _headers, body, _path in receiver.requests:
        text = body.decode().lower()
        assert not any(word in text for word in SECRETISH), text


def test_lowcode_record_events(
    hooked_app, webhook_receiver, owner, make_form, django_capture_on_commit_callbacks
):
    from lowcode.actions import do_create_record, do_delete_record, do_update_record

    installation = hooked_app(
        ["lowcode.record.created", "lowcode.record.updated", "lowcode.record.deleted"]
    )
    form = make_form(FIELDS)
    # The app's account may read the form's records (see test_review_fixes for the refusal).
    form.app.permissions["view_all"]["members"].append(installation.app_member_id)
    form.app.save(update_fields=["permissions"])
    with django_capture_on_commit_callbacks(execute=True):
        record, _created = do_create_record(owner, form, {"batch": "A-1"})
    with django_capture_on_commit_callbacks(execute=True):
        do_update_record(owner, record, {"batch": "A-2"})
    with django_capture_on_commit_callbacks(execute=True):
        do_update_record(owner, record, {"batch": "A-2"})  # no change: no event
    with django_capture_on_commit_callbacks(execute=True):
        do_delete_record(owner, record)
    assert _types(webhook_receiver) == [
        "lowcode.record.created",
        "lowcode.record.updated",
        "lowcode.record.deleted",
    ]
    bodies = webhook_receiver.bodies()
    assert bodies[0]["data"]["record"]["data"] == {"batch": "A-1"}
    assert bodies[1]["data"]["record"]["data"] == {"batch": "A-2"}
    assert bodies[2]["data"]["record"]["deleted_at"] is not None
    assert {b["data"]["record"]["id"] for b in bodies} == {record.pk}
    _no_secrets(webhook_receiver)


def test_record_events_need_the_read_scope(
    hooked_app, webhook_receiver, owner, make_form, django_capture_on_commit_callbacks
):
    from lowcode.actions import do_create_record

    hooked_app(["lowcode.record.created"], granted=["core:member.read"])
    with django_capture_on_commit_callbacks(execute=True):
        do_create_record(owner, make_form(FIELDS), {"batch": "A-1"})
    assert webhook_receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_member_joined_and_left(
    hooked_app, webhook_receiver, owner, org, make_user, django_capture_on_commit_callbacks
):
    from core.actions import do_accept_invitation, do_invite_member, do_remove_member

    hooked_app(["core.member.joined", "core.member.left"])
    issued = do_invite_member(owner, email="joiner@a.test")
    user = make_user(email="joiner@a.test", name="Joiner")
    with django_capture_on_commit_callbacks(execute=True):
        membership = do_accept_invitation(issued.token, user=user)
    from core.models import Membership

    if not isinstance(membership, Membership):
        membership = Membership.objects.get(org=org, user=user)
    with django_capture_on_commit_callbacks(execute=True):
        do_remove_member(owner, membership)
    bodies = webhook_receiver.bodies()
    assert [b["type"] for b in bodies] == ["core.member.joined", "core.member.left"]
    assert bodies[0]["data"]["member"]["display_name"] == "Joiner"
    assert bodies[1]["data"]["reason"] == "removed"
    assert "joiner@a.test" not in str(bodies)
    _no_secrets(webhook_receiver)


def test_app_installed_event_goes_to_that_app_only(
    oauth_app, webhook_receiver, owner, django_capture_on_commit_callbacks
):
    from marketplace.actions import do_install_app

    hook = {"url": webhook_receiver.url, "events": ["app.installed"]}
    first, _c, _s = oauth_app(["core:member.read"], webhook=hook)
    second, _c, _s = oauth_app(["core:member.read"], webhook=hook)
    with django_capture_on_commit_callbacks(execute=True):
        installation, _created = do_install_app(owner, first, scopes=["core:member.read"])
    assert _types(webhook_receiver) == ["app.installed"]
    assert webhook_receiver.bodies()[0]["data"]["installation_id"] == installation.pk
    assert WebhookDelivery.objects.get().app_id == first.pk
    assert second.pk != first.pk


def test_sync_finished_event(
    hooked_app, webhook_receiver, owner, django_capture_on_commit_callbacks
):
    from connectors.models import SyncRun
    from connectors.sync import _finish
    from tests.core.test_api_isolation import _connection

    hooked_app(["connectors.sync.finished"])
    connection = _connection(owner)
    run = SyncRun.objects.create(org_id=owner.org_id, connection=connection, state="running")
    with django_capture_on_commit_callbacks(execute=True):
        _finish(run, SyncRun.State.SUCCEEDED)
    [body] = webhook_receiver.bodies()
    assert body["type"] == "connectors.sync.finished"
    assert body["data"]["run"]["id"] == run.pk and body["data"]["run"]["state"] == "succeeded"
    assert "config" not in body["data"]["run"]
    _no_secrets(webhook_receiver)
