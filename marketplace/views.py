"""Marketplace web pages. Server-rendered; ``marketplace.js`` sends the writes to the API.

Organisation pages (``/o/<org_id>/marketplace/``): the catalogue with search and
categories, an app's page, the install (consent) screen and the admin's installed-apps
page. Partner console (``/partners/``): sign-up, a partner's profile, members, payout
details, apps, installs; an app's versions with review status and a manifest editor.
Operators (``/ops/review/``): the review queue and one version's review.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.errors import Forbidden, NotFound
from core.permissions import check_permission, has_permission
from core.views import OrgRequest, UserRequest, brand_with_remembered_org, org_page
from marketplace import selectors
from marketplace.access import (
    access_catalogue_app,
    access_partner,
    access_partner_app,
    access_version,
)
from marketplace.actions import INSTALL, check_operator, masked_payout, pending_version
from marketplace.api.serializers import scopes_in_words
from marketplace.manifest import CATEGORIES
from marketplace.models import App, AppVersion, Installation, PartnerMember


def interface_strings() -> dict[str, str]:
    """What ``marketplace.js`` shows, translated for the current language."""
    return {
        "error": _("Something went wrong. Please try again."),
        "network": _("The server could not be reached. Check your connection."),
        "invalid_json": _("The manifest is not valid JSON: %(message)s"),
        "problems": _("Problems found:"),
        "saved": _("Saved."),
        "working": _("Working…"),
        "copied": _("Copied."),
    }


def price_text(plan: dict[str, Any]) -> str:
    """``12.00 CNY per member / month``; "Free" for free plans (amounts in minor units)."""
    if plan.get("type") == "free":
        return _("Free")
    amount = f"{int(plan.get('amount', 0)) / 100:,.2f} {plan.get('currency', '')}".strip()
    per = {"month": _("month"), "year": _("year")}.get(plan.get("interval", ""), "")
    if plan.get("type") == "per_seat":
        return _("%(amount)s per member / %(per)s") % {"amount": amount, "per": per}
    return _("%(amount)s / %(per)s") % {"amount": amount, "per": per}


def plans_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    plans = (manifest.get("pricing") or {}).get("plans", [])
    return [{**plan, "price": price_text(plan)} for plan in plans]


def _listing(app: App) -> dict[str, Any]:
    """What a tile or an app page shows of an app's published manifest."""
    version = app.published_version
    manifest = version.manifest if version is not None else {}
    plans = plans_of(manifest)
    return {
        "app": app,
        "manifest": manifest,
        "icon": manifest.get("icon", ""),
        "category_names": [str(CATEGORIES.get(c, c)) for c in manifest.get("categories", [])],
        "scopes": scopes_in_words(manifest.get("scopes", [])),
        "plans": plans,
        "price": min(plans, key=lambda p: p.get("amount", 0))["price"] if plans else _("Free"),
        "cards": manifest.get("cards", []),
        "events": (manifest.get("webhook") or {}).get("events", []),
    }


def _config(**extra: Any) -> dict[str, Any]:
    return {"strings": interface_strings(), **extra}


# --- organisation pages -----------------------------------------------------------------


def _installed(request: OrgRequest) -> dict[str, Installation]:
    found = selectors.org_installations(request.org.pk)
    return {i.app.app_id: i for i in found}


@org_page
@require_GET
def catalogue(request: OrgRequest) -> HttpResponse:
    """Every published app; search and categories."""
    q = request.GET.get("q", "")[:200]
    category = request.GET.get("category", "")
    if category not in CATEGORIES:
        category = ""
    apps = [_listing(app) for app in selectors.catalogue(q=q, category=category)[:200]]
    installed = _installed(request)
    for row in apps:
        row["installed"] = row["app"].app_id in installed
    context = {
        "apps": apps,
        "q": q,
        "category": category,
        "categories": [(code, str(name)) for code, name in CATEGORIES.items()],
        "can_install": has_permission(request.membership, INSTALL),
        "mp_tab": "catalogue",
        "mp_config": _config(),
    }
    return render(request, "marketplace/catalogue.html", context)


@org_page
@require_GET
def app_page(request: OrgRequest, app_id: str) -> HttpResponse:
    """An app: description, what it may do (scopes in words), price plans, cards."""
    app = access_catalogue_app(app_id)
    context = {
        **_listing(app),
        "installation": _installed(request).get(app.app_id),
        "can_install": has_permission(request.membership, INSTALL),
        "mp_tab": "catalogue",
        "mp_config": _config(),
    }
    return render(request, "marketplace/app.html", context)


@org_page
@require_GET
def install_page(request: OrgRequest, app_id: str) -> HttpResponse:
    """The consent screen: every scope the app asks for, write scopes flagged, a plan."""
    check_permission(request.membership, INSTALL)
    app = access_catalogue_app(app_id)
    if app.app_id in _installed(request):
        return redirect("marketplace:installed", org_id=request.org.pk)
    listing = _listing(app)
    config = _config(
        api=f"/api/v1/orgs/{request.org.pk}/marketplace/installations/",
        app=app.app_id,
        scopes=listing["manifest"].get("scopes", []),
        done=f"/o/{request.org.pk}/marketplace/installed/",
    )
    context = {**listing, "mp_tab": "catalogue", "mp_config": config}
    return render(request, "marketplace/install.html", context)


@org_page
@require_GET
def installed_apps(request: OrgRequest) -> HttpResponse:
    """The organisation's installed apps: scopes granted, new scopes to consent to,
    uninstall; and what was uninstalled before."""
    check_permission(request.membership, INSTALL)
    everything = list(selectors.org_installations(request.org.pk, include_uninstalled=True))
    rows: list[dict[str, Any]] = []
    for installation in everything:
        pending = pending_version(installation)
        granted = set(installation.granted_scopes)
        rows.append(
            {
                "installation": installation,
                "scopes": scopes_in_words(installation.granted_scopes),
                "pending": pending,
                "pending_scopes": [
                    {**s, "new": s["scope"] not in granted}
                    for s in scopes_in_words(pending.scopes if pending else [])
                ],
            }
        )
    context = {
        "active": [r for r in rows if r["installation"].is_active],
        "removed": [r for r in rows if not r["installation"].is_active][:20],
        "mp_tab": "installed",
        "mp_config": _config(api=f"/api/v1/orgs/{request.org.pk}/marketplace/installations/"),
    }
    return render(request, "marketplace/installed.html", context)


# --- partner console --------------------------------------------------------------------


def _user_page(request: HttpRequest) -> UserRequest:
    scoped = cast(UserRequest, request)
    brand_with_remembered_org(scoped)
    return scoped


def _forbidden(request: HttpRequest, exc: Forbidden) -> HttpResponse:
    return render(request, "core/403.html", {"message": exc.message}, status=403)


@login_required
@require_GET
def partner_home(request: HttpRequest) -> HttpResponse:
    """The partners the user works for, and signing a new one up."""
    user_request = _user_page(request)
    memberships = list(selectors.partners_for_user(user_request.user))
    context = {
        "memberships": memberships,
        "mp_config": _config(api="/api/v1/marketplace/partners/"),
    }
    return render(request, "marketplace/partner_home.html", context)


@login_required
@require_GET
def partner_page(request: HttpRequest, partner_id: int) -> HttpResponse:
    """A partner's profile, people, payout details, apps and their installs."""
    user_request = _user_page(request)
    try:
        pm = access_partner(user_request.user, partner_id)
    except NotFound:
        raise Http404 from None
    partner = pm.partner
    api = f"/api/v1/marketplace/partners/{partner.pk}/"
    context = {
        "pm": pm,
        "partner": partner,
        "is_owner": pm.role == PartnerMember.Role.OWNER,
        "can_develop": pm.role in (PartnerMember.Role.OWNER, PartnerMember.Role.DEVELOPER),
        "can_payout": pm.role in (PartnerMember.Role.OWNER, PartnerMember.Role.FINANCE),
        "members": selectors.partner_members(partner),
        "roles": PartnerMember.Role.choices,
        "payout": masked_payout(partner),
        "apps": selectors.partner_apps(partner),
        "installs": selectors.partner_installs(partner),
        "mp_config": _config(
            partner_api=api, apps_api="/api/v1/marketplace/apps/", partner_id=partner.pk
        ),
    }
    return render(request, "marketplace/partner.html", context)


STARTER_MANIFEST = """{
  "id": "%(app_id)s",
  "name": "%(name)s",
  "summary": "One line for the catalogue.",
  "description": "What the app does, for the admins who install it.",
  "version": "1.0.0",
  "categories": ["productivity"],
  "scopes": ["core:member.read"],
  "oauth": {"redirect_uris": ["https://app.example.com/oauth/callback"]},
  "pricing": {"plans": [{"code": "free", "name": "Free", "type": "free"}]}
}"""


@login_required
@require_GET
def partner_app_page(request: HttpRequest, app_pk: int) -> HttpResponse:
    """An app's OAuth client, its versions and their review, and the manifest editor."""
    import json

    user_request = _user_page(request)
    try:
        pm, app = access_partner_app(user_request.user, app_pk)
    except NotFound:
        raise Http404 from None
    versions = list(selectors.app_versions(app))
    latest = versions[0].manifest if versions else None
    starter = (
        json.dumps(latest, indent=2, ensure_ascii=False)
        if latest
        else STARTER_MANIFEST % {"app_id": app.app_id, "name": app.name.replace('"', "")}
    )
    context = {
        "pm": pm,
        "app": app,
        "partner": app.partner,
        "can_develop": pm.role in (PartnerMember.Role.OWNER, PartnerMember.Role.DEVELOPER),
        "versions": [
            {"version": v, "scopes": scopes_in_words(v.scopes), "json": json.dumps(v.manifest)}
            for v in versions
        ],
        "starter": starter,
        "mp_config": _config(
            versions_api="/api/v1/marketplace/versions/",
            apps_api="/api/v1/marketplace/apps/",
            app=app.pk,
        ),
    }
    return render(request, "marketplace/partner_app.html", context)


# --- operators --------------------------------------------------------------------------


@login_required
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    """Versions waiting for review (oldest first), and the latest decisions."""
    user_request = _user_page(request)
    try:
        check_operator(user_request.user)
    except Forbidden as exc:
        return _forbidden(request, exc)
    decided = AppVersion.objects.select_related("app", "app__partner", "reviewed_by").filter(
        status__in=[AppVersion.Status.APPROVED, AppVersion.Status.REJECTED]
    )
    context = {
        "queue": selectors.review_queue()[:200],
        "decided": decided.order_by("-reviewed_at")[:20],
    }
    return render(request, "marketplace/review_queue.html", context)


@login_required
@require_GET
def review_page(request: HttpRequest, version_id: int) -> HttpResponse:
    """One version: its manifest, the scopes it asks for with new ones highlighted."""
    import json

    user_request = _user_page(request)
    try:
        check_operator(user_request.user)
        _pm, version = access_version(user_request.user, version_id)
    except Forbidden as exc:
        return _forbidden(request, exc)
    except NotFound:
        raise Http404 from None
    new = set(version.new_scopes)
    manifest = version.manifest
    context = {
        "version": version,
        "manifest": manifest,
        "manifest_json": json.dumps(manifest, indent=2, ensure_ascii=False),
        "scopes": [{**s, "new": s["scope"] in new} for s in scopes_in_words(version.scopes)],
        "plans": plans_of(manifest),
        "published": version.app.published_version,
        "mp_config": _config(versions_api="/api/v1/marketplace/versions/", queue="/ops/review/"),
    }
    return render(request, "marketplace/review.html", context)
