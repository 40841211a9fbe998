"""Helpers shared by the metrics tests: write a day's raw activity directly."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone

from core.metrics import recording
from core.metrics.models import ActivityDaily, SystemDaily


@pytest.fixture(autouse=True)
def _fresh_metrics(settings):
    """Each test gets its own Redis key space and empty in-process caches."""
    settings.TACK_METRICS_REDIS_PREFIX = f"tack:test:{uuid.uuid4().hex}"
    settings.TACK_METRICS_RECORDING = True
    recording.reset()
    yield
    recording.reset()


def yesterday() -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=1)


def at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return datetime.datetime.combine(
        day, datetime.time(hour), tzinfo=timezone.get_current_timezone()
    )


def activity(org, day, members=(), systems=(), minutes=1) -> None:
    ActivityDaily.objects.bulk_create(
        [
            ActivityDaily(org=org, day=day, member_id=m.pk, user_id=m.user_id, minutes=minutes)
            for m in members
        ]
    )
    SystemDaily.objects.bulk_create([SystemDaily(org=org, day=day, system=s) for s in systems])


def systems(n: int) -> list[str]:
    return [f"lowcode_app:{i}" for i in range(1, n + 1)]
