"""Recording activity on the request path, cheaply.

``note_activity`` is called once per authenticated request (by ``ActivityMiddleware``) and
once per WebSocket connect. A per-process dedup cache drops repeats first: a member is
written at most once per minute, a system at most once per organisation and day, so most
requests do no I/O at all. What is left goes to one of two stores:

- **Redis** (``REDIS_URL`` set): per organisation and day a SET of member ids, a HASH of
  active minutes per member and a SET of systems, plus per day a SET of active
  organisations and a HyperLogLog of user ids (DAU/MAU); one pipelined round trip.
- **Database** (embedded mode): ``ActivityDaily`` / ``SystemDaily`` upserts
  (``ON CONFLICT``), one statement each.

Recording never breaks a request: a store error is logged and dropped.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

DEDUP_MAX_ENTRIES = 200_000


@dataclass
class Pending:
    org_id: int
    day: datetime.date
    member_id: int | None = None
    user_id: int | None = None
    systems: list[str] = field(default_factory=list)
    new_keys: bool = False  # first write of this (org, day) by this process: set expiries


class _Dedup:
    def __init__(self) -> None:
        self.seen: set[tuple[Any, ...]] = set()
        self.lock = threading.Lock()
        self.minute = -1

    def filter(
        self, org_id: int, member_id: int | None, user_id: int | None, systems: Iterable[str]
    ) -> Pending | None:
        now = time.time()
        minute = int(now // 60)
        day = timezone.localdate()
        pending = Pending(org_id=org_id, day=day)
        with self.lock:
            if minute != self.minute:  # member entries live one minute, so drop them all
                self.seen = {k for k in self.seen if k[0] != "m"}
                self.minute = minute
            if len(self.seen) > DEDUP_MAX_ENTRIES:
                self.seen.clear()
            if member_id is not None:
                key = ("m", org_id, member_id, minute)
                if key not in self.seen:
                    self.seen.add(key)
                    pending.member_id, pending.user_id = member_id, user_id
            for system in systems:
                system_key = ("s", org_id, day, system)
                if system_key not in self.seen:
                    self.seen.add(system_key)
                    pending.systems.append(system)
            if pending.member_id is None and not pending.systems:
                return None
            day_key = ("d", org_id, day)
            if day_key not in self.seen:
                self.seen.add(day_key)
                pending.new_keys = True
        return pending

    def clear(self) -> None:
        with self.lock:
            self.seen.clear()


dedup = _Dedup()


def recording_enabled() -> bool:
    """Off only in the test settings (other tests pin query counts); metrics tests turn it on."""
    return bool(getattr(settings, "TACK_METRICS_RECORDING", True))


def use_redis() -> bool:
    backend = getattr(settings, "TACK_METRICS_BACKEND", "")
    if backend:
        return bool(backend == "redis")
    return bool(settings.REDIS_URL)


@cache
def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)


def client() -> Any:
    return redis_client(settings.REDIS_URL)


def prefix() -> str:
    return str(getattr(settings, "TACK_METRICS_REDIS_PREFIX", "tack:act"))


def day_key(day: datetime.date, *parts: object) -> str:
    return ":".join([prefix(), day.isoformat(), *map(str, parts)])


def retention_seconds() -> int:
    return int(getattr(settings, "TACK_METRICS_REDIS_RETENTION_DAYS", 40)) * 86400


def _write_redis(p: Pending) -> None:
    pipe = client().pipeline(transaction=False)
    ttl = retention_seconds()
    touched: list[str] = []
    if p.member_id is not None:
        members, minutes, dau = (
            day_key(p.day, "o", p.org_id, "m"),
            day_key(p.day, "o", p.org_id, "min"),
            day_key(p.day, "users"),
        )
        pipe.sadd(members, p.member_id)
        pipe.hincrby(minutes, str(p.member_id), 1)
        pipe.pfadd(dau, p.user_id)
        touched += [members, minutes, dau]
    if p.systems:
        systems = day_key(p.day, "o", p.org_id, "s")
        pipe.sadd(systems, *p.systems)
        touched.append(systems)
    orgs = day_key(p.day, "orgs")
    pipe.sadd(orgs, p.org_id)
    touched.append(orgs)
    if p.new_keys:
        for key in touched:
            pipe.expire(key, ttl)
    pipe.execute()


def _write_db(p: Pending) -> None:
    with connection.cursor() as cursor:
        if p.member_id is not None:
            cursor.execute(
                "INSERT INTO core_activitydaily (org_id, day, member_id, user_id, minutes) "
                "VALUES (%s, %s, %s, %s, 1) ON CONFLICT (org_id, day, member_id) "
                "DO UPDATE SET minutes = core_activitydaily.minutes + 1",
                [p.org_id, p.day, p.member_id, p.user_id],
            )
        if p.systems:
            cursor.execute(
                "INSERT INTO core_systemdaily (org_id, day, system) VALUES "  # noqa: S608 (placeholders only)
                + ", ".join(["(%s, %s, %s)"] * len(p.systems))
                + " ON CONFLICT (org_id, day, system) DO NOTHING",
                [v for s in p.systems for v in (p.org_id, p.day, s[:80])],
            )


def write(p: Pending) -> None:
    try:
        if use_redis():
            _write_redis(p)
        else:
            _write_db(p)
    except Exception:  # recording must never fail the request it describes
        logger.warning("could not record activity for org %s", p.org_id, exc_info=True)


def plan(
    org_id: int,
    member_id: int | None,
    user_id: int | None,
    systems: Iterable[str] = (),
) -> Pending | None:
    """What still has to be written for this activity (``None``: nothing, already seen)."""
    return dedup.filter(org_id, member_id, user_id, systems)


def note_activity(
    org_id: int,
    member_id: int | None,
    user_id: int | None,
    systems: Iterable[str] = (),
) -> None:
    """Record that ``member_id`` (None for an app account) used ``systems`` now."""
    pending = plan(org_id, member_id, user_id, systems)
    if pending is not None:
        write(pending)


def note_socket_connect(user: Any) -> None:
    """A chat socket opened: the user is active (chat) in each organisation they belong to."""
    from core.metrics import systems as system_keys
    from core.models import Membership

    if getattr(user, "is_app", False) or not recording_enabled():
        return
    try:
        memberships = list(
            Membership.objects.filter(user=user, status=Membership.Status.ACTIVE).values_list(
                "id", "org_id"
            )
        )
    except DatabaseError:
        return
    for member_id, org_id in memberships:
        note_activity(org_id, member_id, user.pk, [system_keys.CHAT])


def reset() -> None:
    """Forget the dedup and lookup caches (tests; after a database reset)."""
    from core.metrics.systems import clear_lookups

    dedup.clear()
    clear_lookups()


def note_request(request: Any, membership: Any, status_code: int) -> None:
    """Record a successful org-scoped request (called where the tenant is resolved: the API's
    ``OrgScopedViewSet`` and the pages' ``org_page``, in the view's thread)."""
    if status_code >= 400 or membership is None or not recording_enabled():
        return
    try:
        from core.metrics.systems import (
            installation_of_app_member,
            marketplace_app,
            systems_for_request,
        )

        keys = systems_for_request(request)
        user = membership.user if "user" in membership._state.fields_cache else None
        user_id = membership.user_id
        is_app = bool(getattr(user or request.user, "is_app", False))
        if is_app:
            installation = installation_of_app_member(membership.pk)
            if installation is None:
                return
            note_activity(membership.org_id, None, None, [marketplace_app(installation), *keys])
        else:
            note_activity(membership.org_id, membership.pk, user_id, keys)
    except Exception:
        logger.warning("could not record activity", exc_info=True)
