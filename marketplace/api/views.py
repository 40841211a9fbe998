"""Marketplace API views: parse, access, act, serialise.

Platform-level routes (``/api/v1/marketplace/...``): the manifest schema, partners and
their members, partner apps and versions, the operators' review queue, the catalogue.
Organisation routes (``/api/v1/orgs/<org_id>/marketplace/installations/``): installs
with consent, consent to new scopes, uninstall.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.base import OrgScopedViewSet
from core.errors import NotFound, ValidationFailed
from core.models import User
from marketplace import actions, selectors
from marketplace.access import (
    access_catalogue_app,
    access_installation,
    access_partner,
    access_partner_app,
    access_partner_member,
    access_version,
    require_partner_member,
)
from marketplace.api import serializers as s
from marketplace.manifest import CATEGORIES, MANIFEST_SCHEMA
from marketplace.models import App, AppVersion, Installation, Partner

MAX_LIST = 500


def _parse(serializer_class: Any, request: Request, **kwargs: Any) -> dict[str, Any]:
    data = serializer_class(data=request.data, **kwargs)
    data.is_valid(raise_exception=True)
    validated: dict[str, Any] = data.validated_data
    return validated


def _user(request: Request) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


def _query_id(request: Request, name: str) -> str:
    raw = request.query_params.get(name, "")
    if not raw:
        raise ValidationFailed(
            _("Give ?%(name)s=<id>.") % {"name": name},
            fields={name: [_("This query parameter is required.")]},
        )
    return raw


class ManifestSchemaView(APIView):
    """The app manifest's JSON Schema (Draft 2020-12), also in docs/partners/."""

    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(MANIFEST_SCHEMA)


# --- partners ---------------------------------------------------------------------------


class PartnerViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Partner companies the caller belongs to; any signed-in user may sign one up."""

    queryset = Partner.objects.none()
    serializer_class = s.PartnerSerializer
    pagination_class = None

    def _out(self, partner: Partner, role: str) -> dict[str, Any]:
        return dict(s.PartnerSerializer(partner, context={"roles": {partner.pk: role}}).data)

    def list(self, request: Request) -> Response:
        memberships = list(selectors.partners_for_user(_user(request)))
        roles = {pm.partner_id: pm.role for pm in memberships}
        partners = [pm.partner for pm in memberships]
        return Response(s.PartnerSerializer(partners, many=True, context={"roles": roles}).data)

    @extend_schema(request=s.PartnerWriteSerializer, responses={201: s.PartnerSerializer})
    def create(self, request: Request) -> Response:
        data = _parse(s.PartnerWriteSerializer, request)
        pm = actions.do_create_partner(
            _user(request),
            name=data["name"],
            contact_email=data.get("contact_email", ""),
            contact_name=data.get("contact_name", ""),
            website=data.get("website", ""),
            support_email=data.get("support_email", ""),
        )
        return Response(self._out(pm.partner, pm.role), status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        pm = access_partner(_user(request), pk)
        return Response(self._out(pm.partner, pm.role))

    @extend_schema(request=s.PartnerUpdateSerializer, responses=s.PartnerSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        pm = access_partner(_user(request), pk)
        data = _parse(s.PartnerUpdateSerializer, request, partial=True)
        partner = actions.do_update_partner(pm, **data)
        return Response(self._out(partner, pm.role))

    @extend_schema(request=s.PartnerPayoutSerializer, responses=s.PartnerSerializer)
    @action(detail=True, methods=["put"])
    def payout(self, request: Request, pk: str) -> Response:
        """Set payout bank details (owners, finance); stored encrypted, shown masked."""
        pm = access_partner(_user(request), pk)
        data = _parse(s.PartnerPayoutSerializer, request)
        currency = data.pop("currency", "")
        partner = actions.do_set_payout_details(pm, data, currency=currency)
        return Response(self._out(partner, pm.role))

    @extend_schema(methods=["GET"], request=None, responses=s.PartnerMemberSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=s.PartnerMemberAddSerializer,
        responses={201: s.PartnerMemberSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def members(self, request: Request, pk: str) -> Response:
        """The partner's people; owners add existing accounts by e-mail."""
        pm = access_partner(_user(request), pk)
        if request.method == "GET":
            found = selectors.partner_members(pm.partner)
            return Response(s.PartnerMemberSerializer(found, many=True).data)
        data = _parse(s.PartnerMemberAddSerializer, request)
        added = actions.do_add_partner_member(pm, email=data["email"], role=data["role"])
        return Response(s.PartnerMemberSerializer(added).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.PartnerInstallsSerializer(many=True))
    @action(detail=True, methods=["get"])
    def installs(self, request: Request, pk: str) -> Response:
        """Per app: how many organisations have it installed, and their names."""
        pm = access_partner(_user(request), pk)
        rows = selectors.partner_installs(pm.partner)
        return Response(s.PartnerInstallsSerializer(rows, many=True).data)


class PartnerMemberView(APIView):
    """Change a partner member's role, or remove them (owners; anyone may leave)."""

    @extend_schema(request=s.PartnerMemberRoleSerializer, responses=s.PartnerMemberSerializer)
    def patch(self, request: Request, partner_id: str, member_id: str) -> Response:
        pm = access_partner(_user(request), partner_id)
        target = access_partner_member(pm, member_id)
        data = _parse(s.PartnerMemberRoleSerializer, request)
        changed = actions.do_change_partner_member_role(pm, target, data["role"])
        return Response(s.PartnerMemberSerializer(changed).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, partner_id: str, member_id: str) -> Response:
        pm = access_partner(_user(request), partner_id)
        actions.do_remove_partner_member(pm, access_partner_member(pm, member_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- apps and versions ------------------------------------------------------------------


class PartnerAppViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """A partner's apps (``?partner=<id>``); creating one issues its OAuth client."""

    queryset = App.objects.none()
    serializer_class = s.PartnerAppSerializer
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("partner", OpenApiTypes.INT, required=True)],
        responses=s.PartnerAppSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        pm = access_partner(_user(request), _query_id(request, "partner"))
        return Response(s.PartnerAppSerializer(selectors.partner_apps(pm.partner), many=True).data)

    @extend_schema(request=s.AppCreateSerializer, responses={201: s.AppCreatedSerializer})
    def create(self, request: Request) -> Response:
        """The response carries the OAuth client secret and the webhook signing secret: they
        are shown only this once."""
        data = _parse(s.AppCreateSerializer, request)
        pm = access_partner(_user(request), data["partner"])
        app, _client_id, secret, webhook_secret = actions.do_create_app(
            pm, app_id=data["app_id"], name=data["name"], redirect_uris=data["redirect_uris"]
        )
        context = {"client_secret": secret, "webhook_secret": webhook_secret}
        body = s.AppCreatedSerializer(app, context=context).data
        return Response(body, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        _pm, app = access_partner_app(_user(request), pk)
        return Response(s.PartnerAppSerializer(app).data)

    @extend_schema(request=s.AppUpdateSerializer, responses=s.PartnerAppSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        pm, app = access_partner_app(_user(request), pk)
        data = _parse(s.AppUpdateSerializer, request)
        app = actions.do_update_app(pm, app, is_listed=data["is_listed"])
        return Response(s.PartnerAppSerializer(app).data)

    @extend_schema(request=None, responses=s.AppClientSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """A new OAuth client secret, shown once; the old one stops working at once."""
        pm, app = access_partner_app(_user(request), pk)
        secret = actions.do_rotate_client_secret(pm, app)
        client_id = app.oauth_application.client_id if app.oauth_application else ""
        return Response({"client_id": client_id, "client_secret": secret})


class VersionViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Versions of a partner's app (``?app=<id>``) and their review workflow."""

    queryset = AppVersion.objects.none()
    serializer_class = s.AppVersionSerializer
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("app", OpenApiTypes.INT, required=True)],
        responses=s.AppVersionSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        _pm, app = access_partner_app(_user(request), _query_id(request, "app"))
        return Response(s.AppVersionSerializer(selectors.app_versions(app), many=True).data)

    @extend_schema(request=s.AppVersionCreateSerializer, responses={201: s.AppVersionSerializer})
    def create(self, request: Request) -> Response:
        """A draft version from a manifest; every problem comes back keyed by JSON path."""
        data = _parse(s.AppVersionCreateSerializer, request)
        pm, app = access_partner_app(_user(request), data["app"])
        version = actions.do_create_version(pm, app, data["manifest"])
        return Response(s.AppVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        _pm, version = access_version(_user(request), pk)
        return Response(s.AppVersionSerializer(version).data)

    @extend_schema(request=s.AppVersionUpdateSerializer, responses=s.AppVersionSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        pm, version = access_version(_user(request), pk)
        data = _parse(s.AppVersionUpdateSerializer, request)
        version = actions.do_update_version(require_partner_member(pm), version, data["manifest"])
        return Response(s.AppVersionSerializer(version).data)

    def _partner_step(self, request: Request, pk: str, step: Any) -> Response:
        pm, version = access_version(_user(request), pk)
        version = step(require_partner_member(pm), version)
        return Response(s.AppVersionSerializer(version).data)

    @extend_schema(request=None, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        """Send a draft (or a rejected version) for review."""
        return self._partner_step(request, pk, actions.do_submit_version)

    @extend_schema(request=None, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        """Take a submitted version back to draft."""
        return self._partner_step(request, pk, actions.do_withdraw_version)

    @extend_schema(request=None, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str) -> Response:
        """Publish an approved version; the previous published version retires."""
        return self._partner_step(request, pk, actions.do_publish_version)

    @extend_schema(request=s.VersionReviewSerializer, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """Operators only."""
        actions.check_operator(_user(request))
        _pm, version = access_version(_user(request), pk)
        data = _parse(s.VersionReviewSerializer, request)
        version = actions.do_approve_version(_user(request), version, note=data["reason"])
        return Response(s.AppVersionSerializer(version).data)

    @extend_schema(request=s.VersionReviewSerializer, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        """Operators only; the reason is required and shown to the partner."""
        actions.check_operator(_user(request))
        _pm, version = access_version(_user(request), pk)
        data = _parse(s.VersionReviewSerializer, request)
        version = actions.do_reject_version(_user(request), version, reason=data["reason"])
        return Response(s.AppVersionSerializer(version).data)


class ReviewQueueViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Operators: versions waiting for review, oldest first (``?status=`` for others)."""

    queryset = AppVersion.objects.none()
    serializer_class = s.AppVersionSerializer
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=["submitted", "approved", "rejected", "published"],
            )
        ],
        responses=s.AppVersionSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        actions.check_operator(_user(request))
        wanted = request.query_params.get("status") or AppVersion.Status.SUBMITTED
        if wanted not in ("submitted", "approved", "rejected", "published"):
            raise ValidationFailed(_("Unknown status."), fields={"status": [_("Unknown status.")]})
        queue = selectors.review_queue(status=wanted)[:MAX_LIST]
        return Response(s.AppVersionSerializer(queue, many=True).data)


# --- catalogue --------------------------------------------------------------------------


class CatalogueViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Published apps: search (``?q=``) and filter (``?category=``); one app by its id."""

    queryset = App.objects.none()
    serializer_class = s.CatalogueAppSerializer
    pagination_class = None
    lookup_field = "app_id"
    lookup_value_regex = r"[a-z0-9][a-z0-9.-]{0,119}"

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR),
            OpenApiParameter("category", OpenApiTypes.STR, enum=list(CATEGORIES)),
        ],
        responses=s.CatalogueAppSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        category = request.query_params.get("category", "")
        if category and category not in CATEGORIES:
            raise ValidationFailed(
                _("Unknown category."), fields={"category": [_("Not one of the categories.")]}
            )
        q = request.query_params.get("q", "")[:200]
        found = selectors.catalogue(q=q, category=category)[:MAX_LIST]
        return Response(s.CatalogueAppSerializer(found, many=True).data)

    @extend_schema(responses=s.CatalogueAppDetailSerializer)
    def retrieve(self, request: Request, app_id: str) -> Response:
        return Response(s.CatalogueAppDetailSerializer(access_catalogue_app(app_id)).data)

    @extend_schema(responses=s.CatalogueCategorySerializer(many=True))
    @action(detail=False, methods=["get"])
    def categories(self, request: Request) -> Response:
        """Every category with how many listed apps it has."""
        counts: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
        for categories in selectors.catalogue().values_list("categories", flat=True):
            for code in categories or []:
                if code in counts:
                    counts[code] += 1
        rows = [{"code": c, "name": str(CATEGORIES[c]), "count": n} for c, n in counts.items()]
        return Response(s.CatalogueCategorySerializer(rows, many=True).data)


# --- installations (organisation) -------------------------------------------------------


class InstallationViewSet(OrgScopedViewSet):
    """Apps installed in the organisation. Listing is for every member; installing,
    consenting and uninstalling need ``marketplace.app.install`` (admins)."""

    queryset = Installation.objects.all()
    serializer_class = s.AppInstallationSerializer
    pagination_class = None
    required_permissions = {
        "create": actions.INSTALL,
        "consent": actions.INSTALL,
        "uninstall": actions.INSTALL,
    }

    @extend_schema(
        parameters=[OpenApiParameter("include_uninstalled", OpenApiTypes.BOOL)],
        responses=s.AppInstallationSerializer(many=True),
    )
    def list(self, request: Request, org_id: int) -> Response:
        everything = request.query_params.get("include_uninstalled") in ("1", "true")
        found = selectors.org_installations(self.org.pk, include_uninstalled=everything)
        return Response(s.AppInstallationSerializer(found[:MAX_LIST], many=True).data)

    @extend_schema(
        request=s.AppInstallSerializer,
        responses={201: s.AppInstallationSerializer, 200: s.AppInstallationSerializer},
    )
    def create(self, request: Request, org_id: int) -> Response:
        """Install with consent: ``scopes`` must be exactly what the app asks for. Repeating
        the same install returns the existing installation (200)."""
        data = _parse(s.AppInstallSerializer, request)
        try:
            app = access_catalogue_app(data["app"])
        except NotFound:
            raise ValidationFailed(
                _("No published app has this id."), fields={"app": [_("Unknown app.")]}
            ) from None
        installation, created = actions.do_install_app(
            self.membership, app, scopes=data["scopes"], plan=data.get("plan"), ip=self.ip
        )
        installation = access_installation(self.membership, installation.pk)
        return Response(
            s.AppInstallationSerializer(installation).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(s.AppInstallationSerializer(access_installation(self.membership, pk)).data)

    @extend_schema(request=s.InstallConsentSerializer, responses=s.AppInstallationSerializer)
    @action(detail=True, methods=["post"])
    def consent(self, request: Request, org_id: int, pk: str) -> Response:
        """Consent to the scopes of the app's newer version (exactly those) and move to it."""
        installation = access_installation(self.membership, pk)
        data = _parse(s.InstallConsentSerializer, request)
        actions.do_consent_scopes(self.membership, installation, scopes=data["scopes"], ip=self.ip)
        fresh = access_installation(self.membership, pk)
        return Response(s.AppInstallationSerializer(fresh).data)

    @extend_schema(request=None, responses=s.AppInstallationSerializer)
    @action(detail=True, methods=["post"])
    def uninstall(self, request: Request, org_id: int, pk: str) -> Response:
        """Uninstall: every token is revoked and webhooks stop."""
        installation = access_installation(self.membership, pk)
        actions.do_uninstall_app(self.membership, installation, ip=self.ip)
        fresh = access_installation(self.membership, pk)
        return Response(s.AppInstallationSerializer(fresh).data)
