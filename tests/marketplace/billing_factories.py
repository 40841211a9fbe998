"""Small builders for billing and ledger tests (straight from models, no install flow)."""

from __future__ import annotations

import itertools

from marketplace.models import App, AppVersion, Installation, Partner

_n = itertools.count(1)


def plans(**overrides):
    base = [
        {"code": "free", "name": "Free", "type": "free"},
        {
            "code": "basic",
            "name": "Basic",
            "type": "flat",
            "interval": "month",
            "amount": 3000,
            "currency": "CNY",
            "trial_days": 0,
        },
        {
            "code": "pro",
            "name": "Pro",
            "type": "flat",
            "interval": "month",
            "amount": 9000,
            "currency": "CNY",
            "trial_days": 0,
        },
        {
            "code": "pro-year",
            "name": "Pro yearly",
            "type": "flat",
            "interval": "year",
            "amount": 90000,
            "currency": "CNY",
            "trial_days": 0,
        },
        {
            "code": "team",
            "name": "Team",
            "type": "per_seat",
            "interval": "month",
            "amount": 1200,
            "currency": "CNY",
            "trial_days": 14,
        },
    ]
    return base


def make_partner(name: str | None = None) -> Partner:
    n = next(_n)
    return Partner.objects.create(
        name=name or f"Billing Partner {n}",
        slug=f"billing-partner-{n}",
        contact_email=f"bp{n}@acme.test",
    )


def make_app(partner: Partner | None = None, plan_list=None) -> App:
    partner = partner or make_partner()
    n = next(_n)
    app = App.objects.create(partner=partner, app_id=f"test.billing.app{n}", name=f"App {n}")
    version = AppVersion.objects.create(
        app=app,
        version="1.0.0",
        manifest={"id": app.app_id, "pricing": {"plans": plan_list or plans()}},
        scopes=[],
        status="published",
    )
    app.published_version = version
    app.save(update_fields=["published_version"])
    return app


def make_installation(app: App, org) -> Installation:
    from core.models import Membership

    return Installation.objects.create(
        org=org,
        app=app,
        version=app.published_version,
        granted_scopes=[],
        installed_by=Membership.objects.filter(org=org, role="owner").first(),
    )
