"""Billing web pages: the organisation's billing page and the partner's revenue page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from marketplace import billing
from marketplace.models import PartnerMember
from tests.marketplace.billing_factories import make_app, make_partner

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_org_billing_page_shows_edition_subscriptions_and_invoices(org, owner, member, other_org):
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
    page = _client(owner.user).get(f"/o/{org.pk}/marketplace/billing/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "30.00 CNY" in html and "INV-20260301-" in html and "9,800.00 CNY" in html
    assert 'id="billing-config"' in html and "marketplace/billing.js" in html
    assert "<script>" not in html  # CSP: configuration as JSON, code from static files
    assert _client(member.user).get(f"/o/{org.pk}/marketplace/billing/").status_code == 403
    from core.models import Membership

    stranger = Membership.objects.get(org=other_org, role="owner").user
    assert _client(stranger).get(f"/o/{org.pk}/marketplace/billing/").status_code == 404


def test_partner_revenue_page(org, make_user):
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
    billing.run_billing(dt.date(2026, 3, 1))
    finance, stranger, staff = make_user(), make_user(), make_user(is_staff=True)
    PartnerMember.objects.create(partner=partner, user=finance, role="finance")
    page = _client(finance).get(f"/partners/{partner.pk}/revenue/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "76.50 CNY" in html  # 90.00 less 15%
    assert "Pay out" not in html  # below the minimum, and not an operator
    assert _client(stranger).get(f"/partners/{partner.pk}/revenue/").status_code == 404
    assert _client(staff).get(f"/partners/{partner.pk}/revenue/").status_code == 200


def test_billing_and_revenue_pages_are_linked_for_those_who_may_open_them(org, owner, member):
    """Admins reach billing from the marketplace tabs; partner owners and finance reach
    revenue from the partner page; others do not see the links."""
    billing_url = f"/o/{org.pk}/marketplace/billing/"
    assert billing_url in _client(owner.user).get(f"/o/{org.pk}/marketplace/").content.decode()
    assert billing_url not in _client(member.user).get(f"/o/{org.pk}/marketplace/").content.decode()

    partner = make_partner()
    PartnerMember.objects.create(partner=partner, user=owner.user, role="owner")
    PartnerMember.objects.create(partner=partner, user=member.user, role="developer")
    revenue_url = f"/partners/{partner.pk}/revenue/"
    assert revenue_url in _client(owner.user).get(f"/partners/{partner.pk}/").content.decode()
    assert revenue_url not in _client(member.user).get(f"/partners/{partner.pk}/").content.decode()
