"""The DAG rule at its edges: one third, 5 and 6 systems, who counts as a member."""

from __future__ import annotations

import datetime

import pytest

from core.actions import do_remove_member, do_set_member_status
from core.metrics.models import DailyOrgRollup
from core.metrics.rollup import ensure_definition, reason, rollup_day
from tests.core.metrics_support import _fresh_metrics, activity, at, systems, yesterday

pytestmark = pytest.mark.django_db
__all__ = ["_fresh_metrics"]


@pytest.fixture
def day():
    return yesterday()


@pytest.fixture
def team(org, owner, add_member, day):
    """Six human members in all (the owner and five more), joined well before the day."""
    others = [add_member(org, joined_at=at(day - datetime.timedelta(days=10))) for _ in range(5)]
    owner.joined_at = at(day - datetime.timedelta(days=10))
    owner.save(update_fields=["joined_at"])
    return [owner, *others]


def row(org, day) -> DailyOrgRollup:
    rollup_day(day)
    return DailyOrgRollup.objects.get(org=org, day=day)


def test_exactly_one_third_active_with_six_systems_is_dag(org, team, day):
    activity(org, day, team[:2], systems(6))
    r = row(org, day)
    assert (r.members, r.active, r.systems_used) == (6, 2, 6)
    assert r.is_dag


def test_just_under_one_third_is_not_dag(org, team, add_member, day):
    add_member(org, joined_at=at(day - datetime.timedelta(days=3)))  # 7 members: 2/7 < 1/3
    activity(org, day, team[:2], systems(6))
    r = row(org, day)
    assert (r.members, r.active) == (7, 2)
    assert not r.is_dag


def test_five_systems_are_not_enough_and_six_are(org, team, day, other_org):
    activity(org, day, team, systems(5))
    assert not row(org, day).is_dag
    activity(org, day, [], ["connection:9"])
    assert row(org, day).is_dag


def test_chat_and_data_markers_are_not_business_systems(org, team, day, settings):
    activity(org, day, team, [*systems(5), "chat", "data:connection:3"])
    r = row(org, day)
    assert r.systems_used == 5
    assert not r.is_dag
    settings.TACK_METRICS_CHAT_IS_SYSTEM = True
    assert row(org, day).is_dag


def test_member_who_joined_that_day_counts(org, team, add_member, day):
    add_member(org, joined_at=at(day, 23))
    add_member(org, joined_at=at(day + datetime.timedelta(days=1), 0))  # the next day: not yet
    assert row(org, day).members == 7


def test_member_who_left_that_day_counts_and_not_the_day_after(org, team, day, owner):
    with_time = team[3]
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=at(day, 15)):
        do_remove_member(owner, with_time)
    assert row(org, day).members == 6
    assert row(org, day + datetime.timedelta(days=1)).members == 5
    assert row(org, day - datetime.timedelta(days=1)).members == 6


def test_suspended_members_are_excluded_from_later_days(
    org, team, day, owner, django_capture_on_commit_callbacks
):
    from unittest import mock

    with (
        mock.patch("django.utils.timezone.now", return_value=at(day, 9)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        do_set_member_status(owner, team[2], "suspended")
    assert row(org, day).members == 6  # active until 9:00 that day
    assert row(org, day + datetime.timedelta(days=1)).members == 5


def test_member_suspended_before_and_reactivated_after_a_day_is_not_a_member_of_it(
    org, team, day, owner, django_capture_on_commit_callbacks
):
    from unittest import mock

    for when, status in (
        (at(day, 0) - datetime.timedelta(hours=2), "suspended"),
        (at(day + datetime.timedelta(days=1), 8), "active"),
    ):
        with (
            mock.patch("django.utils.timezone.now", return_value=when),
            django_capture_on_commit_callbacks(execute=True),
        ):
            do_set_member_status(owner, team[2], status)
    assert row(org, day).members == 5
    assert row(org, day + datetime.timedelta(days=1)).members == 6


def test_member_suspended_without_a_record_is_excluded(org, team, day):
    team[1].status = "suspended"
    team[1].save(update_fields=["status"])
    assert row(org, day).members == 5


def test_app_accounts_and_invited_people_are_not_members(org, team, day, add_member, make_user):
    add_member(org, user=make_user(is_app=True), joined_at=at(day, 1))
    add_member(org, status="invited", joined_at=at(day, 1))
    assert row(org, day).members == 6


def test_an_organisation_without_members_is_never_dag(make_org, day):
    org = make_org(created_at=at(day - datetime.timedelta(days=5)))
    org.memberships.all().delete()
    activity(org, day, [], systems(9))
    r = row(org, day)
    assert r.members == 0 and not r.is_dag


def test_minimum_usage_time_counts_only_members_with_enough_minutes(org, team, day):
    from core.metrics.rollup import do_create_definition

    activity(org, day, team[:1], systems(6), minutes=30)
    activity(org, day, team[1:2], [], minutes=3)
    assert row(org, day).active == 2
    d = do_create_definition(None, min_active_share="1/3", min_systems=6, min_usage_minutes=10)
    rollup_day(day, d.version)
    r = DailyOrgRollup.objects.get(org=org, day=day)
    assert (r.active, r.definition_version, r.is_dag) == (1, d.version, False)


def test_reason_in_plain_words():
    d = ensure_definition()
    assert reason(28, 100, 4, d) == (
        "Not active: 28% of members active (28 of 100), needs 33%; 4 of 6 systems used."
    )
    assert reason(34, 100, 6, d).startswith("Active: 34% of members active")
