"""Reads for the metrics console, the operator dashboard and the API."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ValidationFailed
from core.metrics import recording
from core.metrics.models import ActivityDaily, DailyOrgRollup, PlatformDaily
from core.metrics.rollup import (
    MAX_RANGE_DAYS,
    MIN_DAY,
    SIZE_BUCKETS,
    OrgDay,
    check_range,
    live_status,
    share_percent,
)
from core.models import DepartmentMember, Membership, Organization

DEFAULT_RANGE_DAYS = 30


# --- parameters ------------------------------------------------------------------------------


def parse_day(raw: str | None, name: str, default: datetime.date) -> datetime.date:
    if raw in (None, ""):
        return default
    try:
        value = datetime.date.fromisoformat(str(raw))
    except ValueError:
        raise ValidationFailed(
            _("Dates look like 2026-01-31."),
            code="invalid_date",
            fields={name: [_("Use a date like 2026-01-31.")]},
        ) from None
    if value < MIN_DAY:  # also keeps the default range arithmetic inside the calendar
        raise ValidationFailed(
            _("The earliest date is %(min)s.") % {"min": MIN_DAY.isoformat()},
            code="date_too_early",
            fields={name: [_("Use %(min)s or later.") % {"min": MIN_DAY.isoformat()}]},
        )
    return value


def parse_range(
    params: Any, default_days: int = DEFAULT_RANGE_DAYS
) -> tuple[datetime.date, datetime.date]:
    """``from`` / ``to`` (inclusive; default the last ``default_days`` days to today)."""
    today = timezone.localdate()
    end = parse_day(params.get("to"), "to", today)
    start = parse_day(params.get("from"), "from", end - datetime.timedelta(days=default_days - 1))
    check_range(start, end)
    return start, end


def parse_single_day(params: Any) -> datetime.date:
    day = parse_day(params.get("date"), "date", timezone.localdate())
    check_range(day, day)
    return day


def parse_limit(params: Any, default: int = 20, high: int = 200) -> int:
    raw = params.get("limit")
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= high:
        raise ValidationFailed(
            _("limit must be a whole number from 1 to %(n)s.") % {"n": high},
            code="invalid",
            fields={"limit": [_("Use 1 to %(n)s.") % {"n": high}]},
        )
    return value


# --- an organisation -------------------------------------------------------------------------


def status_payload(r: OrgDay) -> dict[str, Any]:
    d = r.definition
    return {
        "date": r.day.isoformat(),
        "is_dag": r.is_dag,
        "is_deeply_integrated": r.is_deep,
        "members": r.members,
        "active_members": r.active,
        "active_share": round(r.active / r.members, 4) if r.members else 0.0,
        "systems_used": r.systems_used,
        "required_share_percent": share_percent(d),
        "required_share": f"{d.share_numerator}/{d.share_denominator}",
        "required_systems": d.min_systems,
        "min_usage_minutes": d.min_usage_minutes,
        "definition_version": d.version,
        "reason": r.reason,
    }


def org_status(org: Organization, day: datetime.date | None = None) -> dict[str, Any]:
    return status_payload(live_status(org, day))


def _row_payload(row: DailyOrgRollup) -> dict[str, Any]:
    return {
        "date": row.day.isoformat(),
        "members": row.members,
        "active_members": row.active,
        "active_share": round(row.active_share, 4),
        "systems_used": row.systems_used,
        "is_dag": row.is_dag,
        "is_deeply_integrated": row.is_deep,
        "definition_version": row.definition_version,
    }


def org_series(org: Organization, start: datetime.date, end: datetime.date) -> list[dict[str, Any]]:
    """One entry per day: stored rollups, and today computed live when the range reaches it."""
    rows = {
        r.day: _row_payload(r)
        for r in DailyOrgRollup.objects.filter(org=org, day__gte=start, day__lte=end)
    }
    today = timezone.localdate()
    if end >= today and today not in rows:
        live = live_status(org, today)
        rows[today] = {
            "date": today.isoformat(),
            "members": live.members,
            "active_members": live.active,
            "active_share": round(live.active / live.members, 4) if live.members else 0.0,
            "systems_used": live.systems_used,
            "is_dag": live.is_dag,
            "is_deeply_integrated": live.is_deep,
            "definition_version": live.definition.version,
        }
    out = []
    day = start
    while day <= end:
        out.append(
            rows.get(day)
            or {
                "date": day.isoformat(),
                "members": None,
                "active_members": None,
                "active_share": None,
                "systems_used": None,
                "is_dag": None,
                "is_deeply_integrated": None,
                "definition_version": None,
            }
        )
        day += datetime.timedelta(days=1)
    return out


def active_member_ids(org: Organization, day: datetime.date) -> set[int]:
    ids = set(ActivityDaily.objects.filter(org=org, day=day).values_list("member_id", flat=True))
    if recording.use_redis():
        raw = recording.client().smembers(recording.day_key(day, "o", org.pk, "m"))
        ids |= {int(x) for x in raw}
    return ids


def active_by_department(org: Organization, day: datetime.date) -> list[dict[str, Any]]:
    """Active members per department on ``day`` (a member in two departments counts in both)."""
    active = active_member_ids(org, day)
    humans = Membership.objects.filter(org=org, status=Membership.Status.ACTIVE, user__is_app=False)
    links = DepartmentMember.objects.filter(org=org, membership__in=humans).values_list(
        "department_id", "department__name", "membership_id"
    )
    groups: dict[tuple[int | None, str], set[int]] = defaultdict(set)
    placed: set[int] = set()
    for dept_id, name, member_id in links:
        groups[(dept_id, name)].add(member_id)
        placed.add(member_id)
    everyone = set(humans.values_list("id", flat=True))
    unplaced = everyone - placed
    out = [
        {
            "department_id": dept_id,
            "department": name,
            "members": len(ids),
            "active_members": len(ids & active),
        }
        for (dept_id, name), ids in sorted(groups.items(), key=lambda kv: kv[0][1].lower())
    ]
    if unplaced:
        out.append(
            {
                "department_id": None,
                "department": _("No department"),
                "members": len(unplaced),
                "active_members": len(unplaced & active),
            }
        )
    return out


def describe_systems(org: Organization, keys: Iterable[str]) -> list[dict[str, Any]]:
    """Names for system keys (``lowcode_app:3`` → the app's name), missing ones marked."""
    from connectors.models import Connection
    from lowcode.models import App
    from marketplace.models import Installation

    parsed: list[tuple[str, str, int | None]] = []
    for key in keys:
        kind, _sep, raw_id = key.partition(":")
        parsed.append((key, kind, int(raw_id) if raw_id.isdigit() else None))
    ids: dict[str, set[int]] = defaultdict(set)
    for _key, kind, ident in parsed:
        if ident is not None:
            ids[kind].add(ident)
    names: dict[tuple[str, int], str] = {}
    for pk, name in App.objects.filter(org=org, pk__in=ids["lowcode_app"]).values_list(
        "pk", "name"
    ):
        names[("lowcode_app", pk)] = name
    for pk, name in Connection.objects.filter(org=org, pk__in=ids["connection"]).values_list(
        "pk", "name"
    ):
        names[("connection", pk)] = name
    for pk, name in Installation.objects.filter(org=org, pk__in=ids["app"]).values_list(
        "pk", "app__name"
    ):
        names[("app", pk)] = name
    kinds = {
        "lowcode_app": _("Low-code app"),
        "app": _("Marketplace app"),
        "connection": _("Connector connection"),
        "chat": _("Chat"),
    }
    return [
        {
            "key": key,
            "kind": kind,
            "kind_label": kinds.get(kind, kind),
            "id": ident,
            "name": names.get((kind, ident or 0))
            or (_("Chat") if kind == "chat" else _("(deleted)")),
        }
        for key, kind, ident in parsed
    ]


def org_systems(org: Organization, day: datetime.date) -> list[dict[str, Any]]:
    today = timezone.localdate()
    row = DailyOrgRollup.objects.filter(org=org, day=day).first()
    keys = live_status(org, day).systems if row is None or day == today else row.systems
    return describe_systems(org, keys)


def org_csv_rows(org: Organization, start: datetime.date, end: datetime.date) -> list[list[Any]]:
    header = [
        "date",
        "members",
        "active_members",
        "active_share",
        "systems_used",
        "is_dag",
        "is_deeply_integrated",
        "definition_version",
    ]
    rows: list[list[Any]] = [header]
    for entry in org_series(org, start, end):
        rows.append(["" if entry.get(k) is None else entry.get(k) for k in header])
    return rows


# --- the platform ----------------------------------------------------------------------------


def platform_series(start: datetime.date, end: datetime.date) -> list[dict[str, Any]]:
    return [
        {
            "date": p.day.isoformat(),
            "dag_count": p.dag_count,
            "deeply_integrated_count": p.deep_count,
            "dau": p.dau,
            "mau": p.mau,
            "organizations": p.orgs,
            "active_organizations": p.active_orgs,
            "definition_version": p.definition_version,
        }
        for p in PlatformDaily.objects.filter(day__gte=start, day__lte=end)
    ]


def latest_rolled_day(default: datetime.date | None = None) -> datetime.date:
    last = PlatformDaily.objects.order_by("-day").values_list("day", flat=True).first()
    return last or default or timezone.localdate() - datetime.timedelta(days=1)


def breakdown(day: datetime.date) -> dict[str, list[dict[str, Any]]]:
    """Organisations, DAG and deep counts by size bucket and by edition on ``day``."""
    rows = DailyOrgRollup.objects.filter(day=day)
    out: dict[str, list[dict[str, Any]]] = {}
    for group, field, order in (
        ("size", "size_bucket", [name for name, *_r in SIZE_BUCKETS]),
        ("edition", "edition", list(Organization.Edition.values)),
    ):
        counted = {
            c[field]: c
            for c in rows.values(field).annotate(
                orgs=Count("id"),
                dag=Count("id", filter=Q(is_dag=True)),
                deep=Count("id", filter=Q(is_deep=True)),
                active=Sum("active"),
            )
        }
        out[group] = [
            {
                "bucket": key,
                "organizations": counted.get(key, {}).get("orgs", 0),
                "dag_count": counted.get(key, {}).get("dag", 0),
                "deeply_integrated_count": counted.get(key, {}).get("deep", 0),
                "active_members": counted.get(key, {}).get("active") or 0,
            }
            for key in order
        ]
    return out


def top_orgs(day: datetime.date, limit: int = 20) -> list[dict[str, Any]]:
    rows = (
        DailyOrgRollup.objects.filter(day=day, active__gt=0)
        .select_related("org")
        .order_by("-active", "-systems_used", "org_id")[:limit]
    )
    return [_org_row(r) for r in rows]


def deep_orgs(day: datetime.date, limit: int = 200) -> list[dict[str, Any]]:
    rows = (
        DailyOrgRollup.objects.filter(day=day, is_deep=True)
        .select_related("org")
        .order_by("org__name", "org_id")[:limit]
    )
    return [{**_org_row(r), "connections": r.deep_connections} for r in rows]


def _org_row(r: DailyOrgRollup) -> dict[str, Any]:
    return {
        "org_id": r.org_id,
        "name": r.org.name,
        "edition": r.edition,
        "size_bucket": r.size_bucket,
        "members": r.members,
        "active_members": r.active,
        "active_share": round(r.active_share, 4),
        "systems_used": r.systems_used,
        "is_dag": r.is_dag,
        "is_deeply_integrated": r.is_deep,
    }


def platform_csv_rows(start: datetime.date, end: datetime.date) -> list[list[Any]]:
    header = [
        "date",
        "dag_count",
        "deeply_integrated_count",
        "dau",
        "mau",
        "organizations",
        "active_organizations",
        "definition_version",
    ]
    return [header, *([p[k] for k in header] for p in platform_series(start, end))]


__all__ = ["MAX_RANGE_DAYS"]
