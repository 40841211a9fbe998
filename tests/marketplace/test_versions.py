"""Versions and their review: draft → submitted → approved | rejected → published."""

from __future__ import annotations

import pytest

from marketplace.actions import TRANSITIONS
from marketplace.models import AppVersion
from tests.marketplace.conftest import make_manifest

P = "/api/v1/marketplace/"


@pytest.fixture
def app(make_partner_app):
    return make_partner_app("com.acme.expense")


def create(client, app, **overrides):
    return client.post(
        P + "versions/",
        {"app": app.pk, "manifest": make_manifest(app.app_id, **overrides)},
        format="json",
    )


def test_the_whole_review_flow(app, partner_owner, operator, api):
    partner, ops = api(partner_owner.user), api(operator)
    created = create(partner, app)
    assert created.status_code == 201, created.content
    version = created.json()
    assert version["status"] == "draft" and version["version"] == "1.0.0"
    assert version["new_scopes"] == ["core:member.read", "im:card.write"]  # nothing published
    vid = version["id"]
    # operators never see drafts
    assert ops.get(f"{P}versions/{vid}/").status_code == 404
    assert ops.get(P + "review/").json() == []
    assert partner.post(f"{P}versions/{vid}/submit/").json()["status"] == "submitted"
    queue = ops.get(P + "review/").json()
    assert [v["id"] for v in queue] == [vid] and queue[0]["partner_name"] == "Acme Apps"
    assert ops.post(f"{P}versions/{vid}/approve/", {}, format="json").json()["status"] == "approved"
    published = partner.post(f"{P}versions/{vid}/publish/").json()
    assert published["status"] == "published" and published["published_at"]
    app.refresh_from_db()
    assert app.published_version_id == vid and app.name == "Quick Expense"
    assert app.categories == ["finance"]


def test_reject_needs_a_reason_which_the_partner_sees(app, partner_owner, operator, api):
    partner, ops = api(partner_owner.user), api(operator)
    vid = create(partner, app).json()["id"]
    partner.post(f"{P}versions/{vid}/submit/")
    no_reason = ops.post(f"{P}versions/{vid}/reject/", {"reason": "  "}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]
    rejected = ops.post(
        f"{P}versions/{vid}/reject/", {"reason": "The icon is blurry."}, format="json"
    )
    assert rejected.json()["status"] == "rejected"
    seen = partner.get(f"{P}versions/?app={app.pk}").json()[0]
    assert seen["review_reason"] == "The icon is blurry."
    # fix and resubmit
    edited = partner.patch(
        f"{P}versions/{vid}/",
        {"manifest": make_manifest(app.app_id, description="Sharper icon now.")},
        format="json",
    )
    assert edited.json()["status"] == "draft"
    assert partner.post(f"{P}versions/{vid}/submit/").json()["status"] == "submitted"


def test_non_staff_cannot_review(app, partner_owner, make_user, api):
    partner = api(partner_owner.user)
    vid = create(partner, app).json()["id"]
    partner.post(f"{P}versions/{vid}/submit/")
    for who in (partner, api(make_user())):
        assert who.post(f"{P}versions/{vid}/approve/", {}, format="json").status_code == 403
        assert (
            who.post(f"{P}versions/{vid}/reject/", {"reason": "no"}, format="json").status_code
            == 403
        )
        assert who.get(P + "review/").status_code == 403
    assert AppVersion.objects.get(pk=vid).status == "submitted"


def test_invalid_transitions_are_409(app, partner_owner, operator, api):
    partner, ops = api(partner_owner.user), api(operator)
    vid = create(partner, app).json()["id"]
    for step in ("publish", "withdraw"):
        answer = partner.post(f"{P}versions/{vid}/{step}/")
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "invalid_transition"
    partner.post(f"{P}versions/{vid}/submit/")
    assert partner.post(f"{P}versions/{vid}/submit/").status_code == 409
    assert partner.post(f"{P}versions/{vid}/publish/").status_code == 409
    edit = partner.patch(
        f"{P}versions/{vid}/", {"manifest": make_manifest(app.app_id)}, format="json"
    )
    assert edit.status_code == 409
    ops.post(f"{P}versions/{vid}/approve/", {}, format="json")
    assert (
        ops.post(f"{P}versions/{vid}/reject/", {"reason": "late"}, format="json").status_code == 409
    )
    partner.post(f"{P}versions/{vid}/publish/")
    assert partner.post(f"{P}versions/{vid}/publish/").status_code == 409
    assert ops.post(f"{P}versions/{vid}/approve/", {}, format="json").status_code == 409
    assert AppVersion.objects.get(pk=vid).status == "published"


def test_transition_table_is_explicit():
    assert TRANSITIONS["publish"] == (frozenset({"approved"}), "published")
    assert TRANSITIONS["approve"][0] == frozenset({"submitted"})


def test_invalid_manifest_reports_each_problem_and_writes_nothing(app, partner_owner, api):
    answer = create(api(partner_owner.user), app, scopes=["im:nope"], version="one", categories=[])
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_manifest"
    assert {"scopes[0]", "version", "categories"} <= set(error["fields"])
    assert not AppVersion.objects.filter(app=app).exists()


def test_manifest_must_match_the_app_and_bump_the_version(app, partner_owner, publish_version, api):
    partner = api(partner_owner.user)
    wrong_id = create(partner, app, id="com.acme.other")
    assert wrong_id.json()["error"]["fields"]["id"] == ["This app's id is com.acme.expense."]
    publish_version(app, make_manifest(app.app_id, version="1.2.0"))
    same = create(partner, app, version="1.2.0")
    assert same.status_code == 400 and "version" in same.json()["error"]["fields"]
    older = create(partner, app, version="1.1.9")
    assert "Must be above" in older.json()["error"]["fields"]["version"][0]


def test_more_scopes_are_recorded_as_new_and_reviewed_again(
    app, partner_owner, operator, publish_version, api
):
    first = publish_version(app, make_manifest(app.app_id))
    partner = api(partner_owner.user)
    more = create(
        partner,
        app,
        version="1.1.0",
        scopes=["core:member.read", "im:card.write", "lowcode:record.read"],
    )
    assert more.json()["new_scopes"] == ["lowcode:record.read"]
    assert more.json()["published_scopes"] == ["core:member.read", "im:card.write"]
    vid = more.json()["id"]
    partner.post(f"{P}versions/{vid}/submit/")
    queued = api(operator).get(P + "review/").json()[0]
    assert queued["new_scopes"] == ["lowcode:record.read"]
    api(operator).post(f"{P}versions/{vid}/approve/", {}, format="json")
    partner.post(f"{P}versions/{vid}/publish/")
    first.refresh_from_db()
    assert first.status == "retired"
    app.refresh_from_db()
    assert app.published_version_id == vid


def test_drafts_are_private_to_the_partner(app, partner_owner, make_user, operator, api):
    vid = create(api(partner_owner.user), app).json()["id"]
    stranger = api(make_user())
    assert stranger.get(f"{P}versions/{vid}/").status_code == 404
    assert stranger.get(f"{P}versions/?app={app.pk}").status_code == 404
    assert stranger.post(f"{P}versions/{vid}/submit/").status_code == 404
    assert (
        stranger.post(
            P + "versions/",
            {"app": app.pk, "manifest": make_manifest(app.app_id, version="2.0.0")},
            format="json",
        ).status_code
        == 404
    )
    assert api(operator).post(f"{P}versions/{vid}/submit/").status_code == 404
    assert AppVersion.objects.get(pk=vid).status == "draft"


def test_operator_cannot_publish_for_the_partner(app, partner_owner, operator, api):
    partner = api(partner_owner.user)
    vid = create(partner, app).json()["id"]
    partner.post(f"{P}versions/{vid}/submit/")
    api(operator).post(f"{P}versions/{vid}/approve/", {}, format="json")
    assert api(operator).post(f"{P}versions/{vid}/publish/").status_code == 404
    assert api(operator).get(f"{P}versions/{vid}/").status_code == 200


def test_publishing_an_older_approved_version_after_a_newer_one_is_409(
    app, partner_owner, operator, api
):
    partner, ops = api(partner_owner.user), api(operator)
    a = create(partner, app, version="1.0.0").json()["id"]
    b = create(partner, app, version="1.1.0").json()["id"]
    for vid in (a, b):
        partner.post(f"{P}versions/{vid}/submit/")
        ops.post(f"{P}versions/{vid}/approve/", {}, format="json")
    assert partner.post(f"{P}versions/{b}/publish/").status_code == 200
    late = partner.post(f"{P}versions/{a}/publish/")
    assert late.status_code == 409 and late.json()["error"]["code"] == "invalid_transition"


def test_publish_updates_the_oauth_redirect_uris(app, publish_version):
    publish_version(
        app,
        make_manifest(app.app_id, oauth={"redirect_uris": ["https://new.example.test/cb"]}),
    )
    app.oauth_application.refresh_from_db()
    assert app.oauth_application.redirect_uris == "https://new.example.test/cb"


def test_withdraw_returns_a_submitted_version_to_draft(app, partner_owner, operator, api):
    partner = api(partner_owner.user)
    vid = create(partner, app).json()["id"]
    partner.post(f"{P}versions/{vid}/submit/")
    assert partner.post(f"{P}versions/{vid}/withdraw/").json()["status"] == "draft"
    assert api(operator).get(P + "review/").json() == []
    assert api(operator).get(f"{P}versions/{vid}/").status_code == 404  # a draft again


def test_review_queue_filters_by_status(app, partner_owner, operator, api):
    partner = api(partner_owner.user)
    vid = create(partner, app).json()["id"]
    partner.post(f"{P}versions/{vid}/submit/")
    api(operator).post(f"{P}versions/{vid}/reject/", {"reason": "No icon."}, format="json")
    rejected = api(operator).get(P + "review/?status=rejected").json()
    assert [v["id"] for v in rejected] == [vid]
    assert api(operator).get(P + "review/?status=draft").status_code == 400
