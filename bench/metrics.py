"""DAG metrics benchmark: recording cost per request and the daily rollup at scale.

Creates (drops first) the PostgreSQL database ``tack_bench_metrics`` on 127.0.0.1:5432 and
flushes Redis DB 13 (only that one). Prints one JSON line:

- ``record_p50_ms``: what recording adds to one request (``core.metrics.recording
  .note_request``: system resolution, in-process dedup, Redis pipeline when needed), p50
  over a request mix where each member makes several requests; ``record_write_p50_ms`` is
  the p50 of the calls that did write to Redis (first request of a member in a minute).
- ``rollup_s``: ``core.metrics.rollup.rollup_day`` for one day over all organisations
  (members by set-based SQL, active members and systems by Redis SCARD/SMEMBERS
  pipelines, DAU/MAU by PFCOUNT), rows written.
- ``naive_rollup_s``: the same per-organisation answer (active members, systems) by plain
  SQL ``COUNT(DISTINCT ...)`` over an events table holding every activity event, plus the
  same members query. ``answers_match`` says the two agree for every organisation.

Full sizes: 10,000 organisations, 1,000,000 members, 20,000,000 events; ``--quick`` uses a
tenth. Run: ``.venv/bin/python bench/metrics.py --quick``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _support as support

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "tack_bench_metrics"
REDIS_URL = "redis://127.0.0.1:6379/13"


def org_of(alias: str, orgs: int) -> str:
    """SQL: a member's organisation, skewed so sizes span every bucket (deterministic)."""
    return (
        f"(1 + floor({orgs} * power((({alias} * 2654435761) %% 1000003) / 1000003.0, 3)))::bigint"
    )


def insert_select(cursor: Any, model: Any, overrides: dict[str, str], source: str) -> None:
    """``INSERT INTO model (...) SELECT ...`` filling every column: ``overrides`` are SQL
    expressions, the rest the field's default (so columns other apps add do not break it)."""
    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in overrides:
            continue
        columns.append(f'"{field.column}"')
        if field.column in overrides:
            exprs.append(overrides[field.column])
        else:
            value = field.get_default()
            exprs.append("%s")
            params.append(field.get_db_prep_save(value, cursor.db))
    cursor.execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} "
        + source,
        params,
    )


def populate(orgs: int, members: int, events: int, day: datetime.date) -> dict[str, Any]:
    from django.db import connection

    from core.models import Membership, Organization, User

    t0 = time.perf_counter()
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    editions = "(ARRAY['free','professional','exclusive','proprietary'])[1 + g %% 4]"
    with connection.cursor() as c:
        insert_select(
            c,
            Organization,
            {
                "id": "g",
                "name": "'Org ' || g",
                "slug": "'org-' || g",
                "edition": editions,
            },
            f"FROM generate_series(1::bigint, {orgs}::bigint) g",
        )
        c.execute("UPDATE core_organization SET created_at = %s", [long_ago])
        insert_select(
            c,
            User,
            {
                "id": "g",
                "email": "'u' || g || '@bench.example'",
                "display_name": "'User ' || g",
                "password": "'!'",
            },
            f"FROM generate_series(1::bigint, {members}::bigint) g",
        )
        insert_select(
            c,
            Membership,
            {"id": "g", "org_id": org_of("g", orgs), "user_id": "g"},
            f"FROM generate_series(1::bigint, {members}::bigint) g",
        )
        c.execute("UPDATE core_membership SET joined_at = %s", [long_ago])
        for table in ("core_organization", "core_user", "core_membership"):
            c.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        # Who uses the platform: an engagement level per organisation, members by a hash.
        c.execute(
            "CREATE TABLE bench_active AS SELECT row_number() OVER () AS slot, m AS member_id, "
            + org_of("m", orgs)
            + " AS org_id FROM generate_series(1::bigint, %s::bigint) m"
            " WHERE ((m * 40503) %% 100) < ((" + org_of("m", orgs) + " * 37) %% 90)",
            [members],
        )
        c.execute("SELECT count(*) FROM bench_active")
        active_pool = int(c.fetchone()[0])
        c.execute("CREATE UNIQUE INDEX ON bench_active (slot)")
        # Every event: (org, member, system, ts). Systems per org: 1..10 low-code apps.
        c.execute(
            "CREATE UNLOGGED TABLE bench_events (org_id bigint, member_id bigint,"
            " system text, ts timestamptz)"
        )
        start = datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
        c.execute(
            "INSERT INTO bench_events SELECT a.org_id, a.member_id,"
            " 'lowcode_app:' || (a.org_id * 10 + (e.g %% (1 + a.org_id %% 10))),"
            " %s + (e.g %% 86400) * interval '1 second'"
            " FROM generate_series(1::bigint, %s::bigint) e(g)"
            " JOIN bench_active a ON a.slot = 1 + (e.g * 7919) %% %s",
            [start, events, active_pool],
        )
        c.execute("ANALYZE")
    support.log(f"populated in {time.perf_counter() - t0:.1f}s (active pool {active_pool})")
    return {"active_pool": active_pool}


def fill_redis(day: datetime.date) -> None:
    """What recording would have written during the day (bench setup, not timed)."""
    from django.db import connection

    from core.metrics import recording

    r = recording.client()
    t0 = time.perf_counter()
    with connection.cursor() as c:
        c.execute("SELECT DISTINCT org_id, member_id FROM bench_events")
        rows = c.fetchall()
        pipe = r.pipeline(transaction=False)
        for i, (org, member) in enumerate(rows):
            pipe.sadd(recording.day_key(day, "o", org, "m"), member)
            pipe.pfadd(recording.day_key(day, "users"), member)
            if i % 20000 == 19999:
                pipe.execute()
        pipe.sadd(recording.day_key(day, "orgs"), *sorted({o for o, _m in rows}))
        pipe.execute()
        c.execute("SELECT DISTINCT org_id, system FROM bench_events")
        pipe = r.pipeline(transaction=False)
        for org, system in c.fetchall():
            pipe.sadd(recording.day_key(day, "o", org, "s"), system)
        pipe.execute()
    support.log(f"redis filled in {time.perf_counter() - t0:.1f}s ({len(rows)} member-days)")


def naive(day: datetime.date) -> tuple[float, dict[int, tuple[int, int]]]:
    from django.db import connection

    from core.metrics.rollup import members_by_org

    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
    t0 = time.perf_counter()
    members_by_org(day)
    with connection.cursor() as c:
        c.execute(
            "SELECT org_id, COUNT(DISTINCT member_id), COUNT(DISTINCT system) FROM bench_events"
            " WHERE ts >= %s AND ts < %s GROUP BY org_id",
            [start, start + datetime.timedelta(days=1)],
        )
        answer = {int(o): (int(a), int(s)) for o, a, s in c.fetchall()}
    return time.perf_counter() - t0, answer


def measure_recording(samples: int, members: int, orgs: int) -> dict[str, float]:
    """note_request as a request would call it: cached system lookups, dedup, Redis."""
    from django.urls import resolve

    from core.metrics import recording
    from core.metrics.systems import form_app
    from core.models import Membership

    rng = random.Random(7)
    match = resolve("/api/v1/orgs/1/lowcode/records/")
    form_app.data.clear()

    class Req:
        resolver_match = match
        GET = {"form": "1"}
        user = None

    # Members as the request path sees them (user not loaded).
    pool = list(Membership.objects.order_by("?").values_list("id", "org_id", "user_id")[:2000])
    people = [Membership(id=m, org_id=o, user_id=u, status="active") for m, o, u in pool]
    recording.note_request(Req(), people[0], 200)  # warm the lookup cache
    times: list[float] = []
    writes: list[float] = []
    for _ in range(samples):
        person = people[rng.randrange(len(people))]
        before = len(recording.dedup.seen)
        t0 = time.perf_counter()
        recording.note_request(Req(), person, 200)
        elapsed = (time.perf_counter() - t0) * 1000
        times.append(elapsed)
        if len(recording.dedup.seen) != before:
            writes.append(elapsed)
    return {
        "record_p50_ms": round(support.percentile(times, 50), 4),
        "record_p99_ms": round(support.percentile(times, 99), 4),
        "record_write_p50_ms": round(support.percentile(writes, 50), 4),
        "record_write_share": round(len(writes) / len(times), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    orgs, members, events = 10_000 // scale, 1_000_000 // scale, 20_000_000 // scale

    env = support.bench_env(
        f"{PG_SERVER}/{DB_NAME}", REDIS_URL, "metrics", TACK_METRICS_BACKEND="redis"
    )
    versions = support.reset_services(env, PG_SERVER, [DB_NAME])
    os.environ.update(env)
    import django

    django.setup()
    from django.utils import timezone

    from core.metrics.models import DailyOrgRollup
    from core.metrics.rollup import rollup_day

    day = timezone.localdate() - datetime.timedelta(days=1)
    info = populate(orgs, members, events, day)
    fill_redis(day)

    t0 = time.perf_counter()
    summary = rollup_day(day)
    rollup_s = time.perf_counter() - t0
    support.log(f"rollup {rollup_s:.2f}s: {summary.dag} DAG of {summary.orgs}")

    naive_s, answer = naive(day)
    support.log(f"naive {naive_s:.2f}s")
    stored = {
        r.org_id: (r.active, r.systems_used)
        for r in DailyOrgRollup.objects.filter(day=day).only("org_id", "active", "systems_used")
    }
    match = all(stored.get(org, (0, 0)) == value for org, value in answer.items()) and all(
        value == (0, 0) for org, value in stored.items() if org not in answer
    )

    recording_figures = measure_recording(20_000 if args.quick else 100_000, members, orgs)
    result = {
        "benchmark": "metrics",
        "quick": args.quick,
        "orgs": orgs,
        "members": members,
        "events": events,
        "active_pool": info["active_pool"],
        **recording_figures,
        "rollup_s": round(rollup_s, 2),
        "naive_rollup_s": round(naive_s, 2),
        "answers_match": match,
        "dag_orgs": summary.dag,
        "dau": summary.dau,
        "targets": {"record_p50_ms": 0.5, "rollup_s": 60},
        "versions": versions,
        "machine": support.machine_info(),
        "loadavg": support.loadavg(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
