"""Celery tasks: the nightly rollup of yesterday, and a refresh of today so far."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.utils import timezone

from core.metrics.models import PlatformDaily
from core.metrics.rollup import day_bounds, rollup_day

#: Requests finishing just after midnight may still record on the old day.
SETTLE = datetime.timedelta(minutes=5)


@shared_task(name="core.metrics.tasks.rollup_yesterday")
def rollup_yesterday() -> str:
    """Final numbers for yesterday, once (scheduled hourly; skips when already final)."""
    day = timezone.localdate() - datetime.timedelta(days=1)
    _start, end = day_bounds(day)
    if timezone.now() < end + SETTLE:
        return f"{day}: waiting for the day to settle"
    if PlatformDaily.objects.filter(day=day, computed_at__gte=end + SETTLE).exists():
        return f"{day}: already final"
    summary = rollup_day(day)
    return f"{summary.day}: {summary.dag} DAG of {summary.orgs}"


@shared_task(name="core.metrics.tasks.rollup_today")
def rollup_today() -> str:
    """Today so far, so the platform charts move during the day."""
    summary = rollup_day(timezone.localdate())
    return f"{summary.day}: {summary.dag} DAG of {summary.orgs}"
