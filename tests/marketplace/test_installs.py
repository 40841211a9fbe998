"""Installs with consent, upgrades that need new consent, uninstall and reinstall."""

from __future__ import annotations

import pytest

from core.models import AuditLogEntry, Membership
from marketplace import actions
from marketplace.models import Installation
from tests.marketplace.conftest import make_manifest

SCOPES = ["core:member.read", "im:card.write"]


def url(org, path=""):
    return f"/api/v1/orgs/{org.pk}/marketplace/installations/{path}"


@pytest.fixture
def app(published_app):
    return published_app(app_id="com.acme.expense")


def install(client, org, scopes=SCOPES, **extra):
    return client.post(
        url(org), {"app": "com.acme.expense", "scopes": scopes, **extra}, format="json"
    )


def test_admin_installs_with_consent_to_exactly_the_scopes(app, org, admin, api):
    response = install(api(admin), org, scopes=list(reversed(SCOPES)))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["app_id"] == "com.acme.expense" and body["status"] == "active"
    assert body["granted_scopes"] == SCOPES and body["version"] == "1.0.0"
    assert body["installed_by_name"] == admin.user.display_name
    installation = Installation.objects.get(pk=body["id"])
    member = installation.app_member
    assert member.org_id == org.pk and member.user.is_app and member.is_active
    entry = AuditLogEntry.objects.get(org=org, action="marketplace.app.installed")
    assert entry.actor == admin.user and entry.data["scopes"] == SCOPES
    assert entry.data["plan"] == "free"
    listed = api(admin).get(url(org)).json()
    assert [i["id"] for i in listed] == [body["id"]]


@pytest.mark.parametrize(
    "scopes",
    [
        ["core:member.read"],  # fewer
        [*SCOPES, "lowcode:record.write"],  # more
        ["core:member.read", "core:member.read", "im:card.write"],  # repeats
        [],
    ],
)
def test_consent_to_anything_else_is_refused(app, org, admin, api, scopes):
    response = install(api(admin), org, scopes=scopes)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "consent_mismatch"
    assert not Installation.objects.filter(org=org).exists()
    assert not AuditLogEntry.objects.filter(org=org, action__startswith="marketplace.").exists()


def test_consent_must_be_a_list(app, org, admin, api):
    response = api(admin).post(
        url(org), {"app": "com.acme.expense", "scopes": "all"}, format="json"
    )
    assert response.status_code == 400


def test_members_cannot_install_but_can_see_installed_apps(app, org, admin, member, api):
    refused = install(api(member), org)
    assert refused.status_code == 403
    install(api(admin), org)
    assert len(api(member).get(url(org)).json()) == 1


def test_unknown_or_unpublished_app_is_refused(make_partner_app, org, admin, api):
    make_partner_app("com.acme.expense")  # never published
    response = install(api(admin), org, scopes=[])
    assert response.status_code == 400 and "app" in response.json()["error"]["fields"]


def test_installing_twice_returns_the_first_installation(app, org, admin, api):
    first = install(api(admin), org)
    again = install(api(admin), org)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Installation.objects.filter(org=org).count() == 1


def test_plans_are_checked_and_install_hooks_run_in_the_transaction(
    app, org, admin, api, monkeypatch
):
    calls = []
    monkeypatch.setattr(
        actions, "INSTALL_HOOKS", [lambda inst, plan: calls.append((inst.pk, plan))]
    )
    bad = install(api(admin), org, plan="platinum")
    assert bad.status_code == 400 and "plan" in bad.json()["error"]["fields"]
    ok = install(api(admin), org, plan="team")
    assert calls == [(ok.json()["id"], "team")]


def test_a_failing_install_hook_leaves_nothing_behind(app, org, admin, api, monkeypatch):
    from core.errors import ValidationFailed

    def refuse(installation, plan):
        raise ValidationFailed("Payment method needed.", fields={"plan": ["No card."]})

    monkeypatch.setattr(actions, "INSTALL_HOOKS", [refuse])
    assert install(api(admin), org, plan="team").status_code == 400
    assert not Installation.objects.filter(org=org).exists()
    assert not Membership.objects.filter(org=org, user__is_app=True).exists()


def test_paid_only_app_needs_a_plan(published_app, org, admin, api):
    plans = {
        "plans": [
            {
                "code": "pro",
                "name": "Pro",
                "type": "flat",
                "interval": "year",
                "amount": 980000,
                "currency": "CNY",
            }
        ]
    }
    published_app(app_id="com.acme.expense", pricing=plans)
    assert install(api(admin), org).status_code == 400
    assert install(api(admin), org, plan="pro").status_code == 201


def test_more_scopes_wait_for_consent_fewer_upgrade_at_once(app, org, admin, api, publish_version):
    client = api(admin)
    iid = install(client, org).json()["id"]
    more = [*SCOPES, "lowcode:record.read"]
    publish_version(app, make_manifest(app.app_id, version="1.1.0", scopes=more))
    shown = client.get(url(org, f"{iid}/")).json()
    assert shown["version"] == "1.0.0" and shown["granted_scopes"] == SCOPES
    assert shown["pending_upgrade"]["version"] == "1.1.0"
    assert shown["pending_upgrade"]["new_scopes"] == ["lowcode:record.read"]
    # consent must match the new version's scopes exactly
    wrong = client.post(url(org, f"{iid}/consent/"), {"scopes": SCOPES}, format="json")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "consent_mismatch"
    agreed = client.post(url(org, f"{iid}/consent/"), {"scopes": more}, format="json")
    assert agreed.status_code == 200, agreed.content
    assert agreed.json()["granted_scopes"] == more and agreed.json()["pending_upgrade"] is None
    assert agreed.json()["version"] == "1.1.0"
    entry = AuditLogEntry.objects.get(org=org, action="marketplace.app.scopes_granted")
    assert entry.data["added"] == ["lowcode:record.read"]
    nothing = client.post(url(org, f"{iid}/consent/"), {"scopes": more}, format="json")
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "nothing_to_consent"
    # fewer scopes: upgraded without asking
    publish_version(app, make_manifest(app.app_id, version="1.2.0", scopes=["im:card.write"]))
    fewer = client.get(url(org, f"{iid}/")).json()
    assert fewer["version"] == "1.2.0" and fewer["granted_scopes"] == ["im:card.write"]
    assert fewer["pending_upgrade"] is None


def test_members_cannot_consent(app, org, admin, member, api, publish_version):
    iid = install(api(admin), org).json()["id"]
    more = [*SCOPES, "lowcode:record.read"]
    publish_version(app, make_manifest(app.app_id, version="1.1.0", scopes=more))
    assert (
        api(member).post(url(org, f"{iid}/consent/"), {"scopes": more}, format="json").status_code
        == 403
    )
    assert Installation.objects.get(pk=iid).granted_scopes == SCOPES


def test_uninstall_revokes_tokens_and_reinstall_works(app, org, admin, api, monkeypatch):
    client = api(admin)
    iid = install(client, org).json()["id"]
    revoked = []
    import marketplace.oauth

    real = marketplace.oauth.revoke_installation_tokens
    monkeypatch.setattr(
        marketplace.oauth,
        "revoke_installation_tokens",
        lambda inst: revoked.append(inst.pk) or real(inst),
    )
    gone = client.post(url(org, f"{iid}/uninstall/"))
    assert gone.status_code == 200 and gone.json()["status"] == "uninstalled"
    assert revoked == [iid]
    installation = Installation.objects.get(pk=iid)
    assert installation.uninstalled_at is not None
    assert installation.app_member.status == "suspended"
    assert AuditLogEntry.objects.filter(org=org, action="marketplace.app.uninstalled").count() == 1
    assert client.post(url(org, f"{iid}/uninstall/")).status_code == 409
    assert client.get(url(org)).json() == []
    assert len(client.get(url(org) + "?include_uninstalled=1").json()) == 1
    again = install(client, org)
    assert again.status_code == 201 and again.json()["id"] != iid


def test_members_cannot_uninstall(app, org, admin, member, api):
    iid = install(api(admin), org).json()["id"]
    assert api(member).post(url(org, f"{iid}/uninstall/")).status_code == 403
    assert Installation.objects.get(pk=iid).is_active


def test_another_organisations_installation_is_404(app, org, admin, outsider, other_org, api):
    iid = install(api(admin), org).json()["id"]
    stranger = api(outsider)
    for path in ("", "consent/", "uninstall/"):
        method = stranger.get if not path else stranger.post
        response = method(url(org, f"{iid}/{path}"), {"scopes": SCOPES}, format="json")
        assert response.status_code == 404, path
        # the outsider's own organisation does not have it either
        response = method(url(other_org, f"{iid}/{path}"), {"scopes": SCOPES}, format="json")
        assert response.status_code == 404, path
    assert stranger.get(url(org)).status_code == 404
    assert api(outsider).get(url(other_org)).json() == []
    assert Installation.objects.get(pk=iid).is_active


def test_partner_sees_installs_of_its_apps_by_org_name(app, org, admin, partner_owner, api):
    install(api(admin), org)
    rows = (
        api(partner_owner.user)
        .get(f"/api/v1/marketplace/partners/{partner_owner.partner_id}/installs/")
        .json()
    )
    assert rows[0]["app_id"] == "com.acme.expense" and rows[0]["count"] == 1
    assert set(rows[0]["orgs"][0]) == {"org_name", "installed_at", "version"}
    assert rows[0]["orgs"][0]["org_name"] == "Acme Dairy"
    apps = (
        api(partner_owner.user)
        .get(f"/api/v1/marketplace/apps/?partner={partner_owner.partner_id}")
        .json()
    )
    assert apps[0]["active_installs"] == 1


def test_events_are_emitted_when_the_webhook_module_exists(app, org, admin, api, monkeypatch):
    sent = []
    monkeypatch.setattr(actions, "emit_app_event", lambda org_id, kind, data: sent.append(kind))
    iid = install(api(admin), org).json()["id"]
    api(admin).post(url(org, f"{iid}/uninstall/"))
    assert sent == ["app.installed", "app.uninstalled"]


def test_fewer_scopes_revoke_tokens_carrying_the_dropped_ones(
    app, org, admin, api, publish_version, monkeypatch
):
    import marketplace.oauth

    iid = install(api(admin), org).json()["id"]
    revoked = []
    monkeypatch.setattr(
        marketplace.oauth, "revoke_installation_tokens", lambda inst: revoked.append(inst.pk) or 0
    )
    publish_version(app, make_manifest(app.app_id, version="1.0.1"))  # same scopes
    assert revoked == []
    publish_version(app, make_manifest(app.app_id, version="1.1.0", scopes=["im:card.write"]))
    assert revoked == [iid]
    assert AuditLogEntry.objects.filter(org=org, action="marketplace.app.upgraded").count() == 2


def test_an_installed_apps_account_is_not_a_member_of_the_directory_or_the_seat_count(
    installed_app, org, owner, api
):
    """The app's own account acts in the organisation but is not a person: the directory
    does not list it and it does not use up a seat of the plan."""
    from core.actions import _check_member_limit

    app_member = installed_app.app_member
    assert app_member is not None and app_member.user.is_app

    listed = api(owner).get(f"/api/v1/orgs/{org.pk}/members/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert app_member.pk not in [row["id"] for row in rows]
    assert owner.pk in [row["id"] for row in rows]

    people = org.memberships.filter(status="active", user__is_app=False).count()
    org.member_limit = people
    org.save(update_fields=["member_limit"])
    _check_member_limit(org)  # the app's account does not push the org over its limit
