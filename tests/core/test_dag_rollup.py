"""Definition versions, idempotent recompute, and the dag_rollup command's errors."""

from __future__ import annotations

import datetime
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.errors import ValidationFailed
from core.metrics.models import DagDefinition, DailyOrgRollup, PlatformDaily
from core.metrics.rollup import definition_for_day, do_create_definition, rollup_day
from tests.core.metrics_support import _fresh_metrics, activity, at, systems, yesterday

pytestmark = pytest.mark.django_db
__all__ = ["_fresh_metrics"]


@pytest.fixture
def day():
    return yesterday() - datetime.timedelta(days=3)


@pytest.fixture
def busy(org, owner, add_member, day):
    """Four members, two active, six systems: DAG by 1/3, not by 1/2 + 8 systems."""
    owner.joined_at = at(day - datetime.timedelta(days=30))
    owner.save(update_fields=["joined_at"])
    team = [owner] + [add_member(org, joined_at=owner.joined_at) for _ in range(3)]
    activity(org, day, team[:2], systems(6))
    return team


def run(*args: str) -> str:
    out = StringIO()
    call_command("dag_rollup", *args, stdout=out)
    return out.getvalue()


def test_recompute_is_idempotent(org, busy, day):
    first = run("--date", day.isoformat())
    rows = list(
        DailyOrgRollup.objects.filter(day=day).values(
            "org_id", "members", "active", "systems", "is_dag"
        )
    )
    second = run("--date", day.isoformat())
    assert first == second
    assert (
        list(
            DailyOrgRollup.objects.filter(day=day).values(
                "org_id", "members", "active", "systems", "is_dag"
            )
        )
        == rows
    )
    assert DailyOrgRollup.objects.filter(day=day, org=org).count() == 1
    assert PlatformDaily.objects.filter(day=day).count() == 1
    assert "1 DAG" in first


def test_a_new_definition_does_not_rewrite_history(org, busy, day):
    rollup_day(day)
    old = DailyOrgRollup.objects.get(org=org, day=day)
    assert (old.is_dag, old.definition_version) == (True, 1)
    with mock.patch(
        "django.utils.timezone.now", return_value=at(day + datetime.timedelta(days=1), 9)
    ):
        v2 = do_create_definition(None, min_active_share="1/2", min_systems=8)
    assert v2.version == 2
    # Recomputing the past day keeps the version that was current then...
    rollup_day(day)
    again = DailyOrgRollup.objects.get(org=org, day=day)
    assert (again.is_dag, again.definition_version) == (True, 1)
    # ...unless a version is asked for explicitly.
    run("--date", day.isoformat(), "--definition", "2")
    strict = DailyOrgRollup.objects.get(org=org, day=day)
    assert (strict.is_dag, strict.definition_version) == (False, 2)
    # Days after the change use the new version.
    assert definition_for_day(day + datetime.timedelta(days=1)).version == 2
    assert definition_for_day(timezone.localdate()).version == 2


def test_definitions_are_kept_and_numbered(db):
    do_create_definition(None, min_active_share="0.25", min_systems=3, min_usage_minutes=5)
    do_create_definition(None, min_active_share="40%", min_systems=6)
    rows = list(
        DagDefinition.objects.order_by("version").values_list(
            "version", "share_numerator", "share_denominator", "min_systems", "min_usage_minutes"
        )
    )
    assert rows == [(1, 1, 3, 6, 0), (2, 1, 4, 3, 5), (3, 2, 5, 6, 0)]


@pytest.mark.parametrize(
    "fields",
    [
        {"min_active_share": "abc", "min_systems": 6},
        {"min_active_share": "0", "min_systems": 6},
        {"min_active_share": "4/3", "min_systems": 6},
        {"min_active_share": "1/3", "min_systems": -1},
        {"min_active_share": "1/3", "min_systems": "six"},
        {"min_active_share": "1/3", "min_systems": 6, "min_usage_minutes": 2000},
    ],
)
def test_malformed_thresholds_are_refused(db, fields):
    with pytest.raises(ValidationFailed) as err:
        do_create_definition(None, **fields)
    assert err.value.code == "invalid_threshold"
    assert DagDefinition.objects.filter(version__gt=1).count() == 0


def test_command_refuses_future_dates_and_long_ranges(db):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(CommandError, match="in the future"):
        run("--date", tomorrow.isoformat())
    with pytest.raises(CommandError, match="at most 366 days"):
        run("--from", "2020-01-01", "--to", "2021-06-01")
    with pytest.raises(CommandError, match="not a date"):
        run("--date", "2026-13-45")
    with pytest.raises(CommandError, match="must not be after the end date"):
        run("--from", "2024-02-02", "--to", "2024-02-01")
    with pytest.raises(CommandError, match="no DAG definition version 9"):
        run("--date", "2024-02-02", "--definition", "9")
    assert not DailyOrgRollup.objects.exists()


def test_command_rolls_up_a_range(org, busy, day):
    out = run("--from", (day - datetime.timedelta(days=2)).isoformat(), "--to", day.isoformat())
    assert out.count("\n") == 3
    assert DailyOrgRollup.objects.filter(org=org).count() == 3


def test_platform_row_counts_dag_dau_and_breakdown(org, busy, day, make_org):
    make_org(edition="professional")
    rollup_day(day)
    p = PlatformDaily.objects.get(day=day)
    assert (p.dag_count, p.dau, p.mau) == (1, 2, 2)
    assert p.breakdown["size"]["<500"]["dag"] == 1
    assert p.breakdown["edition"]["free"]["dag"] == 1


def test_nightly_task_computes_yesterday_once(org, busy):
    from core.metrics.tasks import rollup_today, rollup_yesterday

    today = timezone.localdate()
    with mock.patch(
        "django.utils.timezone.now", return_value=at(today, 0) + datetime.timedelta(minutes=2)
    ):
        assert rollup_yesterday().endswith("waiting for the day to settle")
    with mock.patch("django.utils.timezone.now", return_value=at(today, 12)):
        assert "DAG" in rollup_yesterday()
        assert rollup_yesterday().endswith("already final")
        assert PlatformDaily.objects.filter(day=today - datetime.timedelta(days=1)).count() == 1
        assert "DAG" in rollup_today()
        assert PlatformDaily.objects.filter(day=today).exists()
