"""Reads for the marketplace: the catalogue, partner consoles, review queue, installs."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from core.models import User
from marketplace.models import App, AppVersion, Installation, Partner, PartnerMember


def catalogue(*, q: str = "", category: str = "") -> QuerySet[App]:
    """Published, listed apps of active partners; ``q`` matches every word (name,
    description, partner, categories; case-insensitive), ``category`` one category."""
    apps = App.objects.select_related("partner", "published_version").filter(
        published_version__isnull=False,
        is_listed=True,
        partner__status=Partner.Status.ACTIVE,
    )
    for word in q.lower().split()[:10]:
        apps = apps.filter(search_text__contains=word)
    if category:
        apps = apps.filter(search_text__contains=f" category:{category.lower()} ")
    return apps.order_by("name", "id")


def partners_for_user(user: User) -> QuerySet[PartnerMember]:
    return PartnerMember.objects.select_related("partner").filter(user=user).order_by("id")


def partner_members(partner: Partner) -> QuerySet[PartnerMember]:
    return PartnerMember.objects.select_related("user").filter(partner=partner).order_by("id")


def partner_apps(partner: Partner) -> QuerySet[App]:
    return (
        App.objects.select_related("partner", "published_version", "oauth_application")
        .filter(partner=partner)
        .annotate(
            active_installs=Count(
                "installations", filter=Q(installations__status=Installation.Status.ACTIVE)
            )
        )
        .order_by("name", "id")
    )


def app_versions(app: App) -> QuerySet[AppVersion]:
    return (
        AppVersion.objects.select_related(
            "app", "app__partner", "app__published_version", "reviewed_by"
        )
        .filter(app=app)
        .order_by("-id")
    )


def review_queue(*, status: str = AppVersion.Status.SUBMITTED) -> QuerySet[AppVersion]:
    """Versions waiting for an operator, oldest first."""
    return (
        AppVersion.objects.select_related("app", "app__partner", "app__published_version")
        .filter(status=status)
        .order_by("submitted_at", "id")
    )


def org_installations(org_id: int, *, include_uninstalled: bool = False) -> QuerySet[Installation]:
    found = Installation.objects.select_related(
        "app", "app__partner", "app__published_version", "version", "installed_by__user"
    ).filter(org_id=org_id)
    if not include_uninstalled:
        found = found.filter(status=Installation.Status.ACTIVE)
    return found.order_by("-id")


def partner_installs(partner: Partner) -> list[dict[str, Any]]:
    """Per app of the partner: active install count and the organisations' names (no more)."""
    rows = (
        Installation.objects.filter(app__partner=partner, status=Installation.Status.ACTIVE)
        .values_list("app_id", "org__name", "installed_at", "version__version")
        .order_by("app_id", "-installed_at")
    )
    by_app: dict[int, list[dict[str, Any]]] = {}
    for app_pk, org_name, installed_at, version in rows:
        by_app.setdefault(app_pk, []).append(
            {"org_name": org_name, "installed_at": installed_at, "version": version}
        )
    result = []
    for app in App.objects.filter(partner=partner).order_by("name", "id"):
        orgs = by_app.get(app.pk, [])
        result.append(
            {
                "app": app.pk,
                "app_id": app.app_id,
                "name": app.name,
                "count": len(orgs),
                "orgs": orgs,
            }
        )
    return result
