"""Fault test: an app's webhook receiver is down for a long time.

A real HTTP receiver (threaded ``http.server`` on 127.0.0.1) is stopped, so connections are
refused. Events keep coming; each delivery is retried on the whole default schedule (hours
of backoff, simulated by moving ``next_attempt_at`` instead of sleeping) through the beat
sweep, then marked failed. The receiver comes back on the same port, the partner replays
the failed deliveries through the API: each arrives exactly once, correctly signed.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from marketplace.events import emit
from marketplace.models import PartnerMember, WebhookDelivery
from marketplace.tasks import deliver_due_webhooks
from marketplace.webhooks import app_signing_secret, verify
from tests.marketplace.conftest import (  # noqa: F401  (fixtures)
    WebhookReceiver,
    install_app,
    oauth_app,
    oauth_partner,
)

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 3


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.stop()


def _advance_to_next_attempt() -> list[float]:
    """Make every pending delivery due now; the waits (seconds) that were skipped."""
    now = timezone.now()
    waits = []
    for delivery in WebhookDelivery.objects.filter(status="pending"):
        waits.append((delivery.next_attempt_at - now).total_seconds())
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=now - timedelta(seconds=1)
        )
    return waits


def test_receiver_down_for_hours_then_failed_then_replayed(
    receiver,
    oauth_app,  # noqa: F811  (the imported fixture)
    install_app,  # noqa: F811
    org,
    api,
    make_user,
):
    app, _client_id, _secret = oauth_app(
        ["lowcode:record.read"],
        webhook={"url": receiver.url, "events": ["lowcode.record.created"]},
    )
    installation = install_app(app, org)
    schedule = list(settings.TACK_WEBHOOK_RETRY_SCHEDULE)
    assert sum(schedule) >= 3 * 3600, "the default backoff spans hours"

    receiver.stop()  # down: connections refused
    for n in range(EVENTS):
        emit(org.pk, "lowcode.record.created", {"record": {"id": n}})  # sent at once (eager)
    deliveries = WebhookDelivery.objects.filter(installation=installation)
    assert deliveries.count() == EVENTS
    assert set(deliveries.values_list("attempts", flat=True)) == {1}

    seen_waits: list[list[int]] = []
    for _retry in schedule:
        waits = _advance_to_next_attempt()
        seen_waits.append(sorted({round(w / 10) * 10 for w in waits}))
        assert deliver_due_webhooks() == EVENTS  # the beat sweep picks up every due retry
    # Each wait followed the schedule (within the seconds the test itself took).
    assert [w[0] for w in seen_waits] == [round(s / 10) * 10 for s in schedule]
    assert set(deliveries.values_list("status", flat=True)) == {"failed"}
    assert set(deliveries.values_list("attempts", flat=True)) == {1 + len(schedule)}
    assert deliver_due_webhooks() == 0  # dead letters are not retried
    assert receiver.requests == []

    receiver.start()  # back, on the same port
    partner_user = make_user(name="Dev")
    PartnerMember.objects.create(partner=app.partner, user=partner_user, role="developer")
    client = api(partner_user)
    failed = client.get(f"/api/v1/marketplace/apps/{app.pk}/deliveries/?status=failed")
    assert failed.status_code == 200
    ids = [d["id"] for d in failed.json()["results"]]
    assert len(ids) == EVENTS
    for delivery_id in ids:
        response = client.post(
            f"/api/v1/marketplace/apps/{app.pk}/deliveries/{delivery_id}/replay/"
        )
        assert response.status_code == 202, response.content
    # A later sweep finds nothing more to send.
    _advance_to_next_attempt()
    deliver_due_webhooks()

    assert set(deliveries.values_list("status", flat=True)) == {"delivered"}
    secret = app_signing_secret(app)
    counts = Counter(headers["webhook-id"] for headers, _b, _p in receiver.requests)
    assert sorted(counts) == sorted(deliveries.values_list("message_id", flat=True))
    assert set(counts.values()) == {1}, "each delivery arrived exactly once"
    for headers, body, _path in receiver.requests:
        verify(secret, headers, body)
    assert sorted(json.loads(b)["data"]["record"]["id"] for _h, b, _p in receiver.requests) == [
        0,
        1,
        2,
    ]
    detail = client.get(f"/api/v1/marketplace/apps/{app.pk}/deliveries/{ids[0]}/").json()
    assert [a["succeeded"] for a in detail["attempt_log"]] == [False] * (1 + len(schedule)) + [True]
    assert detail["replays"] == 1
