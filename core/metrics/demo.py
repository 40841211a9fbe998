"""Demo usage: 90 days of generated activity for the demo organisation and a few generated
organisations of different sizes and editions, bulk inserted, then rolled up.

The demo organisation's use grows over the quarter and crosses the DAG line about half-way;
of the generated ones, some stay above the line, some below, one hovers around it.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.utils import timezone

from core.demo import DemoContext, demo_step
from core.metrics.models import ActivityDaily, DailyOrgRollup, SystemDaily
from core.metrics.rollup import rollup_range
from core.models import Membership, Organization, User

DAYS = 90
EXTRA_APPS = ["Visitor log", "Equipment maintenance", "Cold-chain checks", "Leave requests"]


@dataclass(frozen=True)
class GeneratedOrg:
    slug: str
    name: str
    edition: str
    members: int
    share_from: float  # active share at the start of the quarter
    share_to: float  # ... and at its end
    systems_from: int
    systems_to: int


GENERATED = [
    GeneratedOrg("demo-harbour-logistics", "Harbour Logistics", "exclusive", 520, 0.40, 0.50, 6, 8),
    GeneratedOrg("demo-alpine-foods", "Alpine Foods", "professional", 90, 0.20, 0.42, 3, 7),
    GeneratedOrg("demo-riverside-clinic", "Riverside Clinic", "professional", 45, 0.30, 0.36, 5, 6),
    GeneratedOrg("demo-summit-retail", "Summit Retail", "free", 60, 0.12, 0.18, 2, 3),
    GeneratedOrg("demo-granite-works", "Granite Works", "proprietary", 150, 0.50, 0.30, 7, 4),
]


def _curve(start: float, end: float, i: int, rng: random.Random, noise: float) -> float:
    """A straight trend from ``start`` to ``end`` over the quarter, with some noise."""
    return max(start + (end - start) * i / (DAYS - 1) + rng.uniform(-noise, noise), 0.0)


def _ensure_generated_org(spec: GeneratedOrg, password_hash: str) -> Organization:
    org = Organization.objects.filter(slug=spec.slug).first()
    if org is None:
        org = Organization.objects.create(
            name=spec.name,
            slug=spec.slug,
            edition=spec.edition,
            member_limit=max(spec.members * 2, 500),
            created_at=timezone.now() - datetime.timedelta(days=400),
        )
    have = Membership.objects.filter(org=org).count()
    if have < spec.members:
        joined = timezone.now() - datetime.timedelta(days=300)
        users = User.objects.bulk_create(
            [
                User(
                    email=f"person{n}@{spec.slug}.example",
                    display_name=f"{spec.name} person {n}",
                    password=password_hash,
                    date_joined=joined,
                )
                for n in range(have + 1, spec.members + 1)
            ]
        )
        Membership.objects.bulk_create(
            [
                Membership(
                    org=org,
                    user=u,
                    role="owner" if i == 0 and not have else "member",
                    joined_at=joined,
                )
                for i, u in enumerate(users)
            ]
        )
    return org


def _generate(
    org: Organization,
    members: list[tuple[int, int]],
    systems: list[str],
    shares: tuple[float, float],
    system_range: tuple[int, int],
    first: datetime.date,
    rng: random.Random,
) -> tuple[list[tuple[int, datetime.date, int, int, int]], list[tuple[int, datetime.date, str]]]:
    acts: list[tuple[int, datetime.date, int, int, int]] = []
    used: list[tuple[int, datetime.date, str]] = []
    for i in range(DAYS):
        day = first + datetime.timedelta(days=i)
        weekend = day.weekday() >= 5
        share = min(_curve(*shares, i, rng, 0.04), 1.0) * (0.35 if weekend else 1.0)
        count = round(share * len(members))
        for member_id, user_id in rng.sample(members, count):
            acts.append((org.pk, day, member_id, user_id, rng.randint(3, 240)))
        n_systems = round(_curve(system_range[0], system_range[1], i, rng, 0.8))
        if weekend:
            n_systems = min(n_systems, 2)
        for key in rng.sample(systems, min(max(n_systems, 0), len(systems))):
            used.append((org.pk, day, key))
        if count:
            used.append((org.pk, day, "chat"))
    return acts, used


@demo_step("core.metrics-activity", order=900)
def demo_activity(ctx: DemoContext) -> None:
    """90 days of usage ending yesterday (generated once), then the daily rollup."""
    from lowcode.actions import do_create_app
    from lowcode.models import App

    today = timezone.localdate()
    first = today - datetime.timedelta(days=DAYS)
    last = today - datetime.timedelta(days=1)
    if DailyOrgRollup.objects.filter(org=ctx.org, day=first).exists():
        return
    rng = random.Random(20261123)  # noqa: S311  (demo data, not security)
    have = set(App.objects.filter(org=ctx.org).values_list("name", flat=True))
    for name in EXTRA_APPS:
        if name not in have:
            do_create_app(ctx.owner, name=name, description="Demo app")
    app_keys = [
        f"lowcode_app:{pk}" for pk in App.objects.filter(org=ctx.org).values_list("pk", flat=True)
    ]
    human = list(
        Membership.objects.filter(org=ctx.org, status="active", user__is_app=False).values_list(
            "id", "user_id"
        )
    )
    plans = [(ctx.org, human, app_keys, (0.22, 0.52), (3, 7))]
    password_hash = make_password(None)  # generated people cannot log in
    for spec in GENERATED:
        org = _ensure_generated_org(spec, password_hash)
        people = list(Membership.objects.filter(org=org).values_list("id", "user_id"))
        keys = [f"lowcode_app:{9000 + n}" for n in range(1, 11)]  # generated: names unknown
        plans.append(
            (
                org,
                people,
                keys,
                (spec.share_from, spec.share_to),
                (spec.systems_from, spec.systems_to),
            )
        )
    orgs = [p[0] for p in plans]
    ActivityDaily.objects.filter(org__in=orgs, day__gte=first, day__lte=last).delete()
    SystemDaily.objects.filter(org__in=orgs, day__gte=first, day__lte=last).delete()
    total = 0
    for org, people, keys, shares, system_range in plans:
        acts, used = _generate(org, people, keys, shares, system_range, first, rng)
        with connection.cursor() as cursor:  # plain executemany: no model instances
            cursor.executemany(
                "INSERT INTO core_activitydaily (org_id, day, member_id, user_id, minutes)"
                " VALUES (%s, %s, %s, %s, %s)",
                acts,
            )
            cursor.executemany(
                "INSERT INTO core_systemdaily (org_id, day, system) VALUES (%s, %s, %s)", used
            )
        total += len(acts)
    rollup_range(first, last)
    ctx.log(f"Generated {total} member-days of activity over {DAYS} days and rolled them up")
    links = ctx.extra.setdefault("links", [])
    links.append(("Usage (DAG metrics)", f"/o/{ctx.org.pk}/admin/metrics/"))
    links.append(("Platform metrics (sign in as operator@tack-platform.example)", "/ops/metrics/"))
