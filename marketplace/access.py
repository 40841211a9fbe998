"""``access_<thing>`` lookups for the marketplace: the same 404 for missing and not-yours.

Partner-side objects (partners, their apps and versions) are seen only by the partner's
members; platform operators (``is_staff``) also see versions that entered review. An
installation belongs to one organisation: another organisation's id is a 404.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from core.access import as_id
from core.errors import NotFound
from core.models import Membership, User
from marketplace.models import App, AppVersion, Installation, Partner, PartnerMember

REVIEWED = (
    AppVersion.Status.SUBMITTED,
    AppVersion.Status.APPROVED,
    AppVersion.Status.REJECTED,
    AppVersion.Status.PUBLISHED,
    AppVersion.Status.RETIRED,
)


def access_partner(user: User, partner_id: Any) -> PartnerMember:
    """The caller's membership of partner ``partner_id`` (with the partner)."""
    if not user.is_authenticated:
        raise NotFound()
    pm = (
        PartnerMember.objects.select_related("partner", "user")
        .filter(partner_id=as_id(partner_id), user=user)
        .first()
    )
    if pm is None:
        raise NotFound(_("Partner not found."))
    return pm


def access_partner_member(pm: PartnerMember, member_id: Any) -> PartnerMember:
    target = (
        PartnerMember.objects.select_related("user")
        .filter(partner_id=pm.partner_id, pk=as_id(member_id))
        .first()
    )
    if target is None:
        raise NotFound(_("Partner member not found."))
    return target


def access_partner_app(user: User, app_pk: Any) -> tuple[PartnerMember, App]:
    """An app of one of the caller's partners, with the caller's partner membership."""
    app = (
        App.objects.select_related("partner", "published_version", "oauth_application")
        .filter(pk=as_id(app_pk))
        .first()
    )
    if app is None or not user.is_authenticated:
        raise NotFound(_("App not found."))
    pm = (
        PartnerMember.objects.select_related("partner", "user")
        .filter(partner_id=app.partner_id, user=user)
        .first()
    )
    if pm is None:
        raise NotFound(_("App not found."))
    return pm, app


def access_version(user: User, version_id: Any) -> tuple[PartnerMember | None, AppVersion]:
    """A version for its partner's members (``pm`` set) or, once it entered review, for
    platform operators (``pm`` None when the operator is not a member). Drafts stay private."""
    version = (
        AppVersion.objects.select_related("app", "app__partner", "app__published_version")
        .filter(pk=as_id(version_id))
        .first()
    )
    if version is None or not user.is_authenticated:
        raise NotFound(_("Version not found."))
    pm = (
        PartnerMember.objects.select_related("partner", "user")
        .filter(partner_id=version.app.partner_id, user=user)
        .first()
    )
    if pm is None and not (user.is_staff and version.status in REVIEWED):
        raise NotFound(_("Version not found."))
    return pm, version


def require_partner_member(pm: PartnerMember | None) -> PartnerMember:
    """Partner-only actions on a version an operator can see: 404 for non-members."""
    if pm is None:
        raise NotFound(_("Version not found."))
    return pm


def access_catalogue_app(app_id: Any) -> App:
    """A published app in the catalogue, by reverse-DNS id (listed or not: a direct link
    to an unlisted app still works)."""
    if not isinstance(app_id, str) or len(app_id) > 120:
        raise NotFound(_("App not found."))
    app = (
        App.objects.select_related("partner", "published_version")
        .filter(
            app_id=app_id,
            published_version__isnull=False,
            partner__status=Partner.Status.ACTIVE,
        )
        .first()
    )
    if app is None:
        raise NotFound(_("App not found."))
    return app


def access_installation(member: Membership, installation_id: Any) -> Installation:
    installation = (
        Installation.objects.select_related(
            "app", "app__partner", "app__published_version", "version", "installed_by__user"
        )
        .filter(org_id=member.org_id, pk=as_id(installation_id))
        .first()
    )
    if installation is None:
        raise NotFound(_("Installation not found."))
    return installation
