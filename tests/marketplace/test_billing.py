"""Billing: plans, subscriptions, proration, the idempotent billing run, payments, refunds."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from core.errors import Conflict, Forbidden, ValidationFailed
from marketplace import billing
from marketplace.billing import add_interval, prorate
from marketplace.models import (
    EditionQuote,
    Invoice,
    LedgerTransaction,
    Payment,
    Subscription,
)
from tests.marketplace.billing_factories import make_app, make_installation

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def staff(make_user):
    return make_user(is_staff=True)


def _sub(org, app, code="basic", on=None, provider="manual", token=""):
    on = on or D(2026, 3, 10)
    plan = billing.app_plan(app, code)
    sub = billing._new_subscription(
        org, plan, kind="app", start=on, member=None, app=app, provider=provider, token=token
    )
    return sub


# --- arithmetic -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "interval", "expected"),
    [
        (D(2026, 1, 31), "month", D(2026, 2, 28)),
        (D(2028, 1, 31), "month", D(2028, 2, 29)),
        (D(2026, 12, 15), "month", D(2027, 1, 15)),
        (D(2028, 2, 29), "year", D(2029, 2, 28)),
        (D(2026, 5, 1), "year", D(2027, 5, 1)),
    ],
)
def test_add_interval_clamps_to_the_end_of_short_months(day, interval, expected):
    assert add_interval(day, interval) == expected


@pytest.mark.parametrize(
    ("total", "left", "days", "expected"),
    [
        (3000, 15, 30, 1500),
        (1000, 1, 3, 333),  # 333.33 → 333
        (1000, 2, 3, 667),  # 666.67 → 667
        (1, 1, 2, 1),  # 0.5 → 1: half-up
        (3, 1, 2, 2),  # 1.5 → 2
        (5, 1, 4, 1),  # 1.25 → 1
        (999_999_999_999, 29, 31, 935_483_870_967),  # exact for big amounts (no floats)
        (3000, 0, 30, 0),
        (3000, 30, 30, 3000),
        (3000, 45, 30, 3000),  # never more than the whole period
        (0, 10, 30, 0),
    ],
)
def test_prorate_rounds_half_up_on_whole_minor_units(total, left, days, expected):
    assert prorate(total, left, days) == expected


# --- subscriptions and the run ------------------------------------------------------------


def test_run_bills_each_due_subscription_once_even_when_run_twice(org):
    app = make_app()
    sub = _sub(org, app, on=D(2026, 3, 10))
    first = billing.run_billing(D(2026, 3, 10))
    second = billing.run_billing(D(2026, 3, 10))
    assert first.invoices == 1 and second.invoices == 0
    invoice = Invoice.objects.get(subscription=sub)
    assert (invoice.period_start, invoice.period_end, invoice.amount) == (
        D(2026, 3, 10),
        D(2026, 4, 10),
        3000,
    )
    sub.refresh_from_db()
    assert sub.next_billing_date == D(2026, 4, 10) and sub.status == "active"


def test_a_late_run_catches_up_every_missed_period(org):
    sub = _sub(org, make_app(), on=D(2026, 1, 5))
    billing.run_billing(D(2026, 4, 5), chunk_size=1)
    starts = sorted(Invoice.objects.filter(subscription=sub).values_list("period_start", flat=True))
    assert starts == [D(2026, 1, 5), D(2026, 2, 5), D(2026, 3, 5), D(2026, 4, 5)]


def test_the_database_refuses_a_second_invoice_for_the_same_period(org):
    from django.db import IntegrityError, transaction

    sub = _sub(org, make_app(), on=D(2026, 3, 1))
    billing.run_billing(D(2026, 3, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            org=org,
            subscription=sub,
            number="dup",
            period_start=D(2026, 3, 1),
            period_end=D(2026, 4, 1),
            subtotal=1,
            amount=1,
            currency="CNY",
            idempotency_key="another-key",
        )


def test_management_command_bill_is_idempotent(org):
    _sub(org, make_app(), on=D(2026, 3, 1))
    out = io.StringIO()
    call_command("bill", "--date", "2026-03-01", stdout=out)
    call_command("bill", "--date", "2026-03-01", stdout=out)
    assert Invoice.objects.count() == 1
    assert '"invoices": 1' in out.getvalue() and '"invoices": 0' in out.getvalue()


def test_trial_then_first_invoice_when_the_trial_ends(org, add_member):
    app = make_app()
    sub = _sub(org, app, code="team", on=D(2026, 3, 1))
    assert sub.status == "trialing" and sub.trial_end == D(2026, 3, 15)
    assert billing.run_billing(D(2026, 3, 14)).invoices == 0
    add_member(org, "member")
    billing.run_billing(D(2026, 3, 15))
    invoice = Invoice.objects.get(subscription=sub)
    humans = org.memberships.filter(status="active", user__is_app=False).count()
    assert invoice.quantity == humans and invoice.amount == 1200 * humans
    sub.refresh_from_db()
    assert sub.status == "active"


def test_per_seat_counts_active_humans_only(org, add_member, make_user):
    from core.models import Membership

    add_member(org, "member")
    suspended = add_member(org, "member")
    suspended.status = "suspended"
    suspended.save()
    bot = make_user(is_app=True)
    Membership.objects.create(org=org, user=bot, role="member")
    assert billing.active_seats([org.pk])[org.pk] == 2  # owner + one member


def test_cancel_at_period_end_then_the_run_ends_it_without_billing(org, owner):
    sub = _sub(org, make_app(), on=D(2026, 3, 1))
    billing.run_billing(D(2026, 3, 1))
    billing.do_cancel(owner, sub, at_period_end=True)
    billing.run_billing(D(2026, 4, 1))
    sub.refresh_from_db()
    assert sub.status == "canceled" and Invoice.objects.filter(subscription=sub).count() == 1


def test_immediate_cancel_and_invalid_transitions_answer_409(org, owner):
    sub = _sub(org, make_app(), on=D(2026, 3, 1))
    billing.do_cancel(owner, sub, at_period_end=False)
    sub.refresh_from_db()
    assert sub.status == "canceled"
    for call in (
        lambda: billing.do_cancel(owner, sub),
        lambda: billing.do_resume(owner, sub),
        lambda: billing.do_change_plan(owner, sub, plan_code="pro"),
    ):
        with pytest.raises(Conflict) as info:
            call()
        assert info.value.code == "invalid_transition"


def test_members_cannot_manage_billing(org, member):
    sub = _sub(org, make_app(), on=D(2026, 3, 1))
    with pytest.raises(Forbidden):
        billing.do_cancel(member, sub)


# --- proration ----------------------------------------------------------------------------


def test_upgrade_mid_period_charges_the_difference_for_the_days_left(org, owner):
    app = make_app()
    sub = _sub(org, app, on=D(2026, 4, 1), provider="test")  # basic 3000/month, April has 30 days
    billing.run_billing(D(2026, 4, 1))
    sub, invoice = billing.do_change_plan(owner, sub, plan_code="pro", on=D(2026, 4, 21))
    # 10 of 30 days left: credit 1000, charge 3000 → 2000.
    assert invoice is not None and invoice.kind == "proration" and invoice.amount == 2000
    assert sub.unit_amount == 9000 and sub.next_billing_date == D(2026, 5, 1)


def test_downgrade_keeps_a_credit_taken_off_the_next_invoice(org, owner):
    app = make_app()
    sub = _sub(org, app, code="pro", on=D(2026, 4, 1), provider="test")
    billing.run_billing(D(2026, 4, 1))
    sub, invoice = billing.do_change_plan(owner, sub, plan_code="basic", on=D(2026, 4, 16))
    # 15 of 30 days left: credit 4500, charge 1500 → credit 3000 kept.
    assert invoice is None and sub.credit == 3000
    billing.run_billing(D(2026, 5, 1))
    may = Invoice.objects.get(subscription=sub, period_start=D(2026, 5, 1))
    assert (may.subtotal, may.credit_applied, may.amount) == (3000, 3000, 0)
    assert may.status == "paid"
    sub.refresh_from_db()
    assert sub.credit == 0


def test_changing_plan_back_and_forth_on_one_day_bills_each_upgrade(org, owner):
    app = make_app()
    sub = _sub(org, app, on=D(2026, 4, 1), provider="test")
    billing.run_billing(D(2026, 4, 1))
    day = D(2026, 4, 21)  # 10 of 30 days left
    sub, up = billing.do_change_plan(owner, sub, plan_code="pro", on=day)
    sub, down = billing.do_change_plan(owner, sub, plan_code="basic", on=day)
    sub, up_again = billing.do_change_plan(owner, sub, plan_code="pro", on=day)
    assert up is not None and down is None and up_again is not None
    assert (up.amount, sub.credit) == (2000, 0)  # the downgrade's 2000 credit paid the rest
    assert (up_again.subtotal, up_again.credit_applied, up_again.amount) == (2000, 2000, 0)
    assert up.pk != up_again.pk


def test_monthly_to_yearly_starts_a_new_period(org, owner):
    app = make_app()
    sub = _sub(org, app, code="pro", on=D(2026, 4, 1), provider="test")
    billing.run_billing(D(2026, 4, 1))
    sub, invoice = billing.do_change_plan(owner, sub, plan_code="pro-year", on=D(2026, 4, 11))
    # 20 of 30 days left of 9000: credit 6000; yearly 90000 in full → 84000.
    assert invoice is not None and invoice.amount == 84000
    assert (sub.current_period_start, sub.current_period_end) == (D(2026, 4, 11), D(2027, 4, 11))
    assert sub.next_billing_date == D(2027, 4, 11)


def test_change_on_the_last_day_and_on_the_first_day(org, owner):
    app = make_app()
    sub = _sub(org, app, on=D(2026, 4, 1), provider="test")
    billing.run_billing(D(2026, 4, 1))
    sub, invoice = billing.do_change_plan(owner, sub, plan_code="pro", on=D(2026, 4, 30))
    assert invoice is not None and invoice.amount == 200  # 1/30 of 6000
    sub, invoice = billing.do_change_plan(owner, sub, plan_code="basic", on=D(2026, 4, 1))
    assert invoice is None and sub.credit == 6000  # a whole period back


# --- editions -----------------------------------------------------------------------------


def test_professional_edition_is_9800_cny_a_year_for_500_members(org, owner):
    sub = billing.do_subscribe_edition(owner, edition="professional")
    org.refresh_from_db()
    assert org.edition == "professional" and org.member_limit == 500
    invoice = Invoice.objects.get(subscription=sub)
    assert (invoice.amount, invoice.currency) == (980_000, "CNY")
    assert (invoice.period_end - invoice.period_start).days in (365, 366)


def test_exclusive_edition_needs_a_quote_entered_by_an_operator(org, owner, staff):
    with pytest.raises(Conflict) as info:
        billing.do_subscribe_edition(owner, edition="exclusive")
    assert info.value.code == "quote_required"
    with pytest.raises(Forbidden):
        billing.do_create_quote(owner.user, org, edition="exclusive", amount=5_000_000)
    billing.do_create_quote(staff, org, edition="exclusive", amount=5_000_000, member_limit=2000)
    sub = billing.do_subscribe_edition(owner, edition="exclusive")
    org.refresh_from_db()
    assert sub.unit_amount == 5_000_000 and org.member_limit == 2000
    assert EditionQuote.objects.filter(org=org).count() == 1


def test_edition_payment_books_everything_to_platform_revenue(org, owner, staff):
    sub = billing.do_subscribe_edition(owner, edition="professional")
    invoice = Invoice.objects.get(subscription=sub)
    payment, _ = billing.do_record_manual_payment(
        staff, invoice, reference="BANK-0001", idempotency_key="k1"
    )
    txn = LedgerTransaction.objects.get(payment=payment)
    amounts = sorted((e.account.kind, e.amount) for e in txn.entries.select_related("account"))
    assert amounts == [("cash", 980_000), ("platform_revenue", -980_000)]


# --- payments -----------------------------------------------------------------------------


def test_a_charge_retried_with_the_same_key_charges_once(org, owner):
    sub = _sub(org, make_app(), on=D(2026, 3, 1), provider="test")
    Subscription.objects.filter(pk=sub.pk).update(payment_token="tok_declined")
    billing.run_billing(D(2026, 3, 1))  # the automatic charge is declined
    invoice = Invoice.objects.get(subscription=sub)
    assert invoice.status == "open"
    sub.refresh_from_db()
    assert sub.status == "past_due"
    first, created = billing.do_pay_invoice(owner, invoice, idempotency_key="pay-1", token="tok_ok")
    again, created_again = billing.do_pay_invoice(
        owner, invoice, idempotency_key="pay-1", token="tok_ok"
    )
    assert created and not created_again and first.pk == again.pk
    assert Payment.objects.filter(invoice=invoice, status="succeeded").count() == 1
    assert LedgerTransaction.objects.filter(payment=first).count() == 1
    sub.refresh_from_db()
    assert sub.status == "active"
    with pytest.raises(Conflict):  # a paid invoice is not charged again under a new key
        billing.do_pay_invoice(owner, invoice, idempotency_key="pay-2")


def test_auto_charge_in_the_run_books_the_sale(org):
    app = make_app()
    sub = _sub(org, app, on=D(2026, 3, 1), provider="test")
    report = billing.run_billing(D(2026, 3, 1))
    assert report.charged == 1
    payment = Payment.objects.get(invoice__subscription=sub)
    assert payment.idempotency_key == f"charge:period:{sub.pk}:2026-03-01"
    entries = {
        e.account.kind: e.amount
        for e in LedgerTransaction.objects.get(payment=payment).entries.select_related("account")
    }
    assert entries == {"cash": 3000, "commission": -450, "partner_payable": -2550}


def test_manual_invoices_wait_for_an_operator(org, owner, staff):
    sub = _sub(org, make_app(), on=D(2026, 3, 1))
    billing.run_billing(D(2026, 3, 1))
    invoice = Invoice.objects.get(subscription=sub)
    with pytest.raises(Conflict) as info:
        billing.do_pay_invoice(owner, invoice, idempotency_key="k")
    assert info.value.code == "manual_payment_only"
    with pytest.raises(Forbidden):
        billing.do_record_manual_payment(owner.user, invoice, reference="x", idempotency_key="k")
    with pytest.raises(ValidationFailed):
        billing.do_record_manual_payment(staff, invoice, reference=" ", idempotency_key="k")
    payment, created = billing.do_record_manual_payment(
        staff, invoice, reference="ICBC 2026-03-02 #88", idempotency_key="k"
    )
    invoice.refresh_from_db()
    assert created and invoice.status == "paid" and payment.reference == "ICBC 2026-03-02 #88"


def test_refund_larger_than_what_remains_is_refused_and_writes_nothing(org, staff):
    sub = _sub(org, make_app(), on=D(2026, 3, 1), provider="test")
    billing.run_billing(D(2026, 3, 1))
    payment = Payment.objects.get(invoice__subscription=sub)
    billing.do_refund(staff, payment, amount=1000, idempotency_key="r1")
    ledger_rows = LedgerTransaction.objects.count()
    for bad in (2001, 0, -5, "12.5", 1.5, True):
        with pytest.raises(ValidationFailed):
            billing.do_refund(staff, payment, amount=bad, idempotency_key=f"r-{bad}")
    payment.refresh_from_db()
    assert payment.refunded_amount == 1000 and LedgerTransaction.objects.count() == ledger_rows
    _refund, created = billing.do_refund(staff, payment, amount=1000, idempotency_key="r1")
    assert not created  # same key: the first refund, not a second one
    with pytest.raises(Conflict) as info:  # the same key for another amount
        billing.do_refund(staff, payment, amount=999, idempotency_key="r1")
    assert info.value.code == "idempotency_key_reused"
    billing.do_refund(staff, payment, amount=2000, idempotency_key="r2")
    payment.refresh_from_db()
    assert payment.refundable == 0


def test_install_hook_starts_a_subscription_for_the_chosen_plan(org):
    app = make_app()
    installation = make_installation(app, org)
    billing.start_app_subscription(installation, "basic")
    sub = Subscription.objects.get(org=org, app=app)
    assert sub.status == "active" and Invoice.objects.filter(subscription=sub).count() == 1
    billing.start_app_subscription(installation, "basic")  # a retried install: no second one
    assert Subscription.objects.filter(org=org, app=app).count() == 1
    with pytest.raises(ValidationFailed):
        billing.start_app_subscription(make_installation(make_app(), org), "nope")


def test_installing_an_app_with_a_paid_plan_starts_its_subscription(published_app, org, admin):
    from marketplace.actions import do_install_app

    app = published_app()
    installation, _created = do_install_app(
        admin, app, scopes=app.published_version.scopes, plan="team"
    )
    sub = Subscription.objects.get(org=org, app=app)
    assert (sub.plan_code, sub.status, sub.installation_id) == ("team", "trialing", installation.pk)
    assert sub.trial_end == sub.current_period_start + dt.timedelta(days=14)


def test_uninstalling_an_app_ends_its_subscription(published_app, org, admin):
    from marketplace.actions import do_install_app, do_uninstall_app

    app = published_app()
    installation, _created = do_install_app(
        admin, app, scopes=app.published_version.scopes, plan="team"
    )
    do_uninstall_app(admin, installation)

    sub = Subscription.objects.get(org=org, app=app)
    assert sub.status not in billing.LIVE
    invoices = Invoice.objects.filter(subscription=sub).count()
    billing.run_billing(dt.date.today() + dt.timedelta(days=60))
    assert Invoice.objects.filter(subscription=sub).count() == invoices  # nothing more billed
