"""Recording activity on the request path: embedded upsert table, Redis, dedup, systems."""

from __future__ import annotations

import os

import pytest
from django.utils import timezone

from core.metrics import recording
from core.metrics.models import ActivityDaily, DailyOrgRollup, SystemDaily
from core.metrics.rollup import rollup_day
from tests.core.metrics_support import _fresh_metrics

pytestmark = pytest.mark.django_db
__all__ = ["_fresh_metrics"]

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture
def embedded(settings):
    settings.TACK_METRICS_BACKEND = "db"


@pytest.fixture
def redis_mode(settings):
    if not REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    settings.REDIS_URL = REDIS_URL
    settings.TACK_METRICS_BACKEND = "redis"
    yield recording.client()
    keys = list(recording.client().scan_iter(f"{settings.TACK_METRICS_REDIS_PREFIX}:*"))
    if keys:
        recording.client().delete(*keys)


def test_an_api_call_records_the_member_once_a_minute(embedded, org, member, api):
    client = api(member)
    for _ in range(3):
        assert client.get(f"/api/v1/orgs/{org.pk}/members/").status_code == 200
    row = ActivityDaily.objects.get(org=org, member_id=member.pk)
    assert (row.day, row.user_id, row.minutes) == (timezone.localdate(), member.user_id, 1)
    recording.dedup.clear()  # as when the next minute starts
    client.get(f"/api/v1/orgs/{org.pk}/members/")
    row.refresh_from_db()
    assert row.minutes == 2


def test_a_repeat_in_the_same_minute_costs_no_query(
    embedded, org, member, django_assert_num_queries
):
    recording.note_activity(org.pk, member.pk, member.user_id, ["lowcode_app:1"])
    with django_assert_num_queries(0):
        recording.note_activity(org.pk, member.pk, member.user_id, ["lowcode_app:1"])


def test_a_page_view_records_too(embedded, client, org, member):
    client.force_login(member.user)
    assert client.get(f"/o/{org.pk}/").status_code == 200
    assert ActivityDaily.objects.filter(org=org, member_id=member.pk).exists()


def test_refused_requests_and_other_orgs_record_nothing(embedded, org, member, outsider, api):
    assert api(member).get(f"/api/v1/orgs/{org.pk}/audit-log/").status_code == 403
    assert api(outsider).get(f"/api/v1/orgs/{org.pk}/members/").status_code == 404
    assert not ActivityDaily.objects.exists()


def test_low_code_use_records_the_app_as_a_system(embedded, org, owner, api, make_form):
    form = make_form([{"key": "batch", "type": "text", "label": "Batch"}])
    response = api(owner).get(f"/api/v1/orgs/{org.pk}/lowcode/records/?form={form.pk}")
    assert response.status_code == 200
    assert set(SystemDaily.objects.filter(org=org).values_list("system", flat=True)) == {
        f"lowcode_app:{form.app_id}"
    }


def test_chat_counts_as_activity_but_not_as_a_system(embedded, org, member, api):
    assert api(member).get(f"/api/v1/orgs/{org.pk}/conversations/").status_code == 200
    assert list(SystemDaily.objects.filter(org=org).values_list("system", flat=True)) == ["chat"]
    rollup_day(timezone.localdate())
    row = DailyOrgRollup.objects.get(org=org, day=timezone.localdate())
    assert (row.active, row.systems_used) == (1, 0)


def test_an_app_account_records_its_installation_not_a_member(embedded, org, add_member, make_user):
    from core.metrics import systems

    app_member = add_member(org, user=make_user(is_app=True))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(systems, "installation_of_app_member", lambda pk: 77)

        class FakeRequest:
            resolver_match = None
            user = app_member.user

        recording.note_request(FakeRequest(), app_member, 200)
    assert not ActivityDaily.objects.exists()
    assert list(SystemDaily.objects.values_list("system", flat=True)) == ["app:77"]


def test_socket_connect_records_chat_in_each_organisation(
    embedded, org, member, other_org, add_member
):
    add_member(other_org, user=member.user)
    recording.note_socket_connect(member.user)
    assert set(ActivityDaily.objects.values_list("org_id", flat=True)) == {org.pk, other_org.pk}


def test_redis_mode_records_in_one_round_trip_and_rolls_up(redis_mode, org, owner, member, api):
    r = redis_mode
    assert api(member).get(f"/api/v1/orgs/{org.pk}/conversations/").status_code == 200
    today = timezone.localdate()
    assert not ActivityDaily.objects.exists()
    assert r.smembers(recording.day_key(today, "o", org.pk, "m")) == {str(member.pk).encode()}
    assert r.smembers(recording.day_key(today, "o", org.pk, "s")) == {b"chat"}
    assert str(org.pk).encode() in r.smembers(recording.day_key(today, "orgs"))
    assert r.ttl(recording.day_key(today, "o", org.pk, "m")) > 86400
    recording.note_activity(org.pk, owner.pk, owner.user_id, ["lowcode_app:5"])
    summary = rollup_day(today)
    row = DailyOrgRollup.objects.get(org=org, day=today)
    assert (row.active, row.systems, summary.dau) == (2, ["lowcode_app:5"], 2)


def test_a_broken_store_never_breaks_the_request(settings, org, member, api):
    settings.TACK_METRICS_BACKEND = "redis"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    recording.redis_client.cache_clear()
    try:
        assert api(member).get(f"/api/v1/orgs/{org.pk}/members/").status_code == 200
    finally:
        recording.redis_client.cache_clear()
