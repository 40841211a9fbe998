"""Fault test: a billing run killed part-way (SIGKILL), then run again.

A real ``manage.py bill`` process bills subscriptions on the test's PostgreSQL database,
in chunks of 25 (one transaction each), and prints a line per committed chunk. After the
third line the test kills it with SIGKILL, mid-way through the run (usually inside a
chunk's transaction, sometimes between two: both must be safe). Then it runs the command
again to completion and checks that every subscription was billed exactly once for the
period, every invoice charged at most once, every charge key sent to the provider once
(the ``test`` provider keeps a journal and, like a real provider, answers a repeated key
from it), and the ledger holds one balanced sale per successful payment.

PostgreSQL only (SQLite's test database is in memory, not shared with a subprocess): it
runs in the PostgreSQL pass of ``make test`` (DATABASE_URL set) and is skipped in the
embedded pass; with DATABASE_URL pointing anywhere but PostgreSQL it fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BILL_DAY = dt.date(2026, 6, 1)
pytestmark = [pytest.mark.integration]


@pytest.fixture
def shared_postgres():
    if not os.environ.get("DATABASE_URL"):
        pytest.skip("runs in the PostgreSQL pass: the billing process shares the test's database")
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail("the billing fault test needs Tack on PostgreSQL")

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _seed(orgs: int) -> list[int]:
    from core.models import Organization
    from marketplace.models import Subscription
    from tests.marketplace.billing_factories import make_app, make_partner

    partner = make_partner()
    apps = [make_app(partner) for _ in range(3)]
    rows = Organization.objects.bulk_create(
        [Organization(name=f"Fault {i}", slug=f"fault-{i}") for i in range(orgs)]
    )
    subs = []
    for i, org in enumerate(rows):
        for j, app in enumerate(apps):
            n = i * 3 + j
            subs.append(
                Subscription(
                    org=org,
                    kind="app",
                    app=app,
                    plan_code="basic",
                    plan_name="Basic",
                    plan_type="flat",
                    interval="month",
                    unit_amount=1013 if n % 17 == 0 else 3000,  # ...13: the test card fails
                    currency="CNY",
                    status="active",
                    current_period_start=dt.date(2026, 5, 1),
                    current_period_end=BILL_DAY,
                    next_billing_date=BILL_DAY,
                    payment_provider="manual" if n % 5 == 0 else "test",
                )
            )
    return [s.pk for s in Subscription.objects.bulk_create(subs)]


def _bill(env: dict[str, str], *, kill_after_chunks: int | None) -> tuple[int, str]:
    """Run ``manage.py bill``: ``(return code, stdout)``; killed after that many chunks."""
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "bill",
            "--date",
            BILL_DAY.isoformat(),
            "--chunk-size",
            "25",
            "--progress",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if kill_after_chunks is None:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-4000:]
        return process.returncode, out
    assert process.stdout is not None
    seen = 0
    for line in process.stdout:
        if line.startswith("chunk "):
            seen += 1
            if seen == kill_after_chunks:
                os.kill(process.pid, signal.SIGKILL)
                break
    process.wait(timeout=60)
    process.stdout.close()
    assert process.stderr is not None
    process.stderr.close()
    return process.returncode, ""


@pytest.mark.django_db(transaction=True)
def test_billing_run_killed_mid_way_resumes_without_duplicates_or_double_charges(
    shared_postgres, tmp_path
):
    from django.db.models import Count, Sum

    from marketplace.models import (
        Invoice,
        LedgerEntry,
        LedgerTransaction,
        Payment,
        Subscription,
    )

    sub_ids = _seed(orgs=150)  # 450 subscriptions, 18 chunks of 25
    journal = tmp_path / "provider-journal.jsonl"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=shared_postgres,
        DJANGO_SETTINGS_MODULE="config.settings.base",
        TACK_TEST_PROVIDER_JOURNAL=str(journal),
        PYTHONPATH=str(ROOT),
    )

    code, _out = _bill(env, kill_after_chunks=3)
    assert code == -signal.SIGKILL
    billed_before = Invoice.objects.count()
    assert 75 <= billed_before < len(sub_ids), billed_before  # killed part-way

    _bill(env, kill_after_chunks=None)
    _code, out = _bill(env, kill_after_chunks=None)  # a third run has nothing left to do
    assert '"invoices": 0' in out

    # Every subscription billed exactly once for the period, and moved on.
    per_sub = Invoice.objects.values("subscription_id").annotate(n=Count("id"))
    assert {r["subscription_id"]: r["n"] for r in per_sub} == dict.fromkeys(sub_ids, 1)
    assert set(Invoice.objects.values_list("period_start", flat=True)) == {BILL_DAY}
    assert not Subscription.objects.filter(next_billing_date__lte=BILL_DAY).exists()

    # Each auto-charged invoice has exactly one payment; manual ones none.
    auto = Invoice.objects.filter(subscription__payment_provider="test")
    payments = Payment.objects.values("invoice_id").annotate(n=Count("id"))
    assert {r["invoice_id"]: r["n"] for r in payments} == dict.fromkeys(
        auto.values_list("id", flat=True), 1
    )
    assert not Payment.objects.filter(invoice__subscription__payment_provider="manual").exists()

    # The provider was asked for each charge key exactly once as a new charge (a key it
    # had seen, from the killed run's rolled-back chunk, is answered from its journal).
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    charged = Counter(row["key"] for row in lines)
    assert max(charged.values()) == 1
    assert set(charged) == set(Payment.objects.values_list("idempotency_key", flat=True))
    failed = Payment.objects.filter(status="failed")
    assert failed.exists() and all(p.amount % 100 == 13 for p in failed)
    assert set(Subscription.objects.filter(status="past_due").values_list("id", flat=True)) == set(
        failed.values_list("invoice__subscription_id", flat=True)
    )

    # The ledger: one sale per successful payment, balanced, cash = money collected.
    succeeded = Payment.objects.filter(status="succeeded")
    assert LedgerTransaction.objects.filter(kind="sale").count() == succeeded.count()
    assert LedgerEntry.objects.aggregate(t=Sum("amount"))["t"] == 0
    cash = LedgerEntry.objects.filter(account__kind="cash").aggregate(t=Sum("amount"))["t"]
    assert cash == succeeded.aggregate(t=Sum("amount"))["t"]
