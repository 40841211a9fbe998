"""Demo data for the marketplace: a partner with published apps, a platform operator,
one app installed in the demo organisation with a month of billing behind it.

Everyone signs in with the demo password. The operator (``operator@tack-platform.example``)
sees the review queue with one submitted version waiting; the partner
(``partner@acme-apps.example``) sees its console, installs and revenue.
"""

from __future__ import annotations

from typing import Any

from core.demo import DemoContext, demo_step
from core.models import User
from marketplace.models import App, AppVersion, Installation, Partner, PartnerMember

OPERATOR_EMAIL = "operator@tack-platform.example"
PARTNER_EMAIL = "partner@acme-apps.example"
PARTNER_SLUG = "acme-apps"

_PLANS_FREE = [{"code": "free", "name": "Free", "type": "free"}]


def _manifest(app_id: str, name: str, version: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": app_id,
        "name": name,
        "version": version,
        "oauth": {"redirect_uris": [f"https://{app_id.split('.')[1]}.example/oauth/callback"]},
        **fields,
    }


APPS: list[dict[str, Any]] = [
    _manifest(
        "com.acmeapps.expenses",
        "Expense Claims",
        "1.2.0",
        summary="Claims with receipts, approved from chat.",
        description=(
            "Members photograph a receipt, fill in the amount and send the claim; the "
            "manager approves it on a card in the team's chat. Monthly export for finance."
        ),
        categories=["finance", "productivity"],
        scopes=["core:member.read", "core:department.read", "im:card.write"],
        pricing={
            "plans": [
                *_PLANS_FREE,
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
        },
    ),
    _manifest(
        "com.acmeapps.visitors",
        "Visitor Check-in",
        "2.0.1",
        summary="Front-desk sign-in with badges and host alerts.",
        description="Visitors sign in on a tablet; their host is told in chat at once.",
        categories=["operations"],
        scopes=["core:member.read", "im:message.write"],
        pricing={"plans": _PLANS_FREE},
    ),
    _manifest(
        "com.acmeapps.coldchain",
        "Cold-Chain Monitor",
        "1.0.0",
        summary="Fridge and truck temperatures into low-code records, alerts into chat.",
        description=(
            "Reads sensor gateways every minute, writes readings into a low-code form and "
            "warns the quality team when a reading leaves its range."
        ),
        categories=["operations", "analytics"],
        scopes=["lowcode:app.read", "lowcode:record.write", "im:card.write"],
        pricing={
            "plans": [
                {
                    "code": "site",
                    "name": "Per site",
                    "type": "flat",
                    "interval": "month",
                    "amount": 39900,
                    "currency": "CNY",
                    "trial_days": 30,
                }
            ]
        },
    ),
]

# A newer version waiting in the operator's review queue (it asks for one more scope).
PENDING = _manifest(
    "com.acmeapps.visitors",
    "Visitor Check-in",
    "2.1.0",
    summary="Front-desk sign-in with badges and host alerts.",
    description="Visitors sign in on a tablet; their host is told in chat at once.",
    categories=["operations"],
    scopes=["core:member.read", "im:message.write", "lowcode:record.write"],
    pricing={"plans": _PLANS_FREE},
)


def _user(ctx: DemoContext, email: str, name: str, **extra: Any) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create(
            email=email, display_name=name, password=ctx.password_hash, **extra
        )
    return user


def _published(pm: PartnerMember, operator: User, manifest: dict[str, Any]) -> App:
    from marketplace import actions

    app = App.objects.filter(app_id=manifest["id"]).first()
    if app is None:
        app, _client_id, _secret, _webhook_secret = actions.do_create_app(
            pm, app_id=manifest["id"], name=manifest["name"],
            redirect_uris=manifest["oauth"]["redirect_uris"],
        )  # fmt: skip
    if app.published_version_id is None:
        version = actions.do_create_version(pm, app, manifest)
        actions.do_submit_version(pm, version)
        actions.do_approve_version(operator, version, note="Looks good.")
        actions.do_publish_version(pm, version)
        app.refresh_from_db()
    return app


@demo_step("marketplace.partner-apps", order=300)
def demo_marketplace(ctx: DemoContext) -> None:
    from marketplace import actions, billing

    operator = _user(ctx, OPERATOR_EMAIL, "Olga (platform operator)", is_staff=True)
    partner_user = _user(ctx, PARTNER_EMAIL, "Pat Lin (Acme Apps)")
    partner = Partner.objects.filter(slug=PARTNER_SLUG).first()
    if partner is None:
        pm = actions.do_create_partner(
            partner_user,
            name="Acme Apps",
            contact_email=PARTNER_EMAIL,
            contact_name="Pat Lin",
            website="https://acme-apps.example",
        )
        Partner.objects.filter(pk=pm.partner_id).update(slug=PARTNER_SLUG)
    pm = PartnerMember.objects.select_related("partner").get(
        partner__slug=PARTNER_SLUG, user=partner_user
    )
    apps = {manifest["id"]: _published(pm, operator, manifest) for manifest in APPS}

    visitors = apps["com.acmeapps.visitors"]
    if not AppVersion.objects.filter(app=visitors, version=PENDING["version"]).exists():
        actions.do_submit_version(pm, actions.do_create_version(pm, visitors, PENDING))

    expenses = apps["com.acmeapps.expenses"]
    if not Installation.objects.filter(org=ctx.org, app=expenses, status="active").exists():
        published = expenses.published_version
        assert published is not None  # published by _published above
        actions.do_install_app(ctx.owner, expenses, scopes=published.scopes)
    billing.seed_demo_billing(ctx.org, [(expenses, "team")])

    links = ctx.extra.setdefault("links", [])
    links.append(("Marketplace", f"/o/{ctx.org.pk}/marketplace/"))
    links.append((f"Partner console (sign in as {PARTNER_EMAIL})", "/partners/"))
    links.append((f"App review queue (sign in as {OPERATOR_EMAIL})", "/ops/review/"))
