"""Two rollups of the same day at once (the hourly task and a manual ``dag_rollup``) take
turns instead of one failing on the unique (org, day) constraint."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from core.metrics.models import DailyOrgRollup
from core.metrics.rollup import rollup_day


@pytest.mark.django_db(transaction=True)
def test_concurrent_rollups_of_one_day_both_succeed(org, member):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time")
    day = timezone.localdate()
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            rollup_day(day)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert DailyOrgRollup.objects.filter(day=day, org=org).count() == 1
