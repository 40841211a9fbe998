"""The daily rollup: raw activity folded into ``DailyOrgRollup`` and ``PlatformDaily``.

Everything is set-based: one grouped SQL query per measure over all organisations, and
Redis pipelines (SCARD / SMEMBERS / PFCOUNT), never a Python loop over members.

Rules (docs/METRICS.md has the full text):

- *Members of a day*: human (``is_app`` false) memberships that were active at some point
  of the day: joined before the day ended, and not removed or suspended before it began.
  A member who joins or leaves that day counts; one suspended before the day does not.
- *Active members*: members seen (any authenticated action) that day; with a minimum usage
  time in the definition, only those seen in at least that many distinct minutes.
- *DAG*: ``active * denominator >= members * numerator`` and ``systems >= min_systems``
  (default one third and 6). An organisation without members is never DAG.
- *Deeply integrated*: a connection with a successful sync finished on the day or in the 7
  days before it, whose data landed in a form (synced records exist) or a chat (a
  destination posts into a conversation), and whose data was used that day.
- The definition used for a day is the newest version created before the day ended (the
  oldest version when all are newer), unless a version is given explicitly.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import NotFound, ValidationFailed
from core.metrics import recording
from core.metrics.models import DagDefinition, DailyOrgRollup, PlatformDaily
from core.metrics.systems import business_systems, data_connections
from core.metrics.systems import connection as connection_key
from core.models import Organization, User

MAX_RANGE_DAYS = 366
#: No activity predates this; earlier days would overflow the date arithmetic (year 1).
MIN_DAY = datetime.date(2000, 1, 1)
DEEP_WINDOW_DAYS = 7
MAU_WINDOW_DAYS = 30
SIZE_BUCKETS: list[tuple[str, int, int | None]] = [
    ("<500", 0, 500),
    ("500-2,000", 500, 2000),
    ("2,000-10,000", 2000, 10000),
    ("10,000-100,000", 10000, 100000),
    ("100,000+", 100000, None),
]


def size_bucket(members: int) -> str:
    for name, low, high in SIZE_BUCKETS:
        if members >= low and (high is None or members < high):
            return name
    return SIZE_BUCKETS[-1][0]


# --- definitions ---------------------------------------------------------------------------


def default_definition_values() -> dict[str, int]:
    share = Fraction(str(getattr(settings, "TACK_DAG_MIN_ACTIVE_SHARE", "1/3")))
    return {
        "share_numerator": share.numerator,
        "share_denominator": share.denominator,
        "min_systems": int(getattr(settings, "TACK_DAG_MIN_SYSTEMS", 6)),
        "min_usage_minutes": int(getattr(settings, "TACK_DAG_MIN_USAGE_MINUTES", 0)),
    }


def ensure_definition() -> DagDefinition:
    """The current definition, creating version 1 from the settings on first use."""
    latest = DagDefinition.objects.order_by("-version").first()
    if latest is None:
        latest, _created = DagDefinition.objects.get_or_create(
            version=1,
            defaults={
                **default_definition_values(),
                "note": "default",
                "created_at": datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC),
            },
        )
    return latest


def definition_for_day(day: datetime.date, version: int | None = None) -> DagDefinition:
    ensure_definition()
    if version is not None:
        found = DagDefinition.objects.filter(version=version).first()
        if found is None:
            raise NotFound(
                _("There is no DAG definition version %(v)s.") % {"v": version},
                code="definition_not_found",
            )
        return found
    _start, end = day_bounds(day)
    found = DagDefinition.objects.filter(created_at__lt=end).order_by("-version").first()
    return found or DagDefinition.objects.order_by("version").first()  # type: ignore[return-value]


def parse_share(raw: Any) -> Fraction:
    """``"1/3"``, ``"0.25"``, ``0.5`` or ``"50%"`` → a fraction in (0, 1]."""
    try:
        text = str(raw).strip()
        if len(text) > 20 or "e" in text.lower():  # "1e-999999999" would take ages to expand
            raise ValueError(text[:20])
        share = Fraction(text[:-1]) / 100 if text.endswith("%") else Fraction(text)
    except (ValueError, ZeroDivisionError):
        share = Fraction(-1)
    if not (0 < share <= 1) or share.denominator > 10000:
        raise ValidationFailed(
            _("The active share must be a fraction above 0 and at most 1, like 1/3 or 0.25."),
            code="invalid_threshold",
            fields={"min_active_share": [_("Use a value like 1/3, 0.25 or 40%.")]},
        )
    return share


def do_create_definition(
    actor: User | None,
    *,
    min_active_share: Any,
    min_systems: Any,
    min_usage_minutes: Any = 0,
    note: str = "",
) -> DagDefinition:
    """A new definition version (history keeps the old ones; rollups keep their version)."""
    share = parse_share(min_active_share)
    errors: dict[str, list[str]] = {}
    systems = _int_in(min_systems, 0, 1000, "min_systems", errors)
    minutes = _int_in(min_usage_minutes, 0, 1440, "min_usage_minutes", errors)
    if errors:
        raise ValidationFailed(
            _("Some thresholds are not valid."), code="invalid_threshold", fields=errors
        )
    with transaction.atomic():
        latest = ensure_definition()
        DagDefinition.objects.select_for_update().filter(pk=latest.pk).first()
        return DagDefinition.objects.create(
            version=latest.version + 1,
            share_numerator=share.numerator,
            share_denominator=share.denominator,
            min_systems=systems,
            min_usage_minutes=minutes,
            note=str(note or "")[:200],
            created_by=actor,
            created_at=timezone.now(),
        )


def _int_in(raw: Any, low: int, high: int, name: str, errors: dict[str, list[str]]) -> int:
    try:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError
        value = int(raw)
    except (TypeError, ValueError):
        value = low - 1
    if not low <= value <= high:
        errors[name] = [
            _("Use a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
        ]
    return value


# --- the rule --------------------------------------------------------------------------------


def meets_share(active: int, members: int, d: DagDefinition) -> bool:
    return members > 0 and active * d.share_denominator >= members * d.share_numerator


def is_dag(active: int, members: int, systems: int, d: DagDefinition) -> bool:
    return meets_share(active, members, d) and systems >= d.min_systems


def share_percent(d: DagDefinition) -> int:
    return int(Fraction(d.share_numerator, d.share_denominator) * 100)


def reason(active: int, members: int, systems: int, d: DagDefinition) -> str:
    """Plain words: "28% of members active, needs 33%; 4 of 6 systems used"."""
    pct = int(active * 100 / members) if members else 0
    need = share_percent(d)
    share_text = _("%(pct)s%% of members active (%(active)s of %(members)s), needs %(need)s%%") % {
        "pct": pct,
        "active": active,
        "members": members,
        "need": need,
    }
    systems_text = _("%(n)s of %(need)s systems used") % {"n": systems, "need": d.min_systems}
    if is_dag(active, members, systems, d):
        return _("Active: %(share)s; %(systems)s.") % {"share": share_text, "systems": systems_text}
    return _("Not active: %(share)s; %(systems)s.") % {"share": share_text, "systems": systems_text}


# --- measures ----------------------------------------------------------------------------------


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
    return start, start + datetime.timedelta(days=1)


def _db(value: datetime.datetime) -> Any:
    """A datetime as the database stores it (raw SQL skips Django's adaptation)."""
    return connection.ops.adapt_datetimefield_value(value)


def _org_filter(alias: str, org_ids: Iterable[int] | None, params: list[Any]) -> str:
    if org_ids is None:
        return ""
    ids = [int(i) for i in org_ids] or [0]
    params.extend(ids)
    return f" AND {alias}.org_id IN ({', '.join(['%s'] * len(ids))})"


def members_by_org(day: datetime.date, org_ids: Iterable[int] | None = None) -> dict[int, int]:
    start, end = day_bounds(day)
    org_ids = list(org_ids) if org_ids is not None else None
    p1: list[Any] = ["active", False, _db(end), "suspended", _db(start), _db(end)]
    f1 = _org_filter("m", org_ids, p1)
    p2: list[Any] = [False, _db(end), _db(start)]
    f2 = _org_filter("l", org_ids, p2)
    sql = (
        "SELECT org_id, COUNT(*) FROM ("  # noqa: S608 (placeholders only)
        " SELECT m.org_id AS org_id, m.id AS mid FROM core_membership m"
        " JOIN core_user u ON u.id = m.user_id"
        " WHERE m.status = %s AND u.is_app = %s AND m.joined_at < %s"
        " AND NOT EXISTS (SELECT 1 FROM core_memberlapse s WHERE s.org_id = m.org_id"
        "  AND s.member_id = m.id AND s.reason = %s AND s.ended_at < %s"
        "  AND (s.reactivated_at IS NULL OR s.reactivated_at >= %s))" + f1 + " UNION"
        " SELECT l.org_id AS org_id, l.member_id AS mid FROM core_memberlapse l"
        " WHERE l.is_app = %s AND l.joined_at < %s AND l.ended_at >= %s" + f2 + ") x"
        " GROUP BY org_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, p1 + p2)
        return {int(org): int(n) for org, n in cursor.fetchall()}


@dataclass
class DayActivity:
    active: dict[int, int] = field(default_factory=dict)
    systems: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    dau: int = 0


def _db_activity(
    day: datetime.date, min_minutes: int, org_ids: list[int] | None, out: DayActivity
) -> None:
    params: list[Any] = [day, max(min_minutes, 1)]
    f = _org_filter("a", org_ids, params)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.org_id, COUNT(*) FROM core_activitydaily a WHERE a.day = %s"  # noqa: S608 (placeholders only)
            " AND a.minutes >= %s" + f + " GROUP BY a.org_id",
            params,
        )
        for org, n in cursor.fetchall():
            out.active[int(org)] = out.active.get(int(org), 0) + int(n)
        params = [day]
        f = _org_filter("s", org_ids, params)
        cursor.execute(
            "SELECT s.org_id, s.system FROM core_systemdaily s WHERE s.day = %s" + f,  # noqa: S608
            params,
        )
        for org, system in cursor.fetchall():
            out.systems[int(org)].add(system)
        if org_ids is None:
            cursor.execute(
                "SELECT COUNT(DISTINCT user_id) FROM core_activitydaily WHERE day = %s", [day]
            )
            out.dau += int(cursor.fetchone()[0])


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _redis_activity(
    day: datetime.date, min_minutes: int, org_ids: list[int] | None, out: DayActivity
) -> None:
    r = recording.client()
    orgs_key = recording.day_key(day, "orgs")
    if org_ids is None:
        orgs = sorted(int(_decode(o)) for o in r.smembers(orgs_key))
        recorded_in_db = bool(out.active or out.systems)  # e.g. imported or demo activity
        if (
            not orgs
            and not recorded_in_db
            and day
            < timezone.localdate() - datetime.timedelta(days=recording.retention_seconds() // 86400)
        ):
            raise ValidationFailed(
                _(
                    "The raw activity of %(day)s has expired (Redis keeps %(n)s days); "
                    "its stored rollup is kept."
                )
                % {"day": day.isoformat(), "n": recording.retention_seconds() // 86400},
                code="activity_expired",
            )
        out.dau += int(r.pfcount(recording.day_key(day, "users")))
    else:
        orgs = list(org_ids)
    chunk = 2000
    for i in range(0, len(orgs), chunk):
        part = orgs[i : i + chunk]
        pipe = r.pipeline(transaction=False)
        for org in part:
            if min_minutes > 1:
                pipe.hvals(recording.day_key(day, "o", org, "min"))
            else:
                pipe.scard(recording.day_key(day, "o", org, "m"))
            pipe.smembers(recording.day_key(day, "o", org, "s"))
        replies = pipe.execute()
        for j, org in enumerate(part):
            counted, systems = replies[2 * j], replies[2 * j + 1]
            if min_minutes > 1:
                counted = sum(1 for v in counted if int(v) >= min_minutes)
            if counted:
                out.active[org] = out.active.get(org, 0) + int(counted)
            if systems:
                out.systems[org].update(_decode(s) for s in systems)


def _sync_connections(day: datetime.date, org_ids: list[int] | None, out: DayActivity) -> None:
    """A connection whose sync succeeded that day was in use (a business system)."""
    start, end = day_bounds(day)
    params: list[Any] = ["succeeded", _db(start), _db(end)]
    f = _org_filter("r", org_ids, params)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT r.org_id, r.connection_id FROM connectors_syncrun r"  # noqa: S608 (placeholders only)
            " WHERE r.state = %s AND r.finished_at >= %s AND r.finished_at < %s" + f,
            params,
        )
        for org, conn in cursor.fetchall():
            out.systems[int(org)].add(connection_key(int(conn)))


def activity_by_org(
    day: datetime.date, d: DagDefinition, org_ids: Iterable[int] | None = None
) -> DayActivity:
    ids = list(org_ids) if org_ids is not None else None
    out = DayActivity()
    _db_activity(day, d.min_usage_minutes, ids, out)
    if recording.use_redis():
        _redis_activity(day, d.min_usage_minutes, ids, out)
    _sync_connections(day, ids, out)
    return out


def deep_connections(day: datetime.date, used: dict[int, set[int]]) -> dict[int, list[int]]:
    """Per organisation, the used connections that satisfy the deep-integration rule."""
    candidates = sorted({c for conns in used.values() for c in conns})
    if not candidates:
        return {}
    start, end = day_bounds(day)
    window = start - datetime.timedelta(days=DEEP_WINDOW_DAYS)
    found: dict[int, list[int]] = defaultdict(list)
    with connection.cursor() as cursor:
        for i in range(0, len(candidates), 500):
            part = candidates[i : i + 500]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                "SELECT c.org_id, c.id FROM connectors_connection c WHERE c.id IN (" + marks + ")"  # noqa: S608 (placeholders only)
                " AND EXISTS (SELECT 1 FROM connectors_syncrun r WHERE r.connection_id = c.id"
                "  AND r.state = %s AND r.finished_at >= %s AND r.finished_at < %s)"
                " AND (EXISTS (SELECT 1 FROM connectors_destination d"
                "   JOIN connectors_syncedrecord s ON s.destination_id = d.id"
                "   WHERE d.connection_id = c.id AND s.synced_at < %s)"
                "  OR EXISTS (SELECT 1 FROM connectors_destination d2"
                "   WHERE d2.connection_id = c.id AND d2.conversation_id IS NOT NULL))",
                [*part, "succeeded", _db(window), _db(end), _db(end)],
            )
            for org, conn in cursor.fetchall():
                if int(conn) in used.get(int(org), set()):
                    found[int(org)].append(int(conn))
    return {org: sorted(conns) for org, conns in found.items()}


# --- evaluation ------------------------------------------------------------------------------


@dataclass
class OrgDay:
    org_id: int
    day: datetime.date
    members: int
    active: int
    systems: list[str]
    is_dag: bool
    is_deep: bool
    deep_connections: list[int]
    definition: DagDefinition

    @property
    def systems_used(self) -> int:
        return len(self.systems)

    @property
    def reason(self) -> str:
        return reason(self.active, self.members, self.systems_used, self.definition)


def evaluate(
    day: datetime.date, d: DagDefinition, org_ids: Iterable[int] | None = None
) -> tuple[dict[int, OrgDay], DayActivity]:
    ids = list(org_ids) if org_ids is not None else None
    members = members_by_org(day, ids)
    activity = activity_by_org(day, d, ids)
    used = {org: data_connections(keys) for org, keys in activity.systems.items()}
    deep = deep_connections(day, {o: c for o, c in used.items() if c})
    _start, end = day_bounds(day)
    if ids is None:
        created = Organization.objects.filter(created_at__lt=end).values_list("id", flat=True)
        ids = sorted(set(created) | set(members) | set(activity.active) | set(activity.systems))
    out: dict[int, OrgDay] = {}
    for org in ids:
        n = members.get(org, 0)
        active = min(activity.active.get(org, 0), n)
        systems = business_systems(activity.systems.get(org, ()))
        conns = deep.get(org, [])
        out[org] = OrgDay(
            org, day, n, active, systems, is_dag(active, n, len(systems), d), bool(conns), conns, d
        )
    return out, activity


def live_status(org: Organization, day: datetime.date | None = None) -> OrgDay:
    """One organisation's day computed now (today's status), by the same rule."""
    day = day or timezone.localdate()
    d = definition_for_day(day)
    result, _activity = evaluate(day, d, [org.pk])
    return result[org.pk]


# --- the rollup ------------------------------------------------------------------------------


def check_range(start: datetime.date, end: datetime.date) -> None:
    today = timezone.localdate()
    if start > end:
        raise ValidationFailed(
            _("The start date must not be after the end date."), code="invalid_range"
        )
    if start < MIN_DAY:
        raise ValidationFailed(
            _("%(day)s is too early; the earliest day that can be computed is %(min)s.")
            % {"day": start.isoformat(), "min": MIN_DAY.isoformat()},
            code="date_too_early",
        )
    if end > today:
        raise ValidationFailed(
            _("%(day)s is in the future; the latest day that can be computed is today (%(today)s).")
            % {"day": end.isoformat(), "today": today.isoformat()},
            code="future_date",
        )
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(
            _("A range may cover at most %(n)s days; this one covers %(days)s.")
            % {"n": MAX_RANGE_DAYS, "days": (end - start).days + 1},
            code="range_too_long",
        )


@dataclass
class RollupSummary:
    day: datetime.date
    orgs: int
    dag: int
    deep: int
    dau: int
    mau: int
    definition_version: int


def _editions() -> dict[int, str]:
    return dict(Organization.objects.values_list("id", "edition"))


def _lock_day(day: datetime.date) -> None:
    """Serialise writers of one day's rollup until the transaction ends (PostgreSQL: an
    advisory lock keyed by the day; SQLite writes one transaction at a time anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x7DA6, day.toordinal()])


def rollup_day(day: datetime.date, definition_version: int | None = None) -> RollupSummary:
    """Compute and store one day for every organisation (replacing that day's rows)."""
    check_range(day, day)
    d = definition_for_day(day, definition_version)
    result, activity = evaluate(day, d)
    editions = _editions()
    now = timezone.now()
    rows = [
        DailyOrgRollup(
            org_id=r.org_id,
            day=day,
            members=r.members,
            active=r.active,
            systems_used=r.systems_used,
            systems=r.systems,
            is_dag=r.is_dag,
            is_deep=r.is_deep,
            deep_connections=r.deep_connections,
            definition_version=d.version,
            size_bucket=size_bucket(r.members),
            edition=editions.get(r.org_id, ""),
            computed_at=now,
        )
        for r in result.values()
    ]
    mau = monthly_active_users(day)
    breakdown = _breakdown(rows)
    with transaction.atomic():
        _lock_day(day)  # an hourly run and a manual recompute of the same day take turns
        DailyOrgRollup.objects.filter(day=day).delete()
        DailyOrgRollup.objects.bulk_create(rows, batch_size=2000)
        PlatformDaily.objects.update_or_create(
            day=day,
            defaults={
                "dag_count": sum(r.is_dag for r in rows),
                "deep_count": sum(r.is_deep for r in rows),
                "dau": activity.dau,
                "mau": mau,
                "orgs": len(rows),
                "active_orgs": sum(1 for r in rows if r.active),
                "breakdown": breakdown,
                "definition_version": d.version,
                "computed_at": now,
            },
        )
    return RollupSummary(
        day,
        len(rows),
        sum(r.is_dag for r in rows),
        sum(r.is_deep for r in rows),
        activity.dau,
        mau,
        d.version,
    )


def rollup_range(
    start: datetime.date, end: datetime.date, definition_version: int | None = None
) -> list[RollupSummary]:
    check_range(start, end)
    out = []
    day = start
    while day <= end:
        out.append(rollup_day(day, definition_version))
        day += datetime.timedelta(days=1)
    return out


def monthly_active_users(day: datetime.date) -> int:
    first = day - datetime.timedelta(days=MAU_WINDOW_DAYS - 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(DISTINCT user_id) FROM core_activitydaily WHERE day >= %s AND day <= %s",
            [first, day],
        )
        total = int(cursor.fetchone()[0])
    if recording.use_redis():
        keys = [
            recording.day_key(first + datetime.timedelta(days=i), "users")
            for i in range(MAU_WINDOW_DAYS)
        ]
        total += int(recording.client().pfcount(*keys))
    return total


def _breakdown(rows: list[DailyOrgRollup]) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {
        "size": {name: {"orgs": 0, "dag": 0, "deep": 0, "active": 0} for name, *_r in SIZE_BUCKETS},
        "edition": {
            e: {"orgs": 0, "dag": 0, "deep": 0, "active": 0} for e in Organization.Edition.values
        },
    }
    for r in rows:
        for group, key in (("size", r.size_bucket), ("edition", r.edition)):
            cell = out[group].setdefault(key, {"orgs": 0, "dag": 0, "deep": 0, "active": 0})
            cell["orgs"] += 1
            cell["dag"] += int(r.is_dag)
            cell["deep"] += int(r.is_deep)
            cell["active"] += r.active
    return out
