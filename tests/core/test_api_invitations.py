import re

import pytest
from django.core import mail

from core.models import AuditLogEntry, Invitation, Membership, User

pytestmark = pytest.mark.django_db


def invite(api, who, email="new.person@dairy.test", role="member"):
    return api(who).post(
        f"/api/v1/orgs/{who.org_id}/invitations/", {"email": email, "role": role}, format="json"
    )


def token_of(response):
    return re.search(r"/invite/([^/]+)/", response.json()["accept_url"]).group(1)


def test_invite_sends_an_email_with_a_single_use_link(
    api, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(api, admin, email="New.Person@Dairy.test")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "new.person@dairy.test" and body["state"] == "pending"
    assert len(mail.outbox) == 1
    assert body["accept_url"] in mail.outbox[0].body
    invitation = Invitation.objects.get()
    assert token_of(response) not in invitation.token_hash  # only the hash is stored
    assert AuditLogEntry.objects.filter(action="member.invite").exists()


def test_accept_creates_the_account_and_membership(api, admin):
    token = token_of(invite(api, admin, role="guest"))
    preview = api(None).get(f"/api/v1/invitations/{token}/").json()
    assert preview["organization"] == admin.org.name and preview["account_exists"] is False
    response = api(None).post(
        f"/api/v1/invitations/{token}/accept/",
        {"display_name": "New Person", "password": "a-long-enough-passphrase"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "guest"
    user = User.objects.get(email="new.person@dairy.test")
    assert user.check_password("a-long-enough-passphrase")
    assert Membership.objects.get(org=admin.org, user=user).status == "active"


def test_a_used_token_cannot_be_reused(api, admin):
    token = token_of(invite(api, admin))
    data = {"display_name": "New", "password": "a-long-enough-passphrase"}
    assert (
        api(None).post(f"/api/v1/invitations/{token}/accept/", data, format="json").status_code
        == 201
    )
    again = api(None).post(f"/api/v1/invitations/{token}/accept/", data, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invitation_accepted"
    assert (
        Membership.objects.filter(org=admin.org, user__email="new.person@dairy.test").count() == 1
    )


def test_an_unknown_token_is_404(api):
    response = api(None).get("/api/v1/invitations/nope/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_weak_password_is_refused_and_nothing_is_created(api, admin):
    token = token_of(invite(api, admin))
    response = api(None).post(
        f"/api/v1/invitations/{token}/accept/",
        {"display_name": "", "password": "123"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"display_name", "password"}
    assert not User.objects.filter(email="new.person@dairy.test").exists()
    assert Invitation.objects.get().state == "pending"


def test_an_existing_account_links_when_signed_in_as_that_address(api, admin, make_user):
    existing = make_user("known@dairy.test")
    token = token_of(invite(api, admin, email="known@dairy.test"))
    anonymous = api(None).post(f"/api/v1/invitations/{token}/accept/", {}, format="json")
    assert anonymous.status_code == 409 and anonymous.json()["error"]["code"] == "sign_in_required"
    wrong = api(make_user("someone.else@dairy.test")).post(
        f"/api/v1/invitations/{token}/accept/", {}, format="json"
    )
    assert wrong.status_code == 403
    response = api(existing).post(f"/api/v1/invitations/{token}/accept/", {}, format="json")
    assert response.status_code == 201
    assert Membership.objects.filter(org=admin.org, user=existing).exists()


def test_inviting_an_existing_member_is_a_conflict(api, admin, member):
    response = invite(api, admin, email=member.user.email)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_member"
    assert not Invitation.objects.exists()


def test_reinviting_replaces_the_pending_invitation(api, admin):
    old = token_of(invite(api, admin))
    new = token_of(invite(api, admin))
    assert api(None).get(f"/api/v1/invitations/{old}/").status_code == 409
    assert api(None).get(f"/api/v1/invitations/{new}/").status_code == 200


def test_revoked_and_expired_invitations_are_closed(api, admin):
    response = invite(api, admin)
    token = token_of(response)
    assert (
        api(admin)
        .delete(f"/api/v1/orgs/{admin.org_id}/invitations/{response.json()['id']}/")
        .status_code
        == 204
    )
    assert (
        api(None).get(f"/api/v1/invitations/{token}/").json()["error"]["code"]
        == "invitation_revoked"
    )
    assert (
        api(admin)
        .delete(f"/api/v1/orgs/{admin.org_id}/invitations/{response.json()['id']}/")
        .status_code
        == 409
    )

    token = token_of(invite(api, admin, email="late@dairy.test"))
    Invitation.objects.filter(email="late@dairy.test").update(expires_at="2000-01-01T00:00:00Z")
    assert (
        api(None).get(f"/api/v1/invitations/{token}/").json()["error"]["code"]
        == "invitation_expired"
    )


def test_members_cannot_invite_and_admins_cannot_invite_owners(api, member, admin):
    assert invite(api, member).status_code == 403
    assert invite(api, admin, role="owner").status_code == 403
    assert not Invitation.objects.exists()


def test_invitations_respect_the_member_limit(api, org, admin):
    org.member_limit = Membership.objects.filter(org=org).count() + 1
    org.save()
    assert invite(api, admin, email="one@dairy.test").status_code == 201
    response = invite(api, admin, email="two@dairy.test")
    assert response.status_code == 409 and response.json()["error"]["code"] == "member_limit"


def test_invitation_list_for_admins(api, admin):
    invite(api, admin)
    body = api(admin).get(f"/api/v1/orgs/{admin.org_id}/invitations/").json()
    assert [i["email"] for i in body["results"]] == ["new.person@dairy.test"]
    assert "accept_url" not in body["results"][0]
