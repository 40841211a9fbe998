"""Deeply integrated organisations: a recent successful sync, landed data, used that day."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from connectors.models import Connection, Destination, SyncedRecord, SyncRun
from core.metrics import recording
from core.metrics.models import DailyOrgRollup
from core.metrics.rollup import rollup_day
from lowcode.actions import do_create_record
from tests.core.metrics_support import _fresh_metrics, activity, at, yesterday

pytestmark = pytest.mark.django_db
__all__ = ["_fresh_metrics"]

FIELDS = [{"key": "batch", "type": "text", "label": "Batch"}]


@pytest.fixture
def day():
    return yesterday()


@pytest.fixture
def erp(org, owner):
    return Connection.objects.create(org=org, name="ERP", type="sql", created_by=owner)


@pytest.fixture
def landed(org, owner, erp, make_form):
    """A form the ERP syncs into, with one synced record."""
    form = make_form(FIELDS, name="Orders")
    destination = Destination.objects.create(org=org, connection=erp, stream="orders", form=form)
    record = do_create_record(owner, form, {"batch": "B-1"})[0]
    SyncedRecord.objects.create(
        org=org,
        destination=destination,
        external_id="1",
        record=record,
        data_hash="x",
        synced_at=at(yesterday() - datetime.timedelta(days=30)),
    )
    return record


def sync(org, erp, when, state=SyncRun.State.SUCCEEDED):
    return SyncRun.objects.create(
        org=org, connection=erp, state=state, started_at=when, finished_at=when
    )


def deep(org, day) -> bool:
    rollup_day(day)
    return DailyOrgRollup.objects.get(org=org, day=day).is_deep


def test_sync_seven_days_ago_counts_and_eight_does_not(org, erp, landed, day):
    activity(org, day, [], [f"data:connection:{erp.pk}"])
    sync(org, erp, at(day - datetime.timedelta(days=8), 23))
    assert not deep(org, day)
    sync(org, erp, at(day - datetime.timedelta(days=7), 0))
    assert deep(org, day)
    assert DailyOrgRollup.objects.get(org=org, day=day).deep_connections == [erp.pk]


def test_a_failed_or_later_sync_does_not_count(org, erp, landed, day):
    activity(org, day, [], [f"data:connection:{erp.pk}"])
    sync(org, erp, at(day, 10), state=SyncRun.State.FAILED)
    sync(org, erp, at(day + datetime.timedelta(days=1), 1))  # after the day ended
    assert not deep(org, day)


def test_data_must_have_landed_in_a_form_or_chat(org, owner, erp, day):
    activity(org, day, [], [f"data:connection:{erp.pk}"])
    sync(org, erp, at(day, 3))
    Destination.objects.create(org=org, connection=erp, stream="orders")  # nowhere to land
    assert not deep(org, day)


def test_data_landing_in_a_chat_counts(org, owner, erp, day):
    from im.actions import do_create_group

    group = do_create_group(owner, name="ERP alerts", member_ids=[])
    Destination.objects.create(org=org, connection=erp, stream="alerts", conversation=group)
    activity(org, day, [], [f"data:connection:{erp.pk}"])
    sync(org, erp, at(day, 3))
    assert deep(org, day)


def test_data_must_be_used_that_day(org, erp, landed, day):
    sync(org, erp, at(day, 3))
    activity(org, day - datetime.timedelta(days=1), [], [f"data:connection:{erp.pk}"])
    assert not deep(org, day)


def test_another_organisations_use_does_not_count(org, erp, landed, day, other_org):
    sync(org, erp, at(day, 3))
    activity(other_org, day, [], [f"data:connection:{erp.pk}"])
    assert not deep(org, day)


def test_reading_a_synced_record_records_the_use(org, owner, erp, landed, api):
    sync(org, erp, timezone.now() - datetime.timedelta(minutes=5))
    url = f"/api/v1/orgs/{org.pk}/lowcode/records/{landed.pk}/"
    assert api(owner).get(url).status_code == 200
    recording.reset()
    today = timezone.localdate()
    assert deep(org, today)
    row = DailyOrgRollup.objects.get(org=org, day=today)
    assert f"connection:{erp.pk}" in row.systems
    assert f"lowcode_app:{landed.form.app_id}" in row.systems
