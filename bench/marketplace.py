"""Marketplace benchmark: the billing run and webhook deliveries.

    .venv/bin/python bench/marketplace.py [--quick] [--json-only]

Creates (drops first) the PostgreSQL database ``tack_bench_marketplace`` on
127.0.0.1:5432, flushes Redis DB 14, migrates, and measures:

* ``billing_100k_s``  seconds for one billing run (``marketplace.billing.run_billing``,
                      what ``manage.py bill`` and the Celery beat task run) over 100,000
                      active subscriptions all due on the same day (``--quick``: 10,000,
                      and the figure is that run's time scaled linearly to 100,000; the
                      measured time is in ``details``). The subscriptions are 10 per
                      organisation over 10 apps of 5 partners: flat monthly and yearly
                      plans and per-seat plans, most on the ``test`` provider (charged in
                      the run, each payment booked in the ledger) and a tenth on the
                      ``manual`` (bank transfer) provider (invoiced only). A second run
                      on the same day must bill nothing (checked, and timed).
* ``webhooks_per_s``  deliveries per second to a local receiver, measured by
                      ``bench/marketplace_webhooks.py`` (``run_webhook_bench(count)``);
                      null when that module is missing.

Prints exactly one JSON line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# This file is called marketplace.py, like the ``marketplace`` app: keep bench/ off the
# import path so ``import marketplace`` finds the app; load helpers by file path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(ROOT))


def _load(name: str, filename: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_support = _load("_bench_support", "_support.py")
from _bench_support import (  # noqa: E402
    bench_env,
    loadavg,
    log,
    print_result_line,
    reset_services,
)

PG = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "tack_bench_marketplace"
REDIS_URL = "redis://127.0.0.1:6379/14"
BILL_DAY = dt.date(2026, 6, 1)
TARGETS = {"billing_100k_s": ("<=", 60.0), "webhooks_per_s": (">=", 500.0)}
SIZES = {
    "full": {"subscriptions": 100_000, "webhooks": 5_000},
    "quick": {"subscriptions": 10_000, "webhooks": 1_000},
}
APPS = 10


def seed(subscriptions: int) -> dict[str, Any]:
    """Organisations (an owner and a member each), 10 apps, and the subscriptions."""
    import django

    django.setup()
    from core.bulk import bulk_insert
    from core.models import Membership, Organization, User
    from marketplace.models import App, AppVersion, Partner, Subscription

    t0 = time.perf_counter()
    orgs_n = subscriptions // APPS
    partners = [
        Partner.objects.create(
            name=f"Bench Partner {i}", slug=f"bench-partner-{i}", contact_email=f"p{i}@b.test"
        )
        for i in range(5)
    ]
    plans = [
        {
            "code": "flat",
            "name": "Flat",
            "type": "flat",
            "interval": "month",
            "amount": 9900,
            "currency": "CNY",
            "trial_days": 0,
        },
        {
            "code": "seat",
            "name": "Per seat",
            "type": "per_seat",
            "interval": "month",
            "amount": 1500,
            "currency": "CNY",
            "trial_days": 0,
        },
        {
            "code": "year",
            "name": "Yearly",
            "type": "flat",
            "interval": "year",
            "amount": 99000,
            "currency": "CNY",
            "trial_days": 0,
        },
    ]
    apps = []
    for i in range(APPS):
        app = App.objects.create(partner=partners[i % 5], app_id=f"bench.app{i}", name=f"App {i}")
        version = AppVersion.objects.create(
            app=app,
            version="1.0.0",
            manifest={"id": app.app_id, "pricing": {"plans": plans}},
            status="published",
        )
        app.published_version = version
        app.save(update_fields=["published_version"])
        apps.append(app)
    # bulk_create for models with image fields (core.bulk's COPY writes plain values).
    orgs = Organization.objects.bulk_create(
        [Organization(name=f"Org {i}", slug=f"bench-org-{i}") for i in range(orgs_n)],
        batch_size=2000,
    )
    users = User.objects.bulk_create(
        [
            User(email=f"u{i}@bench.test", display_name=f"U {i}", password="!")
            for i in range(orgs_n * 2)
        ],
        batch_size=2000,
    )
    bulk_insert(
        [
            Membership(org=org, user=users[2 * i + k], role="owner" if k == 0 else "member")
            for i, org in enumerate(orgs)
            for k in (0, 1)
        ]
    )
    start = dt.date(2026, 5, 1)
    subs = []
    for i, org in enumerate(orgs):
        for j, app in enumerate(apps):
            n = i * APPS + j
            plan = plans[0] if n % 5 < 3 else plans[1] if n % 5 == 3 else plans[2]
            subs.append(
                Subscription(
                    org=org,
                    kind="app",
                    app=app,
                    plan_code=plan["code"],
                    plan_name=plan["name"],
                    plan_type=plan["type"],
                    interval=plan["interval"],
                    unit_amount=plan["amount"],
                    currency="CNY",
                    status="active",
                    current_period_start=start
                    if plan["interval"] == "month"
                    else dt.date(2025, 6, 1),
                    current_period_end=BILL_DAY,
                    next_billing_date=BILL_DAY,
                    payment_provider="manual" if n % 10 == 9 else "test",
                )
            )
    bulk_insert(subs)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    seconds = time.perf_counter() - t0
    log(f"seeded {len(subs)} subscriptions in {len(orgs)} organisations in {seconds:.1f}s")
    return {"seed_s": seconds, "organisations": len(orgs)}


def measure_billing(subscriptions: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.db.models import Count, Sum

    from marketplace.billing import run_billing
    from marketplace.models import Invoice, LedgerTransaction, Payment

    details: dict[str, Any] = seed(subscriptions)
    t0 = time.perf_counter()
    report = run_billing(BILL_DAY)
    elapsed = time.perf_counter() - t0
    log(f"billing run: {report.as_dict()} in {elapsed:.1f}s")
    t1 = time.perf_counter()
    again = run_billing(BILL_DAY)
    rerun = time.perf_counter() - t1
    invoices = Invoice.objects.count()
    per_sub = Invoice.objects.values("subscription_id").annotate(n=Count("id")).filter(n__gt=1)
    assert invoices == subscriptions, f"{invoices} invoices for {subscriptions} subscriptions"
    assert again.invoices == 0 and not per_sub.exists(), "the second run billed again"
    paid = Payment.objects.filter(status="succeeded")
    assert LedgerTransaction.objects.filter(kind="sale").count() == paid.count()
    details.update(
        {
            "billing_s_measured": elapsed,
            "billing_subscriptions": subscriptions,
            "billing_rerun_s": rerun,
            "invoices": invoices,
            "payments_succeeded": paid.count(),
            "payments_failed": Payment.objects.filter(status="failed").count(),
            "invoiced_minor_units": int(Invoice.objects.aggregate(s=Sum("amount"))["s"] or 0),
            "chunks": report.chunks,
        }
    )
    return {"billing_100k_s": elapsed * 100_000 / subscriptions, **details}


def measure_webhooks(count: int) -> dict[str, Any]:
    path = BENCH_DIR / "marketplace_webhooks.py"
    if not path.exists():
        log("bench/marketplace_webhooks.py is missing: webhooks_per_s is null")
        return {"webhooks_per_s": None, "webhooks_note": "bench/marketplace_webhooks.py missing"}
    module = _load("_bench_marketplace_webhooks", "marketplace_webhooks.py")
    t0 = time.perf_counter()
    rate = float(module.run_webhook_bench(count))
    log(f"webhooks: {rate:.0f}/s over {count} deliveries ({time.perf_counter() - t0:.1f}s)")
    return {"webhooks_per_s": rate, "webhook_deliveries": count}


def verdicts(results: dict[str, Any]) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for key, (op, target) in TARGETS.items():
        value = results.get(key)
        out[key] = None if value is None else (value <= target if op == "<=" else value >= target)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 subscriptions, < 2 min")
    parser.add_argument("--json-only", action="store_true", help="no progress on stderr")
    parser.add_argument("--subscriptions", type=int, help="override the size (a multiple of 10)")
    args = parser.parse_args()
    if args.json_only:
        sys.stderr = Path(os.devnull).open("w")  # noqa: SIM115
    mode = "quick" if args.quick else "full"
    sizes = dict(SIZES[mode])
    if args.subscriptions:
        sizes["subscriptions"] = args.subscriptions - args.subscriptions % APPS
    started = time.perf_counter()
    load_before = loadavg()
    env = bench_env(f"{PG}/{DB_NAME}", REDIS_URL, "marketplace", TACK_CACHE_PREFIX="tackbenchmkt")
    os.environ.update(env)  # for the in-process part (django.setup())
    versions = reset_services(env, PG, [DB_NAME], skip_checks=True)
    results: dict[str, Any] = {}
    results.update(measure_billing(sizes["subscriptions"]))
    results.update(measure_webhooks(sizes["webhooks"]))

    print_result_line(
        "marketplace",
        mode,
        results,
        targets=TARGETS,
        verdicts=verdicts(results),
        sizes=sizes,
        versions=versions,
        load_before=load_before,
        started=started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
