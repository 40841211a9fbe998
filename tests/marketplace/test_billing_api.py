"""Billing and revenue API: organisation, partner and operator routes."""

from __future__ import annotations

import datetime as dt

import pytest

from marketplace import billing
from marketplace.models import Invoice, LedgerTransaction, PartnerMember, Payment, Subscription
from tests.marketplace.billing_factories import make_app, make_partner

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user):
    return make_user(is_staff=True)


@pytest.fixture
def paid_app_sub(org):
    app = make_app()
    plan = billing.app_plan(app, "basic")
    sub = billing._new_subscription(
        org, plan, kind="app", start=dt.date(2026, 3, 1), member=None, app=app, provider="test"
    )
    billing.run_billing(dt.date(2026, 3, 1))
    return sub


def _org_urls(org_id, sub, invoice, payment):
    base = f"/api/v1/orgs/{org_id}/billing"
    return [
        ("get", f"{base}/"),
        ("get", f"{base}/subscriptions/"),
        ("post", f"{base}/subscriptions/"),
        ("get", f"{base}/subscriptions/{sub.pk}/"),
        ("post", f"{base}/subscriptions/{sub.pk}/change-plan/"),
        ("post", f"{base}/subscriptions/{sub.pk}/cancel/"),
        ("post", f"{base}/subscriptions/{sub.pk}/resume/"),
        ("get", f"{base}/invoices/"),
        ("get", f"{base}/invoices/{invoice.pk}/"),
        ("post", f"{base}/invoices/{invoice.pk}/pay/"),
        ("get", f"{base}/payments/"),
        ("get", f"{base}/payments/{payment.pk}/"),
    ]


def test_another_organisations_billing_is_404_everywhere(org, paid_app_sub, api, other_org):
    from core.models import Membership

    invoice = Invoice.objects.get(subscription=paid_app_sub)
    payment = Payment.objects.get(invoice=invoice)
    outsider_admin = Membership.objects.get(org=other_org, role="owner")
    client = api(outsider_admin)
    for method, url in _org_urls(org.pk, paid_app_sub, invoice, payment):
        answer = getattr(client, method)(
            url, {"plan": "pro", "idempotency_key": "x"}, format="json"
        )
        assert answer.status_code == 404, (method, url, answer.status_code)
    # ... and the other organisation's own routes do not show A's objects.
    for method, url in _org_urls(other_org.pk, paid_app_sub, invoice, payment)[3:]:
        if "/subscriptions/" in url or "/invoices/" in url or "/payments/" in url:
            if url.endswith(("/subscriptions/", "/invoices/", "/payments/")):
                continue
            answer = getattr(client, method)(
                url, {"plan": "pro", "idempotency_key": "x"}, format="json"
            )
            assert answer.status_code == 404, (method, url, answer.status_code)
    sub = Subscription.objects.get(pk=paid_app_sub.pk)
    assert sub.plan_code == "basic" and sub.status == "active"


def test_members_without_the_permission_get_403(org, member, api, paid_app_sub):
    answer = api(member).get(f"/api/v1/orgs/{org.pk}/billing/subscriptions/")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"


def test_admin_sees_and_manages_subscriptions(org, owner, api, paid_app_sub):
    client = api(owner)
    listing = client.get(f"/api/v1/orgs/{org.pk}/billing/subscriptions/").json()
    assert [s["id"] for s in listing["results"]] == [paid_app_sub.pk]
    url = f"/api/v1/orgs/{org.pk}/billing/subscriptions/{paid_app_sub.pk}"
    changed = client.post(f"{url}/change-plan/", {"plan": "pro"}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["plan_code"] == "pro"
    bad = client.post(f"{url}/change-plan/", {"plan": "nope"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unknown_plan"
    assert (
        client.post(f"{url}/cancel/", {"at_period_end": False}, format="json").json()["status"]
        == "canceled"
    )
    again = client.post(f"{url}/cancel/", {}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    overview = client.get(f"/api/v1/orgs/{org.pk}/billing/").json()
    assert overview["editions"][0] == {
        "edition": "professional",
        "name": "Professional",
        "amount": 980000,
        "currency": "CNY",
        "interval": "year",
        "member_limit": 500,
        "by_quote": False,
    }


def test_paying_twice_with_the_same_key_charges_once(org, owner, api):
    sub = billing.do_subscribe_edition(owner, edition="professional", provider="manual")
    Subscription.objects.filter(pk=sub.pk).update(payment_provider="test")
    invoice = Invoice.objects.get(subscription=sub)
    url = f"/api/v1/orgs/{org.pk}/billing/invoices/{invoice.pk}/pay/"
    first = api(owner).post(url, {"idempotency_key": "pay-once"}, format="json")
    second = api(owner).post(url, {"idempotency_key": "pay-once"}, format="json")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert LedgerTransaction.objects.filter(payment_id=first.json()["id"]).count() == 1


def test_operator_refund_too_large_is_400_and_writes_nothing(api, staff, owner, paid_app_sub):
    payment = Payment.objects.get(invoice__subscription=paid_app_sub)
    url = f"/api/v1/marketplace/billing/payments/{payment.pk}/refund/"
    assert (
        api(owner).post(url, {"amount": 1, "idempotency_key": "r"}, format="json").status_code
        == 403
    )
    before = LedgerTransaction.objects.count()
    answer = api(staff).post(url, {"amount": 3001, "idempotency_key": "r"}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "refund_too_large"
    assert LedgerTransaction.objects.count() == before
    ok = api(staff).post(url, {"amount": 1000, "idempotency_key": "r"}, format="json")
    same = api(staff).post(url, {"amount": 1000, "idempotency_key": "r"}, format="json")
    assert (
        ok.status_code == 201 and same.status_code == 200 and ok.json()["id"] == same.json()["id"]
    )


def test_operator_records_a_bank_transfer(api, staff, org):
    app = make_app()
    billing._new_subscription(
        org,
        billing.app_plan(app, "basic"),
        kind="app",
        start=dt.date(2026, 3, 1),
        member=None,
        app=app,
    )
    billing.run_billing(dt.date(2026, 3, 1))
    invoice = Invoice.objects.get(subscription__app=app)
    url = f"/api/v1/marketplace/billing/invoices/{invoice.pk}/record-payment/"
    answer = api(staff).post(
        url, {"reference": "ICBC 0042", "idempotency_key": "t1"}, format="json"
    )
    assert answer.status_code == 201 and answer.json()["reference"] == "ICBC 0042"
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_partner_revenue_is_for_owners_finance_and_operators(api, make_user, staff, org):
    partner = make_partner()
    app = make_app(partner)
    billing._new_subscription(
        org,
        billing.app_plan(app, "pro"),
        kind="app",
        start=dt.date(2026, 3, 1),
        member=None,
        app=app,
        provider="test",
    )
    for _i in range(2):
        billing.run_billing(dt.date(2026, 4, 1))
    finance, developer, stranger = make_user(), make_user(), make_user()
    PartnerMember.objects.create(partner=partner, user=finance, role="finance")
    PartnerMember.objects.create(partner=partner, user=developer, role="developer")
    base = f"/api/v1/partners/{partner.pk}"
    balance = api(finance).get(f"{base}/balance/").json()
    assert balance == [{"currency": "CNY", "balance": 2 * 7650, "payout_minimum": 10000}]
    assert api(developer).get(f"{base}/balance/").status_code == 403
    assert api(stranger).get(f"{base}/balance/").status_code == 404
    assert api(stranger).get("/api/v1/partners/999999/balance/").status_code == 404
    entries = api(finance).get(f"{base}/ledger/").json()["results"]
    assert [e["amount"] for e in entries] == [-7650, -7650]
    assert entries[0]["rate"] == "0.150000"
    for month in ("2026-13-01", "2026-02-30", "April"):
        bad = api(finance).get(f"{base}/statements/?month={month}")
        assert bad.status_code == 400 and bad.json()["error"]["fields"] == {"month": ["Invalid."]}
    statements = api(finance).get(f"{base}/statements/?month=2026-04-01").json()
    assert statements == [] or statements[0]["currency"] == "CNY"
    # Payouts: operators only, at least the minimum, at most the balance, idempotent.
    payout = {"amount": 15000, "currency": "CNY", "idempotency_key": "po-1", "reference": "W1"}
    assert api(finance).post(f"{base}/payouts/", payout, format="json").status_code == 403
    small = api(staff).post(f"{base}/payouts/", {**payout, "amount": 50}, format="json")
    assert small.status_code == 400 and small.json()["error"]["code"] == "below_minimum"
    big = api(staff).post(f"{base}/payouts/", {**payout, "amount": 99999}, format="json")
    assert big.status_code == 409
    first = api(staff).post(f"{base}/payouts/", payout, format="json")
    again = api(staff).post(f"{base}/payouts/", payout, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert api(finance).get(f"{base}/balance/").json()[0]["balance"] == 2 * 7650 - 15000
    assert len(api(finance).get(f"{base}/payouts/").json()) == 1


def test_operator_sets_rates_and_quotes(api, staff, owner, org):
    partner = make_partner()
    url = "/api/v1/marketplace/billing/commission-rates/"
    assert api(owner).post(url, {"rate": "0.1"}, format="json").status_code == 403
    bad = api(staff).post(url, {"rate": "1.5", "partner": partner.pk}, format="json")
    assert bad.status_code == 400
    for when in ("2026-13-01T00:00:00Z", "2026-02-30T00:00:00+08:00", "2026-03-01T00:00:00"):
        body = {"rate": "0.1", "partner": partner.pk, "effective_from": when}
        bad = api(staff).post(url, body, format="json")
        assert bad.status_code == 400 and "effective_from" in bad.json()["error"]["fields"]
    ok = api(staff).post(url, {"rate": "0.1", "partner": partner.pk}, format="json")
    assert ok.status_code == 201 and ok.json()["rate"] == "0.100000"
    quote = api(staff).post(
        "/api/v1/marketplace/billing/quotes/",
        {"org": org.pk, "edition": "proprietary", "amount": 12_000_000, "member_limit": 5000},
        format="json",
    )
    assert quote.status_code == 201
    sub = api(owner).post(
        f"/api/v1/orgs/{org.pk}/billing/subscriptions/", {"edition": "proprietary"}, format="json"
    )
    assert sub.status_code == 201 and sub.json()["unit_amount"] == 12_000_000
