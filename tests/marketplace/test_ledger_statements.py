"""Partner statements and the billing Celery tasks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from marketplace import billing, ledger
from marketplace.billing_tasks import partner_statements_task, run_billing_task
from marketplace.models import Invoice, PartnerStatement, Payment
from tests.marketplace.billing_factories import make_app, make_partner

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user):
    return make_user(is_staff=True)


def test_statement_adds_up_sales_fees_refunds_and_payouts(org, staff):
    partner = make_partner()
    app = make_app(partner)
    billing._new_subscription(
        org,
        billing.app_plan(app, "pro-year"),
        kind="app",
        start=dt.date(2026, 3, 1),
        member=None,
        app=app,
        provider="test",
    )  # 900.00 a year
    billing.run_billing(dt.date(2026, 3, 1))
    payment = Payment.objects.get(invoice__subscription__app=app)
    billing.do_refund(staff, payment, amount=10001, idempotency_key="r1")
    ledger.do_payout(staff, partner, amount=50000, currency="CNY", idempotency_key="p1")
    month = timezone.localdate().replace(day=1)
    [statement] = ledger.do_generate_statements(partner, month)
    fee = 13500  # 90000 x 0.15
    fee_back = 1500  # round_half_up(10001 x 0.15) = 1500.15 → 1500
    assert (statement.gross, statement.fees, statement.refunds) == (90000, fee - fee_back, 10001)
    assert statement.net == 90000 - (fee - fee_back) - 10001
    assert statement.payouts == 50000
    assert statement.opening_balance == 0
    assert statement.closing_balance == statement.net - 50000
    assert statement.closing_balance == ledger.partner_balances(partner)["CNY"]
    # Generating again gives the same single row; the next month opens where this closed.
    again = ledger.do_generate_statements(partner, month)
    assert [s.pk for s in again] == [statement.pk]
    assert PartnerStatement.objects.filter(partner=partner).count() == 1
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    [following] = ledger.do_generate_statements(partner, next_month)
    assert following.opening_balance == statement.closing_balance == following.closing_balance


def test_payout_below_minimum_or_above_balance_is_refused(staff):
    from core.errors import Conflict, ValidationFailed

    partner = make_partner()
    with pytest.raises(ValidationFailed):
        ledger.do_payout(staff, partner, amount=9999, currency="CNY", idempotency_key="a")
    with pytest.raises(Conflict):
        ledger.do_payout(staff, partner, amount=10000, currency="CNY", idempotency_key="b")
    with pytest.raises(ValidationFailed):
        ledger.do_payout(staff, partner, amount="1e5", currency="CNY", idempotency_key="c")


def test_a_payout_key_reused_for_another_amount_is_refused(org, staff):
    from core.errors import Conflict

    partner = make_partner()
    app = make_app(partner)
    billing._new_subscription(
        org,
        billing.app_plan(app, "pro-year"),
        kind="app",
        start=dt.date(2026, 3, 1),
        member=None,
        app=app,
        provider="test",
    )
    billing.run_billing(dt.date(2026, 3, 1))
    first, _ = ledger.do_payout(staff, partner, amount=20000, currency="CNY", idempotency_key="k")
    again, created = ledger.do_payout(
        staff, partner, amount=20000, currency="CNY", idempotency_key="k"
    )
    assert again.pk == first.pk and not created
    with pytest.raises(Conflict) as info:
        ledger.do_payout(staff, partner, amount=30000, currency="CNY", idempotency_key="k")
    assert info.value.code == "idempotency_key_reused"


def test_rates_most_specific_wins_and_effective_dates_apply(staff):
    partner = make_partner()
    app, other = make_app(partner), make_app(partner)
    now = timezone.now()
    ledger.do_set_commission_rate(staff, rate="0.10", partner=partner)
    ledger.do_set_commission_rate(staff, rate="0.05", app=app)
    ledger.do_set_commission_rate(
        staff, rate="0.30", app=app, effective_from=now + dt.timedelta(days=30)
    )
    ledger.do_set_commission_rate(staff, rate="0.20")  # the default, least specific
    assert ledger.commission_rate(app) == ledger.Decimal("0.05")
    assert ledger.commission_rate(other) == ledger.Decimal("0.10")
    assert ledger.commission_rate(app, now + dt.timedelta(days=31)) == ledger.Decimal("0.30")
    assert ledger.commission_rate(make_app()) == ledger.Decimal("0.20")


def test_celery_tasks_run_the_billing_and_the_statements(org):
    partner = make_partner()
    app = make_app(partner)
    billing._new_subscription(
        org,
        billing.app_plan(app, "basic"),
        kind="app",
        start=dt.date(2026, 3, 1),
        member=None,
        app=app,
        provider="test",
    )
    result = run_billing_task.delay("2026-03-01").get()
    assert result["invoices"] == 1 and result["charged"] == 1
    assert run_billing_task.delay("2026-03-01").get()["invoices"] == 0
    assert Invoice.objects.count() == 1
    assert partner_statements_task.delay().get() >= 1


def test_demo_billing_makes_a_month_of_paid_invoices_and_a_statement(org):
    partner = make_partner()
    app = make_app(partner)
    on = dt.date(2026, 5, 20)
    billing.seed_demo_billing(org, [(app, "team")], on=on)
    billing.seed_demo_billing(org, [(app, "team")], on=on)  # again: nothing more
    starts = sorted(Invoice.objects.filter(org=org).values_list("period_start", flat=True))
    assert starts == [dt.date(2026, 4, 20), dt.date(2026, 5, 20)]
    assert set(Invoice.objects.values_list("status", flat=True)) == {"paid"}
    [statement] = PartnerStatement.objects.filter(partner=partner)
    seats = billing.active_seats([org.pk])[org.pk]
    assert statement.gross == 2 * 1200 * seats
