"""Security policies per organisation: passwords, session lifetime, network allowlist,
two-step verification for admins, exports, external sharing. Every change is audited."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail

from core.actions import do_invite_member
from core.errors import Forbidden, ValidationFailed
from core.models import AuditLogEntry, Membership
from core.security.actions import do_update_security_policy
from core.security.enforcement import AUTH_AT, PASSWORD_CHANGE, TWO_FACTOR_AT
from core.security.models import SecurityPolicy, TwoFactorDevice
from core.security.policies import check_export_allowed, policy_for
from core.security.totp import encrypt_secret

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # tests/conftest.py's make_user default
OFFICE = "203.0.113.0/24"
LOCAL = "127.0.0.1"


def policy_url(org_id):
    return f"/api/v1/orgs/{org_id}/security-policy/"


def set_policy(actor, **changes):
    return do_update_security_policy(actor, changes, ip=LOCAL)


def web_login(client, user, ip=LOCAL, password=PASSWORD):
    return client.post("/login/", {"username": user.email, "password": password}, REMOTE_ADDR=ip)


def enrol(user):
    return TwoFactorDevice.objects.create(
        user=user,
        secret_encrypted=encrypt_secret("JBSWY3DPEHPK3PXP"),
        confirmed_at="2026-01-01T00:00Z",
    )


# --- the policy API ------------------------------------------------------------------------


def test_defaults_are_created_lazily_and_restrict_nothing(api, admin):
    assert not SecurityPolicy.objects.filter(org=admin.org).exists()
    response = api(admin).get(policy_url(admin.org_id))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ip_allowlist"] == [] and body["session_lifetime_minutes"] == 0
    assert body["external_sharing"] is True and body["require_two_factor_for_admins"] is False
    assert body["export_roles"]["records"] == ["owner", "admin", "member"]
    assert SecurityPolicy.objects.filter(org=admin.org).count() == 1


def test_members_cannot_read_or_change_the_policy(api, member):
    assert api(member).get(policy_url(member.org_id)).status_code == 403
    response = api(member).patch(
        policy_url(member.org_id), {"external_sharing": False}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert policy_for(member.org_id).external_sharing is True


def test_another_organisations_policy_is_not_found(api, admin, outsider):
    for call in (
        lambda c: c.get(policy_url(admin.org_id)),
        lambda c: c.patch(policy_url(admin.org_id), {"external_sharing": False}, format="json"),
    ):
        response = call(api(outsider))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert policy_for(admin.org_id).external_sharing is True


def test_a_change_is_audited_with_old_and_new_values(api, admin):
    response = api(admin).patch(
        policy_url(admin.org_id),
        {"password_min_length": 14, "ip_allowlist": ["127.0.0.1", OFFICE]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["ip_allowlist"] == ["127.0.0.1/32", OFFICE]
    entry = AuditLogEntry.objects.get(org=admin.org, action="security.policy.update")
    assert entry.actor == admin.user and entry.ip_address == LOCAL
    assert entry.data["before"] == {"password_min_length": 10, "ip_allowlist": []}
    assert entry.data["after"] == {
        "password_min_length": 14,
        "ip_allowlist": ["127.0.0.1/32", OFFICE],
    }


def test_an_unchanged_value_writes_no_audit_entry(api, admin):
    api(admin).patch(policy_url(admin.org_id), {"external_sharing": True}, format="json")
    assert not AuditLogEntry.objects.filter(action="security.policy.update").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ip_allowlist": ["10.0.0.0/33"]}, "ip_allowlist"),
        ({"ip_allowlist": ["not-a-network"]}, "ip_allowlist"),
        ({"ip_allowlist": "127.0.0.1"}, "ip_allowlist"),
        ({"session_lifetime_minutes": 3}, "session_lifetime_minutes"),
        ({"session_lifetime_minutes": 10**9}, "session_lifetime_minutes"),
        ({"session_lifetime_minutes": -1}, "session_lifetime_minutes"),
        ({"password_min_length": 4}, "password_min_length"),
        ({"export_roles": {"records": ["owner", "boss"]}}, "export_roles"),
        ({"export_roles": {"payroll": ["owner"]}}, "export_roles"),
        ({"require_two_factor_for_admins": "sometimes"}, "require_two_factor_for_admins"),
    ],
)
def test_bad_input_is_refused_with_the_field(api, admin, payload, field):
    response = api(admin).patch(policy_url(admin.org_id), payload, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"], error
    assert not AuditLogEntry.objects.filter(action="security.policy.update").exists()


def test_an_allowlist_that_locks_out_the_admin_is_refused_with_the_reason(api, admin):
    response = api(admin).patch(policy_url(admin.org_id), {"ip_allowlist": [OFFICE]}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ip_allowlist_locks_you_out"
    assert "127.0.0.1" in error["message"] and "lock you out" in error["message"]
    assert policy_for(admin.org_id).ip_allowlist == []
    # From inside the office, the same list is fine.
    response = api(admin).patch(
        policy_url(admin.org_id),
        {"ip_allowlist": [OFFICE]},
        format="json",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200, response.content


def test_the_policy_page_refuses_a_lock_out_and_shows_why(client, admin):
    client.force_login(admin.user)
    page = client.get(f"/o/{admin.org_id}/settings/security/")
    assert page.status_code == 200 and "Security policy" in page.content.decode()
    data = {
        "password_min_length": 10,
        "password_disallow_email": "on",
        "session_lifetime_minutes": 0,
        "ip_allowlist": OFFICE,
        "external_sharing": "on",
        "export_members": ["owner", "admin"],
        "export_records": ["owner", "admin", "member"],
        "export_metrics": ["owner", "admin"],
    }
    refused = client.post(f"/o/{admin.org_id}/settings/security/", data)
    assert refused.status_code == 400
    assert "would lock you out" in refused.content.decode()
    data["ip_allowlist"] = f"{OFFICE}\n127.0.0.0/8"
    saved = client.post(f"/o/{admin.org_id}/settings/security/", data)
    assert saved.status_code == 302
    assert policy_for(admin.org_id).ip_allowlist == [OFFICE, "127.0.0.0/8"]


def test_members_cannot_open_the_policy_page(client, member):
    client.force_login(member.user)
    assert client.get(f"/o/{member.org_id}/settings/security/").status_code == 403


# --- network allowlist ---------------------------------------------------------------------


def test_api_calls_from_outside_the_allowlist_are_refused(api, owner, member, outsider):
    set_policy(owner, ip_allowlist=["127.0.0.0/8"])
    client = api(member)  # a personal token
    url = f"/api/v1/orgs/{owner.org_id}/members/"
    assert client.get(url).status_code == 200
    refused = client.get(url, REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ip_not_allowed"
    # Someone outside the organisation still gets the plain 404: the policy reveals nothing.
    assert api(outsider).get(url, REMOTE_ADDR="198.51.100.7").status_code == 404
    # Other organisations' policies do not apply.
    assert (
        api(outsider)
        .get(f"/api/v1/orgs/{outsider.org_id}/members/", REMOTE_ADDR="198.51.100.7")
        .status_code
        == 200
    )


def test_pages_of_the_organisation_are_refused_outside_the_allowlist(client, owner, member):
    set_policy(owner, ip_allowlist=["127.0.0.0/8"])
    client.force_login(member.user)
    assert client.get(f"/o/{owner.org_id}/").status_code == 200
    refused = client.get(f"/o/{owner.org_id}/", REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 403
    assert "approved networks" in refused.content.decode()


def test_web_login_is_refused_when_no_organisation_admits_the_network(client, owner, member):
    set_policy(owner, ip_allowlist=["127.0.0.0/8"])
    refused = web_login(client, member.user, ip="198.51.100.7")
    assert refused.status_code == 403 and "approved networks" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert web_login(client, member.user).status_code == 302


def test_api_login_is_refused_outside_the_allowlist(api, owner, member):
    set_policy(owner, ip_allowlist=["127.0.0.0/8"])
    data = {"email": member.user.email, "password": PASSWORD}
    refused = api(None).post("/api/v1/auth/token/", data, format="json", REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "ip_not_allowed"
    assert api(None).post("/api/v1/auth/token/", data, format="json").status_code == 201


# --- session lifetime ----------------------------------------------------------------------


def _age_session(client, minutes):
    session = client.session
    session[AUTH_AT] = int(time.time()) - minutes * 60
    session.save()


def test_sessions_older_than_the_lifetime_are_signed_out(client, owner, member):
    set_policy(owner, session_lifetime_minutes=30)
    assert web_login(client, member.user).status_code == 302
    assert client.get(f"/o/{owner.org_id}/").status_code == 200
    _age_session(client, 29)
    assert client.get(f"/o/{owner.org_id}/").status_code == 200
    _age_session(client, 31)
    response = client.get(f"/o/{owner.org_id}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session


def test_api_session_auth_expires_too(client, owner, member):
    set_policy(owner, session_lifetime_minutes=30)
    login = client.post(
        "/api/v1/auth/login/",
        {"email": member.user.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == 200
    url = f"/api/v1/orgs/{owner.org_id}/members/"
    assert client.get(url).status_code == 200
    _age_session(client, 31)
    expired = client.get(url)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "session_expired"
    assert client.get("/api/v1/me/").status_code in (401, 403)


# --- passwords -----------------------------------------------------------------------------


def test_password_change_follows_the_strictest_policy_of_the_users_organisations(
    api, owner, member, make_org, add_member
):
    set_policy(owner, password_min_length=12)
    other = make_org("Second")
    other_owner = Membership.objects.get(org=other, role="owner")
    add_member(other, user=member.user)
    set_policy(other_owner, password_require_digit=True, password_require_mixed_case=True)
    client = api(member)
    weak = client.post(
        "/api/v1/me/password/",
        {"current_password": PASSWORD, "new_password": "Battery-Staple-Horse"},
        format="json",
    )
    assert weak.status_code == 400
    error = weak.json()["error"]
    assert error["code"] == "password_policy"
    assert any("digit" in p for p in error["fields"]["new_password"])
    ok = client.post(
        "/api/v1/me/password/",
        {"current_password": PASSWORD, "new_password": "Battery-Staple-Horse-42"},
        format="json",
    )
    assert ok.status_code == 204, ok.content


def test_a_password_containing_the_email_is_refused(api, member):
    local = member.user.email.split("@")[0]
    response = api(member).post(
        "/api/v1/me/password/",
        {"current_password": PASSWORD, "new_password": f"{local}-Secret-2026-xyz"},
        format="json",
    )
    assert response.status_code == 400
    assert "e-mail" in " ".join(response.json()["error"]["fields"]["new_password"])


def test_invitation_acceptance_applies_the_organisations_rules(
    api, owner, django_capture_on_commit_callbacks
):
    set_policy(owner, password_min_length=16, password_require_symbol=True)
    with django_capture_on_commit_callbacks(execute=True):
        do_invite_member(owner, email="new@dairy.test")
    token = re.search(r"/invite/([^/\s]+)/", mail.outbox[0].body).group(1)
    url = f"/api/v1/invitations/{token}/accept/"
    weak = api(None).post(url, {"display_name": "New", "password": "longpassphrase"}, format="json")
    assert weak.status_code == 400 and "password" in weak.json()["error"]["fields"]
    strong = api(None).post(
        url, {"display_name": "New", "password": "a long pass phrase!"}, format="json"
    )
    assert strong.status_code == 201, strong.content


def test_a_password_that_no_longer_complies_must_be_changed_after_sign_in(client, owner, member):
    set_policy(owner, password_min_length=24)
    assert web_login(client, member.user).status_code == 302
    assert client.session.get(PASSWORD_CHANGE) is True
    response = client.get(f"/o/{owner.org_id}/")
    assert response.status_code == 302 and response["Location"].startswith("/account/")
    changed = client.post(
        "/account/",
        {
            "form": "password",
            "current_password": PASSWORD,
            "new_password": "a much longer pass phrase now",
            "new_password_again": "a much longer pass phrase now",
        },
    )
    assert changed.status_code == 302, changed.content.decode()[:2000]
    assert client.get(f"/o/{owner.org_id}/").status_code == 200


# --- two-step verification required for admins --------------------------------------------


def test_admins_without_two_step_are_sent_to_set_it_up(client, owner, admin, member):
    set_policy(owner, require_two_factor_for_admins=True)
    client.force_login(admin.user)
    response = client.get(f"/o/{owner.org_id}/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/two-factor/")
    client.force_login(member.user)  # members are not affected
    assert client.get(f"/o/{owner.org_id}/").status_code == 200


def test_admin_api_tokens_need_two_step_enrolled(api, owner, admin, member):
    set_policy(owner, require_two_factor_for_admins=True)
    url = f"/api/v1/orgs/{owner.org_id}/members/"
    refused = api(admin).get(url)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "two_factor_required"
    assert api(member).get(url).status_code == 200
    enrol(admin.user)
    assert api(admin).get(url).status_code == 200


def test_admin_sessions_need_a_verified_second_step(client, owner, admin):
    set_policy(owner, require_two_factor_for_admins=True)
    enrol(admin.user)
    client.force_login(admin.user)  # signed in without the second step
    page = client.get(f"/o/{owner.org_id}/")
    assert page.status_code == 302 and page["Location"].startswith("/login/verify/")
    api_call = client.get(f"/api/v1/orgs/{owner.org_id}/members/")
    assert api_call.status_code == 403
    assert api_call.json()["error"]["code"] == "two_factor_required"
    session = client.session
    session[TWO_FACTOR_AT] = int(time.time())
    session.save()
    assert client.get(f"/o/{owner.org_id}/").status_code == 200
    assert client.get(f"/api/v1/orgs/{owner.org_id}/members/").status_code == 200


# --- exports -------------------------------------------------------------------------------


def test_check_export_allowed_follows_the_role_list(owner, admin, member, guest):
    check_export_allowed(member, "records")
    with pytest.raises(Forbidden) as refused:
        check_export_allowed(member, "members")
    assert refused.value.code == "export_not_allowed"
    set_policy(owner, export_roles={"members": ["member"], "metrics": []})
    check_export_allowed(member, "members")
    check_export_allowed(owner, "metrics")  # owners always may
    for kind in ("members", "metrics"):
        with pytest.raises(Forbidden):
            check_export_allowed(admin if kind == "metrics" else guest, kind)


def test_member_export_needs_the_policy(client, owner, admin, member):
    client.force_login(member.user)
    refused = client.get(f"/o/{owner.org_id}/members/export.csv")
    assert refused.status_code == 403
    assert "security policy" in refused.content.decode()
    client.force_login(admin.user)
    response = client.get(f"/o/{owner.org_id}/members/export.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    body = b"".join(response.streaming_content).decode()
    assert member.user.email in body and admin.user.email in body


def test_member_export_of_another_organisation_is_not_found(client, owner, outsider):
    client.force_login(outsider.user)
    assert client.get(f"/o/{owner.org_id}/members/export.csv").status_code == 404


def test_record_export_by_a_role_without_the_permission_is_refused(api, owner, member, make_form):
    form = make_form([{"key": "batch", "type": "text", "label": "Batch"}])
    url = f"/api/v1/orgs/{owner.org_id}/lowcode/forms/{form.pk}/export/"
    assert api(owner).get(url).status_code == 200
    set_policy(owner, export_roles={"records": ["owner"]})
    refused = api(member).get(url)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "export_not_allowed"


# --- external sharing ----------------------------------------------------------------------


def _shared_form_link(owner, make_form):
    from lowcode.public import do_create_public_link

    form = make_form([{"key": "text", "type": "text", "label": "Text"}])
    return form, do_create_public_link(owner, form, name="Everyone")[1]


def test_turning_sharing_off_closes_public_links_and_refuses_new_ones(client, owner, make_form):
    from lowcode.public import do_create_public_link

    form, token = _shared_form_link(owner, make_form)
    assert client.get(f"/f/{token}/").status_code == 200
    set_policy(owner, external_sharing=False)
    assert client.get(f"/f/{token}/").status_code == 404
    with pytest.raises(Forbidden) as refused:
        do_create_public_link(owner, form, name="Again")
    assert refused.value.code == "external_sharing_off"
    set_policy(owner, external_sharing=True)
    assert client.get(f"/f/{token}/").status_code == 200


def test_guests_cannot_be_invited_when_sharing_is_off(api, owner, admin):
    set_policy(owner, external_sharing=False)
    url = f"/api/v1/orgs/{owner.org_id}/invitations/"
    refused = api(admin).post(
        url, {"email": "guest@elsewhere.test", "role": "guest"}, format="json"
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "external_sharing_off"
    ok = api(admin).post(url, {"email": "staff@dairy.test", "role": "member"}, format="json")
    assert ok.status_code == 201


def test_a_pending_guest_invitation_cannot_be_accepted_after_sharing_is_turned_off(
    api, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        do_invite_member(owner, email="guest@elsewhere.test", role="guest")
    token = re.search(r"/invite/([^/\s]+)/", mail.outbox[0].body).group(1)
    set_policy(owner, external_sharing=False)
    response = api(None).post(
        f"/api/v1/invitations/{token}/accept/",
        {"display_name": "Guest", "password": "a-long-enough-passphrase"},
        format="json",
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(org=owner.org, user__email="guest@elsewhere.test").exists()


def test_policy_actions_validate_even_without_the_api(owner):
    with pytest.raises(ValidationFailed) as refused:
        do_update_security_policy(owner, {"colour": "red"}, ip=LOCAL)
    assert "colour" in refused.value.fields


def test_another_organisations_policy_page_is_not_found(client, owner, outsider):
    client.force_login(outsider.user)
    assert client.get(f"/o/{owner.org_id}/settings/security/").status_code == 404
    response = client.post(f"/o/{owner.org_id}/settings/security/", {"ip_allowlist": OFFICE})
    assert response.status_code == 404
    assert policy_for(owner.org_id).ip_allowlist == []
