"""Webhook delivery log and signing secret, for partners (and the receiving org's admins).

Partner routes, under ``/api/v1/marketplace/apps/<app_pk>/`` (the caller must be a member
of the app's partner; anyone else gets 404 as for a missing app):

* ``deliveries/`` newest first, ``?status=``, ``?event_type=``, ``?org=`` filters;
* ``deliveries/<id>/`` with every attempt;
* ``deliveries/<id>/replay/`` sends a delivered, failed or cancelled delivery again;
* ``webhook-secret/rotate/`` a new signing secret, shown once (owners and developers); the
  old one keeps signing alongside for a grace period unless ``expire_previous_now``.

Org route: ``/api/v1/orgs/<org_id>/marketplace/deliveries/`` lists what the organisation's
installed apps were sent (``?installation=``), for its admins.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.access import as_id
from core.api.base import OrgScopedViewSet
from core.api.pagination import NewestFirstCursorPagination
from core.errors import NotFound, ValidationFailed
from core.models import User
from marketplace.access import access_partner_app
from marketplace.actions import check_partner_role
from marketplace.models import App, PartnerMember, WebhookAttempt, WebhookDelivery
from marketplace.webhooks import do_replay_delivery, do_rotate_webhook_secret

logger = logging.getLogger("tack.marketplace.webhooks")


class WebhookAttemptSerializer(serializers.ModelSerializer[WebhookAttempt]):
    class Meta:
        model = WebhookAttempt
        fields = (
            "number",
            "attempted_at",
            "url",
            "status_code",
            "duration_ms",
            "succeeded",
            "error",
            "response_body",
        )
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    webhook_id = serializers.CharField(source="message_id", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields: tuple[str, ...] = (
            "id",
            "webhook_id",
            "event_type",
            "org",
            "installation",
            "status",
            "attempts",
            "replays",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "failed_at",
            "created_at",
        )
        read_only_fields: tuple[str, ...] = fields


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta(WebhookDeliverySerializer.Meta):
        fields = (*WebhookDeliverySerializer.Meta.fields, "payload", "attempt_log")
        read_only_fields = fields


class WebhookSecretSerializer(serializers.Serializer[Any]):
    secret = serializers.CharField(help_text="whsec_… — shown only this once.")


class WebhookSecretRotateSerializer(serializers.Serializer[Any]):
    expire_previous_now = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Stop signing with the old secret at once (it leaked) instead of after "
        "the grace period (24 hours by default).",
    )


_FILTERS = [
    OpenApiParameter("status", OpenApiTypes.STR, enum=list(WebhookDelivery.Status.values)),
    OpenApiParameter("event_type", OpenApiTypes.STR),
    OpenApiParameter("org", OpenApiTypes.INT),
]


def _user(request: Request) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


def _filtered(deliveries: QuerySet[WebhookDelivery], request: Request) -> QuerySet[WebhookDelivery]:
    params = request.query_params
    wanted = params.get("status")
    if wanted:
        if wanted not in WebhookDelivery.Status.values:
            raise ValidationFailed(
                _("Unknown delivery status."), fields={"status": [_("Unknown status.")]}
            )
        deliveries = deliveries.filter(status=wanted)
    if params.get("event_type"):
        deliveries = deliveries.filter(event_type=params["event_type"][:60])
    for name, lookup in (("org", "org_id"), ("installation", "installation_id")):
        if params.get(name):
            try:
                number = int(params[name])
                if not 0 < number < 2**63:  # outside the id column's range
                    raise ValueError(number)
                deliveries = deliveries.filter(**{lookup: number})
            except ValueError:
                raise ValidationFailed(
                    _("Expected a number."), fields={name: [_("Expected a number.")]}
                ) from None
    return deliveries


class PartnerDeliveryViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """An app's webhook deliveries, for the members of its partner."""

    queryset = WebhookDelivery.objects.none()
    serializer_class = WebhookDeliverySerializer
    pagination_class = NewestFirstCursorPagination

    def _app(self, app_pk: Any) -> tuple[PartnerMember, App]:
        return access_partner_app(_user(self.request), app_pk)

    def _delivery(self, app: App, pk: Any) -> WebhookDelivery:
        delivery = (
            WebhookDelivery.objects.filter(app=app, pk=as_id(pk))
            .prefetch_related("attempt_log")
            .first()
        )
        if delivery is None:
            raise NotFound(_("Delivery not found."))
        return delivery

    @extend_schema(parameters=_FILTERS, responses=WebhookDeliverySerializer(many=True))
    def list(self, request: Request, app_pk: str) -> Response:
        _pm, app = self._app(app_pk)
        deliveries = _filtered(WebhookDelivery.objects.filter(app=app), request)
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(responses=WebhookDeliveryDetailSerializer)
    def retrieve(self, request: Request, app_pk: str, pk: str) -> Response:
        _pm, app = self._app(app_pk)
        return Response(WebhookDeliveryDetailSerializer(self._delivery(app, pk)).data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, app_pk: str, pk: str) -> Response:
        """Send the delivery again (a new round of retries); its history is kept."""
        pm, app = self._app(app_pk)
        check_partner_role(pm, PartnerMember.Role.DEVELOPER)
        delivery = do_replay_delivery(self._delivery(app, pk))
        delivery.refresh_from_db()
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookSecretViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    queryset = App.objects.none()
    serializer_class = WebhookSecretSerializer

    @extend_schema(request=WebhookSecretRotateSerializer, responses=WebhookSecretSerializer)
    def rotate(self, request: Request, app_pk: str) -> Response:
        """A new webhook signing secret, shown only this once. Requests are signed with the
        old one too (a second signature) until the grace period ends, unless
        ``expire_previous_now``."""
        pm, app = access_partner_app(_user(request), app_pk)
        check_partner_role(pm, PartnerMember.Role.DEVELOPER)
        data = WebhookSecretRotateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        expire = bool(data.validated_data["expire_previous_now"])
        secret = do_rotate_webhook_secret(app, expire_previous_now=expire)
        logger.info("webhook secret of app %s rotated by user %s", app.pk, pm.user_id)
        return Response({"secret": secret})


class OrgDeliveryViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    """What the organisation's installed apps were sent (admins)."""

    queryset = WebhookDelivery.objects.all()
    serializer_class = WebhookDeliverySerializer
    pagination_class = NewestFirstCursorPagination
    required_permissions: ClassVar[dict[str, str]] = {"*": "marketplace.app.install"}

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return _filtered(queryset, self.request)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=list(WebhookDelivery.Status.values)),
            OpenApiParameter("event_type", OpenApiTypes.STR),
            OpenApiParameter("installation", OpenApiTypes.INT),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)


_deliveries = PartnerDeliveryViewSet.as_view({"get": "list"})
_delivery = PartnerDeliveryViewSet.as_view({"get": "retrieve"})
_replay = PartnerDeliveryViewSet.as_view({"post": "replay"})
_rotate = WebhookSecretViewSet.as_view({"post": "rotate"})

#: Included from ``marketplace.api.urls`` at the root of /api/v1/.
urlpatterns = [
    path(
        "marketplace/apps/<int:app_pk>/deliveries/",
        _deliveries,
        name="marketplace-delivery-list",
    ),
    path(
        "marketplace/apps/<int:app_pk>/deliveries/<int:pk>/",
        _delivery,
        name="marketplace-delivery-detail",
    ),
    path(
        "marketplace/apps/<int:app_pk>/deliveries/<int:pk>/replay/",
        _replay,
        name="marketplace-delivery-replay",
    ),
    path(
        "marketplace/apps/<int:app_pk>/webhook-secret/rotate/",
        _rotate,
        name="marketplace-webhook-secret-rotate",
    ),
    path(
        "orgs/<int:org_id>/marketplace/deliveries/",
        OrgDeliveryViewSet.as_view({"get": "list"}),
        name="marketplace-org-delivery-list",
    ),
]
