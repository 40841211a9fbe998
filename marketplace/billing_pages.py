"""Billing web pages: an organisation's billing (edition, subscriptions, invoices,
payments) and a partner's revenue (balance, statements, payouts).

Server-rendered; ``billing.js`` sends the actions (subscribe, change plan, cancel, resume,
pay, record a transfer, pay out) to the billing API (``marketplace.api.billing_views``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.errors import Forbidden, NotFound
from core.permissions import check_permission
from core.views import OrgRequest, org_page
from marketplace import billing, ledger
from marketplace.api.billing_views import access_partner_finance
from marketplace.models import Invoice, Partner, PartnerStatement, Payment, Payout, Subscription
from marketplace.views import _forbidden, _user_page


def money(amount: int | None, currency: str | None) -> str:
    """``980000, "CNY"`` → ``"9,800.00 CNY"`` (two minor-unit digits; display only)."""
    if amount is None or not currency:
        return _("By quote")
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(int(amount)), 100)
    return f"{sign}{whole:,}.{cents:02d} {currency}"


def billing_strings() -> dict[str, str]:
    return {
        "error": _("Something went wrong. Try again."),
        "network": _("The server could not be reached. Check your connection."),
        "confirm_cancel_now": _(
            "End this subscription now? Nothing is refunded for the rest of the period."
        ),
        "confirm_payout": _("Send this payout? It moves money out of the partner's balance."),
        "done": _("Done."),
    }


def _plans_for(sub: Subscription) -> list[dict[str, Any]]:
    if sub.kind != Subscription.Kind.APP or sub.app is None:
        return []
    return [
        {"code": p.code, "label": f"{p.name} · {money(p.amount, p.currency)}"}
        for p in billing.app_plans(sub.app)
        if p.code != sub.plan_code
    ]


@org_page
@require_GET
def org_billing(request: OrgRequest) -> HttpResponse:
    try:
        check_permission(request.membership, billing.MANAGE)
    except Forbidden as exc:
        return _forbidden(request, exc)
    org = request.org
    subs = list(Subscription.objects.filter(org=org).select_related("app").order_by("-id")[:100])
    invoices = list(Invoice.objects.filter(org=org).order_by("-issued_at", "-id")[:50])
    payments = list(Payment.objects.filter(org=org).order_by("-id")[:50])
    editions = [
        {**e, "price": money(e["amount"], e["currency"])} for e in billing.edition_catalogue(org)
    ]
    context = {
        "edition": org.get_edition_display(),
        "edition_code": org.edition,
        "member_limit": org.member_limit,
        "seats": billing.active_seats([org.pk]).get(org.pk, 0),
        "editions": editions,
        "has_edition": any(s.kind == "edition" and s.status != "canceled" for s in subs),
        "subscriptions": [
            {
                "sub": s,
                "price": money(s.unit_amount, s.currency),
                "plans": _plans_for(s),
                "credit": money(s.credit, s.currency) if s.credit else "",
            }
            for s in subs
        ],
        "invoices": [{"invoice": i, "amount": money(i.amount, i.currency)} for i in invoices],
        "payments": [{"payment": p, "amount": money(p.amount, p.currency)} for p in payments],
        "is_operator": request.user.is_staff,
        "mp_tab": "billing",
        "billing_config": {
            "api": f"/api/v1/orgs/{org.pk}/billing/",
            "ops_api": "/api/v1/marketplace/billing/",
            "strings": billing_strings(),
        },
    }
    return render(request, "marketplace/billing.html", context)


@login_required
@require_GET
def partner_revenue(request: HttpRequest, partner_id: int) -> HttpResponse:
    user_request = _user_page(request)
    try:
        partner: Partner = access_partner_finance(user_request.user, partner_id)
    except NotFound:
        raise Http404 from None
    except Forbidden as exc:
        return _forbidden(request, exc)
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    for month in (last_month, this_month):  # idempotent: the same rows, brought up to date
        ledger.do_generate_statements(partner, month)
    balances = ledger.partner_balances(partner) or {partner.payout_currency: 0}
    statements = PartnerStatement.objects.filter(partner=partner)[:24]
    context = {
        "partner": partner,
        "balances": [
            {
                "currency": c,
                "balance": money(v, c),
                "minimum": money(ledger.payout_minimum(c), c),
                "raw": v,
                "can_pay": v >= ledger.payout_minimum(c),
            }
            for c, v in sorted(balances.items())
        ],
        "statements": [
            {
                "s": s,
                **{
                    k: money(getattr(s, k), s.currency)
                    for k in (
                        "gross",
                        "fees",
                        "refunds",
                        "net",
                        "payouts",
                        "opening_balance",
                        "closing_balance",
                    )
                },
            }
            for s in statements
        ],
        "payouts": [
            {"p": p, "amount": money(p.amount, p.currency)}
            for p in Payout.objects.filter(partner=partner)[:50]
        ],
        "is_operator": user_request.user.is_staff,
        "billing_config": {
            "api": f"/api/v1/partners/{partner.pk}/",
            "strings": billing_strings(),
        },
    }
    return render(request, "marketplace/revenue.html", context)
