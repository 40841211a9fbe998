"""The Django admin: every core model opens, is organisation-aware and keeps secrets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.db.models import Model
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.actions import do_create_api_token, do_create_department, do_invite_member
from core.models import (
    ApiToken,
    AuditLogEntry,
    Department,
    DepartmentMember,
    Invitation,
    Membership,
    Organization,
    RoleGrant,
    User,
)


def core_admins() -> list[tuple[type[Model], admin.ModelAdmin[Any]]]:
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "core"
    ]


def tenant_admins() -> Iterator[tuple[type[Model], admin.ModelAdmin[Any]]]:
    for model, model_admin in core_admins():
        if any(f.name == "org" and f.is_relation for f in model._meta.get_fields()):
            yield model, model_admin


def url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser(
        "root@example.test", "root-password-1", display_name="Root"
    )


@pytest.fixture
def client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def world(org, owner, admin, member, guest, other_org, outsider, add_member) -> dict[str, Any]:
    """Two organisations with a row of every core model in each."""
    data: dict[str, Any] = {}
    for o, actor, person in [(org, owner, member), (other_org, outsider, add_member(other_org))]:
        department = do_create_department(actor, name="Quality")
        DepartmentMember.objects.create(org=o, department=department, membership=person)
        RoleGrant.objects.create(org=o, role="member", permission="core.audit.read", granted=True)
        do_invite_member(actor, email=f"new@{o.slug}.example", role="member")
        data[o.slug] = department
        _security_rows(actor)
        _metrics_rows(actor)
    _rollup_today()
    data["token"] = do_create_api_token(owner.user, name="CI").token
    return data


def _security_rows(actor):
    """A security policy per organisation; a two-step device and recovery codes (H7)."""
    from core.security.actions import do_update_security_policy
    from core.security.models import RecoveryCode, TwoFactorDevice
    from core.security.totp import encrypt_secret

    do_update_security_policy(actor, {"session_lifetime_minutes": 60}, ip="127.0.0.1")
    TwoFactorDevice.objects.create(user=actor.user, secret_encrypted=encrypt_secret("A" * 32))
    RecoveryCode.objects.create(user=actor.user, code_hash="0" * 64)


def _metrics_rows(actor):
    """Recorded activity, a used system and a lapsed member per organisation."""
    from django.utils import timezone

    from core.metrics.models import ActivityDaily, MemberLapse, SystemDaily

    today = timezone.localdate()
    ActivityDaily.objects.create(
        org=actor.org, day=today, member_id=actor.pk, user_id=actor.user_id
    )
    SystemDaily.objects.create(org=actor.org, day=today, system="lowcode_app:1")
    MemberLapse.objects.create(
        org=actor.org,
        member_id=actor.pk + 10_000,
        user_id=actor.user_id,
        joined_at=timezone.now(),
        reason=MemberLapse.Reason.REMOVED,
    )


def _rollup_today():
    """Rollups per organisation and for the platform, with the definition they used."""
    from django.utils import timezone

    from core.metrics.rollup import rollup_day

    rollup_day(timezone.localdate())


def test_every_core_model_is_registered():
    registered = {model for model, _ in core_admins()}
    assert set(apps.get_app_config("core").get_models()) <= registered


def test_superuser_opens_every_changelist_change_and_add_page(client, superuser, world):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in core_admins():
        assert client.get(url(model, "changelist")).status_code == 200, model
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"no {model.__name__} to open"
        assert client.get(url(model, "change", obj.pk)).status_code == 200, model
        expected = 200 if model_admin.has_add_permission(request) else 403
        assert client.get(url(model, "add")).status_code == expected, model


def test_tenant_changelists_show_and_filter_by_org(client, world, org, other_org):
    models = []
    for model, model_admin in tenant_admins():
        models.append(model)
        assert "org" in model_admin.list_display, model
        assert "org" in model_admin.list_filter, model
        response = client.get(url(model, "changelist"), {"org__id__exact": other_org.pk})
        assert response.status_code == 200, model
        rows = list(response.context["cl"].result_list)
        assert rows, model
        assert {row.org_id for row in rows} == {other_org.pk}, model
    assert {Membership, Department, DepartmentMember, RoleGrant, Invitation, AuditLogEntry} <= set(
        models
    )


def test_token_hash_never_appears_in_admin_html(client, superuser, world):
    secrets_ = [t.token_hash for t in ApiToken.objects.all()]
    secrets_ += [i.token_hash for i in Invitation.objects.all()]
    assert len(secrets_) >= 3
    pages = []
    for model, _ in core_admins():
        pages.append(url(model, "changelist"))
        pages.append(url(model, "add"))
        pages += [url(model, "change", obj.pk) for obj in model._default_manager.all()[:3]]
    for page in pages:
        html = client.get(page).content.decode()
        assert "token_hash" not in html, page
        for secret in secrets_:
            assert secret not in html, page


def test_api_tokens_can_only_be_revoked(client, world):
    token = world["token"]
    response = client.post(url(ApiToken, "change", token.pk), {"name": "renamed", "revoked_at": ""})
    assert response.status_code == 403
    response = client.post(
        url(ApiToken, "changelist"),
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.name == "CI"
    assert token.revoked_at is not None
    assert not token.is_usable


def test_audit_log_is_read_only(client, world):
    entry = AuditLogEntry.objects.first()
    assert client.get(url(AuditLogEntry, "add")).status_code == 403
    assert client.post(url(AuditLogEntry, "add"), {"action": "forged"}).status_code == 403
    change = client.get(url(AuditLogEntry, "change", entry.pk))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert client.post(url(AuditLogEntry, "change", entry.pk), {"action": "x"}).status_code == 403
    assert client.post(url(AuditLogEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403
    assert AuditLogEntry.objects.filter(pk=entry.pk, action=entry.action).exists()


def test_invitations_are_read_only_with_their_state(client, world, org):
    invitation = Invitation.objects.filter(org=org).first()
    html = client.get(url(Invitation, "change", invitation.pk)).content.decode()
    assert "pending" in html
    assert 'name="_save"' not in html
    assert client.get(url(Invitation, "add")).status_code == 403
    listed = client.get(url(Invitation, "changelist"), {"state": "pending"})
    assert invitation in listed.context["cl"].result_list


def _inline_management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_department_inline_saves_member_with_the_departments_org(client, org, owner, admin):
    department = do_create_department(owner, name="Lab")
    data = {
        "name": "Lab",
        "parent": "",
        **_inline_management("members", 1),
        "members-0-membership": str(admin.pk),
        "members-0-is_manager": "on",
        "_save": "Save",
    }
    response = client.post(url(Department, "change", department.pk), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    link = DepartmentMember.objects.get(department=department)
    assert link.org_id == org.pk
    assert link.membership_id == admin.pk
    assert link.is_manager


def test_department_inline_refuses_a_member_of_another_org(client, owner, outsider):
    department = do_create_department(owner, name="Lab")
    data = {
        "name": "Lab",
        "parent": "",
        **_inline_management("members", 1),
        "members-0-membership": str(outsider.pk),
        "_save": "Save",
    }
    response = client.post(url(Department, "change", department.pk), data)
    assert response.status_code == 200
    assert "different organisations" in response.content.decode()
    assert not DepartmentMember.objects.exists()


def test_department_inline_duplicate_is_a_form_error(client, owner, admin):
    department = do_create_department(owner, name="Lab")
    DepartmentMember.objects.create(org=owner.org, department=department, membership=admin)
    data = {
        "name": "Lab",
        "parent": "",
        **_inline_management("members", 1),
        "members-0-membership": str(admin.pk),
        "_save": "Save",
    }
    response = client.post(url(Department, "change", department.pk), data)
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert DepartmentMember.objects.count() == 1


def test_department_parent_must_be_in_the_same_org(client, owner, outsider):
    department = do_create_department(owner, name="Lab")
    foreign = do_create_department(outsider, name="Elsewhere")
    data = {"name": "Lab", "parent": str(foreign.pk), **_inline_management("members", 0)}
    response = client.post(url(Department, "change", department.pk), data)
    assert response.status_code == 200
    assert "same organisation" in response.content.decode()
    department.refresh_from_db()
    assert department.parent_id is None


def test_membership_inline_under_organization_joins_that_org(client, org, owner, make_user):
    newcomer = make_user(name="Newcomer")
    data = {
        "name": org.name,
        "slug": org.slug,
        "edition": org.edition,
        "member_limit": org.member_limit,
        "brand_name": "",
        "brand_color": "#1f6feb",
        **_inline_management("memberships", 2, initial=1),
        "memberships-0-id": str(owner.pk),
        "memberships-0-org": str(org.pk),
        "memberships-0-user": str(owner.user_id),
        "memberships-0-role": "owner",
        "memberships-0-title": "",
        "memberships-0-status": "active",
        "memberships-0-joined_at_0": "2024-01-01",
        "memberships-0-joined_at_1": "09:00:00",
        "memberships-1-org": str(org.pk),
        "memberships-1-user": str(newcomer.pk),
        "memberships-1-role": "member",
        "memberships-1-title": "Driver",
        "memberships-1-status": "active",
        "memberships-1-joined_at_0": "2024-02-01",
        "memberships-1-joined_at_1": "09:00:00",
        **_inline_management("departments", 0),
        "_save": "Save",
    }
    response = client.post(url(Organization, "change", org.pk), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert Membership.objects.get(user=newcomer).org_id == org.pk


def test_organization_changelist_shows_active_member_count(client, org, admin, add_member):
    add_member(org, status="suspended")
    response = client.get(url(Organization, "changelist"))
    row = next(o for o in response.context["cl"].result_list if o.pk == org.pk)
    assert row.active_member_count == 2  # owner and admin; the suspended one does not count
    assert f"?org__id__exact={org.pk}" in response.content.decode()


def test_add_user_with_email_and_display_name(client):
    data = {
        "email": "New.Person@Example.TEST",
        "display_name": "New Person",
        "usable_password": "true",
        "password1": "a-long-unusual-passphrase",
        "password2": "a-long-unusual-passphrase",
    }
    response = client.post(url(User, "add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    user = User.objects.get(email="new.person@example.test")
    assert user.display_name == "New Person"
    assert user.check_password("a-long-unusual-passphrase")
    change = client.get(url(User, "change", user.pk)).content.decode()
    assert "../password/" in change  # the change form links to the password form


def test_membership_autocomplete_labels_name_and_org(client, org, admin):
    response = client.get(
        reverse("admin:core_membership_autocomplete"),
        {
            "app_label": "core",
            "model_name": "departmentmember",
            "field_name": "membership",
            "term": admin.user.display_name,
        },
    )
    assert response.status_code == 200
    texts = [r["text"] for r in response.json()["results"]]
    assert texts == [f"{admin.user.display_name} <{admin.user.email}> · {org.name}"]


def _query_count(client: Client, page: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page).status_code == 200
    return len(queries)


def test_pages_do_not_query_per_row(client, world, org, owner, add_member):
    """Changelists and the inlines of change pages cost the same with 3 rows or 13."""
    department = world[org.slug]
    pages = [url(model, "changelist") for model, _ in core_admins()]
    pages += [url(Organization, "change", org.pk), url(Department, "change", department.pk)]

    def grow(n: int) -> None:
        for _ in range(n):
            m = add_member(org)
            DepartmentMember.objects.create(org=org, department=department, membership=m)
            do_create_department(owner, name=f"Team {m.pk}", parent=department)

    grow(2)
    before = {page: _query_count(client, page) for page in pages}
    grow(10)
    after = {page: _query_count(client, page) for page in pages}
    assert after == before


def test_department_member_admin_takes_the_org_from_the_department(client, org, owner, admin):
    department = do_create_department(owner, name="Lab")
    data = {"department": str(department.pk), "membership": str(admin.pk), "is_manager": "on"}
    response = client.post(url(DepartmentMember, "add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert DepartmentMember.objects.get().org_id == org.pk
