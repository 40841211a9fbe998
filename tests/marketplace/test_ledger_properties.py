"""Property test of the revenue-share ledger: random sales, refunds (partial, full and too
large), commission-rate changes and payouts, checked against an independent model."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import Conflict, ValidationFailed
from marketplace import billing, ledger
from marketplace.models import (
    Invoice,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    Refund,
    Subscription,
)
from tests.marketplace.billing_factories import make_app, make_partner

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)
RATES = [
    Decimal("0.15"),
    Decimal("0"),
    Decimal("1"),
    Decimal("0.3333"),
    Decimal("0.075"),
    Decimal("0.2"),
    Decimal("0.123457"),
]

sale = st.tuples(st.just("sale"), st.integers(0, 2), st.integers(1, 2_000_000))
refund = st.tuples(st.just("refund"), st.integers(0, 30), st.integers(1, 2_000_000), st.booleans())
rate = st.tuples(
    st.just("rate"),
    st.sampled_from(["app", "partner", "default"]),
    st.integers(0, 2),
    st.sampled_from(RATES),
)
payout = st.tuples(st.just("payout"), st.integers(0, 1), st.integers(1, 2_000_000))
operations = st.lists(st.one_of(sale, refund, rate, payout), min_size=1, max_size=25)


def rhu(amount: int, r: Decimal) -> int:
    return int((Decimal(amount) * r).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.fixture
def world(org, operator_user):
    partners = [make_partner(), make_partner()]
    apps = [make_app(partners[0]), make_app(partners[0]), make_app(partners[1])]
    subs = []
    for app in apps:
        subs.append(
            Subscription.objects.create(
                org=org,
                kind="app",
                app=app,
                plan_code="basic",
                plan_type="flat",
                interval="month",
                unit_amount=1,
                currency="CNY",
                status="active",
                current_period_start=dt.date(2026, 1, 1),
                current_period_end=dt.date(2026, 2, 1),
            )
        )
    return partners, apps, subs


@pytest.fixture
def operator_user(make_user):
    return make_user(is_staff=True)


class Model:
    """What the books must say, computed independently of marketplace.ledger."""

    def __init__(self, partners, apps):
        self.partners, self.apps = partners, apps
        self.default = Decimal("0.15")
        self.partner_rate: dict[int, Decimal] = {}
        self.app_rate: dict[int, Decimal] = {}
        self.sales: list[dict] = []  # payment, gross, rate, fee, partner, refunded
        self.balance: dict[int, int] = defaultdict(int)
        self.cash = 0
        self.commission = 0
        self.payouts = 0

    def rate_for(self, app) -> Decimal:
        if app.pk in self.app_rate:
            return self.app_rate[app.pk]
        return self.partner_rate.get(app.partner_id, self.default)


def _invoice(org, sub, amount):
    n = next(_keys)
    return Invoice.objects.create(
        org=org,
        subscription=sub,
        kind="proration",
        number=f"T-{n}",
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 2, 1),
        subtotal=amount,
        amount=amount,
        currency="CNY",
        idempotency_key=f"test:{n}",
    )


def _run(ops, org, operator_user, world):
    partners, apps, subs = world
    model = Model(partners, apps)
    for op in ops:
        kind = op[0]
        if kind == "sale":
            _k, i, gross = op
            invoice = _invoice(org, subs[i], gross)
            payment, created = billing.do_record_manual_payment(
                operator_user,
                invoice,
                reference=f"bank {gross}",
                idempotency_key=f"pay{gross}-{invoice.pk}",
            )
            assert created
            r = model.rate_for(apps[i])
            fee = rhu(gross, r)
            model.sales.append(
                {
                    "payment": payment,
                    "gross": gross,
                    "rate": r,
                    "fee": fee,
                    "partner": apps[i].partner_id,
                    "refunded": 0,
                    "fee_back": 0,
                }
            )
            model.balance[apps[i].partner_id] += gross - fee
            model.cash += gross
            model.commission += fee
        elif kind == "refund":
            _k, idx, amount, retry = op
            if not model.sales:
                continue
            s = model.sales[idx % len(model.sales)]
            key = f"refund-{next(_keys)}"
            before = (Refund.objects.count(), LedgerEntry.objects.count())
            if amount > s["gross"] - s["refunded"]:
                with pytest.raises(ValidationFailed) as info:
                    billing.do_refund(
                        operator_user, s["payment"], amount=amount, idempotency_key=key
                    )
                assert info.value.code == "refund_too_large"
                assert (Refund.objects.count(), LedgerEntry.objects.count()) == before
                continue
            refund_row, created = billing.do_refund(
                operator_user, s["payment"], amount=amount, idempotency_key=key
            )
            assert created
            if retry:  # the same key again: the first refund, nothing more moves
                again, created = billing.do_refund(
                    operator_user, s["payment"], amount=amount, idempotency_key=key
                )
                assert not created and again.pk == refund_row.pk
            s["refunded"] += amount
            fee_total = min(s["fee"], rhu(s["refunded"], s["rate"]))
            if s["refunded"] == s["gross"]:
                fee_total = s["fee"]
            fee_back = fee_total - s["fee_back"]
            s["fee_back"] = fee_total
            model.cash -= amount
            model.commission -= fee_back
            model.balance[s["partner"]] -= amount - fee_back
            txn = LedgerTransaction.objects.get(refund=refund_row)
            assert {e.rate for e in txn.entries.all()} == {s["rate"]}  # the original rate
        elif kind == "rate":
            _k, level, i, r = op
            if level == "app":
                ledger.do_set_commission_rate(operator_user, rate=r, app=apps[i])
                model.app_rate[apps[i].pk] = r
            elif level == "partner":
                p = partners[i % 2]
                ledger.do_set_commission_rate(operator_user, rate=r, partner=p)
                model.partner_rate[p.pk] = r
            else:
                ledger.do_set_commission_rate(operator_user, rate=r)
                model.default = r
        else:
            _k, i, amount = op
            p = partners[i]
            key = f"payout-{next(_keys)}"
            expected_ok = amount >= 10000 and amount <= model.balance[p.pk]
            try:
                payout_row, created = ledger.do_payout(
                    operator_user, p, amount=amount, currency="CNY", idempotency_key=key
                )
            except (ValidationFailed, Conflict):
                assert not expected_ok
                continue
            assert expected_ok and created
            again, created = ledger.do_payout(
                operator_user, p, amount=amount, currency="CNY", idempotency_key=key
            )
            assert not created and again.pk == payout_row.pk
            model.balance[p.pk] -= amount
            model.payouts += amount
    return model


def _check(model):
    # Every transaction balances per currency, and has at least two legs.
    unbalanced = (
        LedgerEntry.objects.values("transaction_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
    )
    assert not unbalanced.exists()
    # No money created or lost: all accounts together sum to zero.
    assert (LedgerEntry.objects.aggregate(t=Sum("amount"))["t"] or 0) == 0

    def account_total(kind, partner=None):
        qs = LedgerEntry.objects.filter(account__kind=kind)
        if partner is not None:
            qs = qs.filter(account__partner_id=partner)
        return int(qs.aggregate(t=Sum("amount"))["t"] or 0)

    assert account_total(LedgerAccount.Kind.CASH) == model.cash
    assert -account_total(LedgerAccount.Kind.COMMISSION) == model.commission
    assert account_total(LedgerAccount.Kind.PAYOUTS) == -model.payouts
    for p in model.partners:
        entries_sum = account_total(LedgerAccount.Kind.PARTNER_PAYABLE, p.pk)
        assert ledger.partner_balances(p).get("CNY", 0) == -entries_sum == model.balance[p.pk]
    # Payments: refunded amounts never exceed the payment.
    for s in model.sales:
        payment = Payment.objects.get(pk=s["payment"].pk)
        assert payment.refunded_amount == s["refunded"] <= payment.amount


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_random_sales_refunds_rates_and_payouts_keep_the_books_exact(
    ops, org, operator_user, world
):
    with transaction.atomic():
        model = _run(ops, org, operator_user, world)
        _check(model)
        transaction.set_rollback(True)


def test_a_full_refund_after_partial_ones_reverses_exactly_what_was_booked(
    org, operator_user, world
):
    ops = [
        ("rate", "app", 0, Decimal("0.3333")),
        ("sale", 0, 1001),
        ("refund", 0, 1, False),
        ("refund", 0, 333, False),
        ("refund", 0, 667, True),
    ]
    model = _run(ops, org, operator_user, world)
    _check(model)
    s = model.sales[0]
    assert s["fee"] == 334 and s["fee_back"] == 334  # 1001 x 0.3333 = 333.63 → 334
    assert model.balance[s["partner"]] == 0
