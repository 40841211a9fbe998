"""The partner's delivery log, replay, secret rotation; the org admins' delivery list."""

from __future__ import annotations

import pytest
from django.utils import timezone

from marketplace.events import create_deliveries
from marketplace.models import PartnerMember, WebhookDelivery
from marketplace.webhooks import app_signing_secret, deliver_batch, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_delivery(hooked_app, webhook_receiver, settings):
    settings.TACK_WEBHOOK_RETRY_SCHEDULE = []
    installation = hooked_app(["lowcode.record.created"])
    ids = create_deliveries(
        installation.org_id,
        "lowcode.record.created",
        {"record": {"id": 1}},
        timezone.now(),
        only={installation.pk},
    )
    webhook_receiver.status = 500
    deliver_batch(ids)
    webhook_receiver.status = 200
    return WebhookDelivery.objects.get(pk=ids[0])


def _partner_client(api, make_user, app, role="developer"):
    user = make_user(name=f"Partner {role}")
    PartnerMember.objects.create(partner=app.partner, user=user, role=role)
    return api(user)


def test_partner_lists_and_reads_deliveries_with_attempts(failed_delivery, api, make_user):
    app = failed_delivery.app
    client = _partner_client(api, make_user, app)
    listing = client.get(f"/api/v1/marketplace/apps/{app.pk}/deliveries/")
    assert listing.status_code == 200
    [row] = listing.json()["results"]
    assert row["id"] == failed_delivery.pk and row["status"] == "failed"
    assert row["webhook_id"] == failed_delivery.message_id and row["attempts"] == 1
    assert "payload" not in row
    assert (
        client.get(f"/api/v1/marketplace/apps/{app.pk}/deliveries/?status=delivered").json()[
            "results"
        ]
        == []
    )
    bad = client.get(f"/api/v1/marketplace/apps/{app.pk}/deliveries/?status=nope")
    assert bad.status_code == 400
    detail = client.get(f"/api/v1/marketplace/apps/{app.pk}/deliveries/{failed_delivery.pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["payload"]["type"] == "lowcode.record.created"
    [attempt] = body["attempt_log"]
    assert attempt["status_code"] == 500 and attempt["succeeded"] is False


def test_partner_replays_a_failed_delivery(
    failed_delivery, api, make_user, webhook_receiver, django_capture_on_commit_callbacks
):
    app = failed_delivery.app
    client = _partner_client(api, make_user, app)
    url = f"/api/v1/marketplace/apps/{app.pk}/deliveries/{failed_delivery.pk}/replay/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 202
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == "delivered" and failed_delivery.replays == 1
    assert len(webhook_receiver.requests) == 2


def test_finance_members_cannot_replay_or_rotate(failed_delivery, api, make_user):
    app = failed_delivery.app
    client = _partner_client(api, make_user, app, role="finance")
    base = f"/api/v1/marketplace/apps/{app.pk}"
    assert client.get(f"{base}/deliveries/").status_code == 200
    assert client.post(f"{base}/deliveries/{failed_delivery.pk}/replay/").status_code == 403
    assert client.post(f"{base}/webhook-secret/rotate/").status_code == 403


def test_non_members_and_other_partners_get_404(failed_delivery, api, make_user, oauth_app, member):
    app = failed_delivery.app
    other_app, _c, _s = oauth_app()  # another app of the same partner
    from marketplace.models import Partner

    other_partner = Partner.objects.create(name="Other", slug="other-p", contact_email="o@x.test")
    stranger = make_user(name="Stranger")
    PartnerMember.objects.create(partner=other_partner, user=stranger, role="owner")
    base = f"/api/v1/marketplace/apps/{app.pk}"
    for client in (api(stranger), api(member)):
        assert client.get(f"{base}/deliveries/").status_code == 404
        assert client.get(f"{base}/deliveries/{failed_delivery.pk}/").status_code == 404
        assert client.post(f"{base}/deliveries/{failed_delivery.pk}/replay/").status_code == 404
        assert client.post(f"{base}/webhook-secret/rotate/").status_code == 404
    assert api(None).get(f"{base}/deliveries/").status_code in (401, 404)
    # A delivery of another app is not reachable through this app's path.
    insider = _partner_client(api, make_user, other_app)
    wrong = f"/api/v1/marketplace/apps/{other_app.pk}/deliveries/{failed_delivery.pk}/"
    assert insider.get(wrong).status_code == 404


def test_rotate_returns_the_new_secret_once_and_signs_with_it(
    failed_delivery, api, make_user, webhook_receiver, django_capture_on_commit_callbacks
):
    app = failed_delivery.app
    old = app_signing_secret(app)
    client = _partner_client(api, make_user, app)
    response = client.post(
        f"/api/v1/marketplace/apps/{app.pk}/webhook-secret/rotate/",
        {"expire_previous_now": True},
        format="json",
    )
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    # Not readable again anywhere in the app's API.
    assert new not in client.get(f"/api/v1/marketplace/apps/{app.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/v1/marketplace/apps/{app.pk}/deliveries/{failed_delivery.pk}/replay/")
    headers, body, _path = webhook_receiver.requests[-1]
    stamp = int(headers["webhook-timestamp"])
    assert headers["webhook-signature"] == sign(new, headers["webhook-id"], stamp, body)


def test_org_admins_see_their_orgs_deliveries_only(failed_delivery, api, owner, member, outsider):
    url = f"/api/v1/orgs/{owner.org_id}/marketplace/deliveries/"
    response = api(owner).get(url)
    assert response.status_code == 200
    assert [d["id"] for d in response.json()["results"]] == [failed_delivery.pk]
    assert api(member).get(url).status_code == 403
    assert api(outsider).get(url).status_code == 404
    mine = api(outsider).get(f"/api/v1/orgs/{outsider.org_id}/marketplace/deliveries/")
    assert mine.status_code == 200 and mine.json()["results"] == []


def test_partner_console_page_shows_deliveries_and_attempts(failed_delivery, client, make_user):
    app = failed_delivery.app
    user = make_user(name="Page dev")
    PartnerMember.objects.create(partner=app.partner, user=user, role="developer")
    WebhookDelivery.objects.filter(pk=failed_delivery.pk).update(
        payload={"type": "lowcode.record.created", "data": {"x": "<script>alert(1)</script>"}}
    )
    client.force_login(user)
    page = client.get(f"/partners/apps/{app.pk}/webhooks/")
    assert page.status_code == 200
    html = page.content.decode()
    assert failed_delivery.message_id in html and "lowcode.record.created" in html
    assert "answered HTTP 500" in html
    assert f"/deliveries/{failed_delivery.pk}/replay/" in html
    assert "<script>alert(1)</script>" not in html
    assert client.get(f"/partners/apps/{app.pk}/webhooks/?status=delivered").status_code == 200
    stranger = make_user(name="Stranger")
    client.force_login(stranger)
    assert client.get(f"/partners/apps/{app.pk}/webhooks/").status_code == 404
