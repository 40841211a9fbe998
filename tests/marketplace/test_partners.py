"""Partners: sign-up, members and roles, encrypted payout details, apps with OAuth clients."""

from __future__ import annotations

import pytest

from marketplace.actions import payout_details
from marketplace.models import App, Partner, PartnerMember
from tests.marketplace.conftest import REDIRECT

P = "/api/v1/marketplace/"


def test_any_signed_in_user_signs_up_a_partner_and_owns_it(make_user, api):
    user = make_user()
    response = api(user).post(
        P + "partners/",
        {"name": "Harbour Software", "website": "https://harbour.test"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["my_role"] == "owner" and body["slug"] == "harbour-software"
    assert body["contact_email"] == user.email and body["payout"] is None
    assert PartnerMember.objects.get(partner_id=body["id"]).user == user
    listed = api(user).get(P + "partners/").json()
    assert [p["id"] for p in listed] == [body["id"]]


def test_sign_up_needs_a_name_and_an_account(make_user, api):
    assert api(make_user()).post(P + "partners/", {}, format="json").status_code == 400
    assert api(None).post(P + "partners/", {"name": "X"}, format="json").status_code == 401


def test_others_cannot_see_or_change_a_partner(partner_owner, make_user, api):
    stranger = api(make_user())
    pid = partner_owner.partner_id
    assert stranger.get(f"{P}partners/{pid}/").status_code == 404
    assert stranger.patch(f"{P}partners/{pid}/", {"name": "Mine"}, format="json").status_code == 404
    assert stranger.get(f"{P}partners/{pid}/members/").status_code == 404
    assert stranger.get(f"{P}partners/{pid}/installs/").status_code == 404
    assert stranger.get(f"{P}apps/?partner={pid}").status_code == 404
    assert Partner.objects.get(pk=pid).name == "Acme Apps"


def test_owner_adds_members_by_email_and_roles_limit_what_they_do(partner_owner, make_user, api):
    pid = partner_owner.partner_id
    owner = api(partner_owner.user)
    dev_user, fin_user = make_user(), make_user()
    added = owner.post(
        f"{P}partners/{pid}/members/",
        {"email": dev_user.email.upper(), "role": "developer"},
        format="json",
    )
    assert added.status_code == 201, added.content
    owner.post(
        f"{P}partners/{pid}/members/", {"email": fin_user.email, "role": "finance"}, format="json"
    )
    again = owner.post(
        f"{P}partners/{pid}/members/", {"email": dev_user.email, "role": "finance"}, format="json"
    )
    assert again.status_code == 409
    unknown = owner.post(
        f"{P}partners/{pid}/members/",
        {"email": "nobody@x.test", "role": "developer"},
        format="json",
    )
    assert unknown.status_code == 400 and "email" in unknown.json()["error"]["fields"]
    members = owner.get(f"{P}partners/{pid}/members/").json()
    assert {m["role"] for m in members} == {"owner", "developer", "finance"}

    developer, finance = api(dev_user), api(fin_user)
    # developers make apps, not members or payouts
    assert (
        developer.post(
            f"{P}partners/{pid}/members/", {"email": fin_user.email, "role": "owner"}, format="json"
        ).status_code
        == 403
    )
    payout = {"account_name": "Acme Apps Ltd", "bank_name": "Bank", "account_number": "6222001234"}
    assert developer.put(f"{P}partners/{pid}/payout/", payout, format="json").status_code == 403
    app = {"partner": pid, "app_id": "com.acme.dev", "name": "Dev", "redirect_uris": [REDIRECT]}
    assert developer.post(P + "apps/", app, format="json").status_code == 201
    # finance manages payouts, not apps
    assert (
        finance.post(P + "apps/", {**app, "app_id": "com.acme.fin"}, format="json").status_code
        == 403
    )
    assert finance.put(f"{P}partners/{pid}/payout/", payout, format="json").status_code == 200


def test_payout_details_are_encrypted_and_shown_masked(partner_owner, api):
    pid = partner_owner.partner_id
    payout = {
        "account_name": "Acme Apps Ltd",
        "bank_name": "Bank of Harbour",
        "account_number": "6222 0000 1111 4321",
        "swift": "BKCHCNBJ",
        "currency": "USD",
    }
    response = api(partner_owner.user).put(f"{P}partners/{pid}/payout/", payout, format="json")
    assert response.status_code == 200, response.content
    shown = response.json()["payout"]
    assert shown == {
        "account_name": "Acme Apps Ltd",
        "bank_name": "Bank of Harbour",
        "account_number": "•••• 4321",
        "currency": "USD",
    }
    partner = Partner.objects.get(pk=pid)
    assert "6222" not in partner.payout_details and "Harbour" not in partner.payout_details
    assert payout_details(partner)["account_number"] == "6222 0000 1111 4321"
    assert "1111" not in str(api(partner_owner.user).get(f"{P}partners/{pid}/").content)
    missing = api(partner_owner.user).put(
        f"{P}partners/{pid}/payout/", {"account_name": "x"}, format="json"
    )
    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"bank_name", "account_number"}


def test_the_last_owner_cannot_leave_or_be_demoted(partner_owner, make_user, api):
    pid, me = partner_owner.partner_id, partner_owner.pk
    owner = api(partner_owner.user)
    url = f"{P}partners/{pid}/members/{me}/"
    assert owner.delete(url).json()["error"]["code"] == "last_owner"
    assert owner.patch(url, {"role": "developer"}, format="json").status_code == 409
    other = make_user()
    added = owner.post(
        f"{P}partners/{pid}/members/", {"email": other.email, "role": "owner"}, format="json"
    )
    assert owner.patch(url, {"role": "developer"}, format="json").status_code == 200
    assert api(other).delete(f"{P}partners/{pid}/members/{added.json()['id']}/").status_code == 409
    assert api(other).delete(url).status_code == 204
    assert not PartnerMember.objects.filter(pk=me).exists()


def test_members_of_another_partner_are_404(partner_owner, make_user, api):
    from marketplace.actions import do_create_partner

    theirs = do_create_partner(make_user(), name="Rival", contact_email="r@rival.test")
    url = f"{P}partners/{partner_owner.partner_id}/members/{theirs.pk}/"
    assert api(partner_owner.user).delete(url).status_code == 404
    assert PartnerMember.objects.filter(pk=theirs.pk).exists()


def test_creating_an_app_shows_the_client_secret_once(partner_owner, api):
    owner = api(partner_owner.user)
    body = {
        "partner": partner_owner.partner_id,
        "app_id": "com.acme.expense",
        "name": "Quick Expense",
        "redirect_uris": [REDIRECT],
    }
    created = owner.post(P + "apps/", body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["client_id"] and len(data["client_secret"]) >= 30
    app = App.objects.get(pk=data["id"])
    assert app.oauth_application.client_id == data["client_id"]
    assert app.oauth_application.client_secret != data["client_secret"]  # hashed
    shown = owner.get(f"{P}apps/{app.pk}/").json()
    assert "client_secret" not in shown and shown["client_id"] == data["client_id"]
    assert data["client_secret"] not in str(owner.get(f"{P}apps/?partner={app.partner_id}").content)
    # The webhook signing secret is shown once too, and signs deliveries from the start.
    from marketplace.webhooks import app_signing_secret

    assert data["webhook_secret"].startswith("whsec_")
    assert app_signing_secret(app) == data["webhook_secret"]
    assert app.webhook_secret != data["webhook_secret"]  # encrypted at rest
    assert "webhook_secret" not in shown
    rotated = owner.post(f"{P}apps/{app.pk}/rotate-secret/").json()
    assert rotated["client_id"] == data["client_id"]
    assert rotated["client_secret"] != data["client_secret"]


def test_app_ids_are_reverse_dns_and_unique(partner_owner, make_user, api):
    from marketplace.actions import do_create_partner

    owner = api(partner_owner.user)
    body = {"partner": partner_owner.partner_id, "name": "X", "redirect_uris": [REDIRECT]}
    bad = owner.post(P + "apps/", {**body, "app_id": "Expense"}, format="json")
    assert bad.status_code == 400 and "app_id" in bad.json()["error"]["fields"]
    no_uri = owner.post(
        P + "apps/",
        {**body, "app_id": "com.a.b", "redirect_uris": ["http://x.test/cb"]},
        format="json",
    )
    assert no_uri.status_code == 400
    assert (
        owner.post(P + "apps/", {**body, "app_id": "com.acme.x"}, format="json").status_code == 201
    )
    rival = do_create_partner(make_user(), name="Rival", contact_email="r@rival.test")
    taken = api(rival.user).post(
        P + "apps/", {**body, "partner": rival.partner_id, "app_id": "com.acme.x"}, format="json"
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "app_id_taken"
    assert App.objects.filter(app_id="com.acme.x").count() == 1


def test_another_partners_app_is_404(make_partner_app, make_user, api):
    app = make_partner_app()
    stranger = api(make_user())
    assert stranger.get(f"{P}apps/{app.pk}/").status_code == 404
    assert (
        stranger.patch(f"{P}apps/{app.pk}/", {"is_listed": False}, format="json").status_code == 404
    )
    assert stranger.post(f"{P}apps/{app.pk}/rotate-secret/").status_code == 404
    stranger_app = {
        "partner": app.partner_id,
        "app_id": "com.x.y",
        "name": "X",
        "redirect_uris": [REDIRECT],
    }
    assert stranger.post(P + "apps/", stranger_app, format="json").status_code == 404


def test_owner_edits_the_profile_others_cannot(partner_owner, make_user, api):
    pid = partner_owner.partner_id
    owner = api(partner_owner.user)
    changed = owner.patch(
        f"{P}partners/{pid}/",
        {"name": "Acme Software", "website": "https://acme.test"},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["name"] == "Acme Software"
    bad = owner.patch(f"{P}partners/{pid}/", {"support_email": "not-an-email"}, format="json")
    assert bad.status_code == 400 and "support_email" in bad.json()["error"]["fields"]
    dev = make_user()
    owner.post(
        f"{P}partners/{pid}/members/", {"email": dev.email, "role": "developer"}, format="json"
    )
    assert api(dev).patch(f"{P}partners/{pid}/", {"name": "Mine"}, format="json").status_code == 403
    assert Partner.objects.get(pk=pid).name == "Acme Software"


def test_suspended_partners_apps_leave_the_catalogue(published_app, partner_owner, member, api):
    published_app(app_id="com.acme.expense")
    Partner.objects.filter(pk=partner_owner.partner_id).update(status="suspended")
    assert api(member).get(f"{P}catalogue/").json() == []
    assert api(member).get(f"{P}catalogue/com.acme.expense/").status_code == 404


@pytest.mark.parametrize(
    "website", ["javascript:alert(1)", "data:text/html,x", "ftp://acme.example"]
)
def test_a_partner_website_must_be_an_http_address(make_user, website):
    """It becomes a link on the partner's and its apps' pages."""
    from core.errors import ValidationFailed
    from marketplace.actions import do_create_partner, do_update_partner

    with pytest.raises(ValidationFailed):
        do_create_partner(make_user(), name="Acme", contact_email="a@acme.example", website=website)
    pm = do_create_partner(make_user(), name="Acme 2", contact_email="b@acme.example")
    with pytest.raises(ValidationFailed):
        do_update_partner(pm, website=website)
    pm.partner.refresh_from_db()
    assert pm.partner.website == ""
    assert do_update_partner(pm, website="https://acme.example").website == "https://acme.example"
