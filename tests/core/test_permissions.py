"""Permissions are data: named operations granted to roles, checked inside actions."""

import pytest

from core import actions
from core.errors import Forbidden
from core.models import AuditLogEntry, RoleGrant
from core.permissions import OPERATIONS, has_permission

pytestmark = pytest.mark.django_db


def test_default_grants(owner, admin, member, guest):
    assert all(has_permission(owner, op) for op in OPERATIONS)
    assert has_permission(admin, "core.member.invite") and not has_permission(
        admin, "core.role.manage"
    )
    assert has_permission(member, "lowcode.app.create") and not has_permission(
        member, "core.member.invite"
    )
    assert not any(has_permission(guest, op) for op in OPERATIONS)


def test_actions_check_permissions_without_any_view(member):
    """A Celery task or management command calling the action cannot skip the check."""
    with pytest.raises(Forbidden):
        actions.do_create_department(member, name="Sneaky")
    with pytest.raises(Forbidden):
        actions.do_invite_member(member, email="x@y.test")


def test_suspended_members_hold_nothing(add_member, org):
    suspended = add_member(org, "admin", status="suspended")
    assert not has_permission(suspended, "core.member.read")


def test_unknown_operation_is_a_programming_error(member):
    with pytest.raises(KeyError):
        has_permission(member, "core.nope")


def test_owner_grants_members_the_right_to_invite(api, owner, member):
    url = f"/api/v1/orgs/{owner.org_id}/roles/member/"
    response = api(owner).patch(
        url, {"grants": {"core.member.invite": True, "lowcode.app.create": False}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert "core.member.invite" in response.json()["permissions"]
    assert "lowcode.app.create" not in response.json()["permissions"]
    invite = api(member).post(
        f"/api/v1/orgs/{owner.org_id}/invitations/", {"email": "n@x.test"}, format="json"
    )
    assert invite.status_code == 201
    assert AuditLogEntry.objects.filter(action="role.grants.update").exists()
    roles = {
        r["role"]: r["permissions"]
        for r in api(member).get(f"/api/v1/orgs/{owner.org_id}/roles/").json()
    }
    assert "core.member.invite" in roles["member"] and set(roles["owner"]) == set(OPERATIONS)


def test_grants_are_per_organisation(api, owner, outsider, add_member):
    api(owner).patch(
        f"/api/v1/orgs/{owner.org_id}/roles/member/",
        {"grants": {"core.member.invite": True}},
        format="json",
    )
    their_member = add_member(outsider.org, "member")
    assert not has_permission(their_member, "core.member.invite")


def test_only_owners_manage_roles_and_owner_grants_are_fixed(api, owner, admin):
    url = f"/api/v1/orgs/{owner.org_id}/roles/"
    assert (
        api(admin)
        .patch(url + "member/", {"grants": {"core.member.invite": True}}, format="json")
        .status_code
        == 403
    )
    assert (
        api(owner)
        .patch(url + "owner/", {"grants": {"core.member.invite": False}}, format="json")
        .status_code
        == 400
    )
    bad = api(owner).patch(url + "member/", {"grants": {"core.fly": True}}, format="json")
    assert bad.status_code == 400 and "grants" in bad.json()["error"]["fields"]
    assert api(owner).patch(url + "emperor/", {"grants": {}}, format="json").status_code == 404
    assert not RoleGrant.objects.exists()


def test_operations_catalogue(api, member):
    names = {op["name"] for op in api(member).get("/api/v1/operations/").json()}
    assert {
        "core.member.invite",
        "im.message.recall_any",
        "lowcode.app.create",
        "marketplace.app.install",
    } <= names


def test_audit_log_is_readable_by_admins_only_newest_first(api, admin, member):
    actions.do_create_department(admin, name="One")
    actions.do_create_department(admin, name="Two")
    body = api(admin).get(f"/api/v1/orgs/{admin.org_id}/audit-log/").json()
    entries = [e for e in body["results"] if e["action"] == "department.create"]
    assert [e["target_repr"] for e in entries] == ["Two", "One"]
    assert entries[0]["actor"]["email"] == admin.user.email
    assert api(member).get(f"/api/v1/orgs/{admin.org_id}/audit-log/").status_code == 403
