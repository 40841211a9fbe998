"""API: the organisation's security policy and branding, and my two-step verification."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import actions as core_actions
from core.api.base import OrgScopedViewSet, client_ip
from core.models import Membership, Organization, User
from core.security import actions
from core.security.enforcement import mark_two_factor_passed
from core.security.models import EXPORT_KINDS, SecurityPolicy, TwoFactorDevice
from core.security.policies import get_or_create_policy


def _roles() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=Membership.Role.choices), required=False
    )


class ExportRolesSerializer(serializers.Serializer[Any]):
    members = _roles()
    records = _roles()
    metrics = _roles()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(EXPORT_KINDS))
            if unknown:
                raise serializers.ValidationError(
                    _("Unknown export kinds: %(k)s") % {"k": ", ".join(map(str, unknown))[:200]}
                )
        return super().to_internal_value(data)


class SecurityPolicySerializer(serializers.ModelSerializer[SecurityPolicy]):
    ip_allowlist = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=100, required=False
    )
    export_roles = ExportRolesSerializer(required=False)
    password_min_length = serializers.IntegerField(
        min_value=actions.MIN_PASSWORD_LENGTH, max_value=actions.MAX_PASSWORD_LENGTH, required=False
    )
    session_lifetime_minutes = serializers.IntegerField(
        min_value=0,
        max_value=actions.MAX_SESSION_MINUTES,
        required=False,
        help_text="0: no limit beyond the two-week sign-in; otherwise 5 to 43,200 minutes.",
    )

    class Meta:
        model = SecurityPolicy
        fields = [
            "password_min_length",
            "password_require_mixed_case",
            "password_require_digit",
            "password_require_symbol",
            "password_disallow_email",
            "session_lifetime_minutes",
            "ip_allowlist",
            "require_two_factor_for_admins",
            "export_roles",
            "external_sharing",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
        extra_kwargs = {f: {"required": False} for f in fields}


class SecurityPolicyView(OrgScopedViewSet):
    """The organisation's security policy (admins): read and change, every change audited.

    An IP allowlist that does not contain the caller's own address is refused (400,
    ``ip_allowlist_locks_you_out``), so no admin locks themselves out by mistake."""

    queryset = SecurityPolicy.objects.all()
    serializer_class = SecurityPolicySerializer
    required_permissions = {"*": "core.security.manage"}

    def retrieve(self, request: Request, org_id: int) -> Response:
        return Response(SecurityPolicySerializer(get_or_create_policy(self.org)).data)

    @extend_schema(request=SecurityPolicySerializer, responses=SecurityPolicySerializer)
    def partial_update(self, request: Request, org_id: int) -> Response:
        data = SecurityPolicySerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "export_roles" in changes:
            changes["export_roles"] = dict(changes["export_roles"])
        policy = actions.do_update_security_policy(self.membership, changes, ip=self.ip)
        return Response(SecurityPolicySerializer(policy).data)


class BrandingSerializer(serializers.ModelSerializer[Organization]):
    brand_color = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}$",
        max_length=7,
        required=False,
        error_messages={"invalid": "Use a colour like #1f6feb."},
    )

    class Meta:
        model = Organization
        fields = ["brand_name", "brand_color", "brand_logo"]
        extra_kwargs = {
            "brand_name": {"required": False},
            "brand_logo": {"required": False, "allow_null": True},
        }


class BrandingView(OrgScopedViewSet):
    """The organisation's product name, colour and logo: read (members), change
    (``core.org.branding``). A logo is PNG, JPEG, GIF or WebP, at most 512 KiB; send
    ``brand_logo: null`` to remove it."""

    queryset = Organization.objects.all()
    org_field = "pk"
    serializer_class = BrandingSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def retrieve(self, request: Request, org_id: int) -> Response:
        return Response(BrandingSerializer(self.org).data)

    @extend_schema(request=BrandingSerializer, responses=BrandingSerializer)
    def partial_update(self, request: Request, org_id: int) -> Response:
        data = BrandingSerializer(self.org, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "brand_logo" in changes and changes["brand_logo"] is None:
            changes["brand_logo"] = ""
        org = core_actions.do_update_organization(self.membership, changes, ip=self.ip)
        return Response(BrandingSerializer(org).data)


# --- My two-step verification ----------------------------------------------------------------


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class TwoFactorStatusSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField()
    pending = serializers.BooleanField(help_text="Set up started, not yet confirmed.")
    confirmed_at = serializers.DateTimeField(allow_null=True)
    recovery_codes_left = serializers.IntegerField()


class TwoFactorEnrolmentSerializer(serializers.Serializer[Any]):
    secret = serializers.CharField(help_text="Shown once. Stored encrypted; never shown again.")
    otpauth_uri = serializers.CharField()
    qr_code = serializers.CharField(help_text="The URI as an SVG QR code (data URL).")


class TwoFactorCodeSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=20)


class RecoveryCodesSerializer(serializers.Serializer[Any]):
    recovery_codes = serializers.ListField(child=serializers.CharField())


def _status(user: User) -> dict[str, Any]:
    device = TwoFactorDevice.objects.filter(user=user).first()
    return {
        "enabled": bool(device and device.is_confirmed),
        "pending": bool(device and not device.is_confirmed),
        "confirmed_at": device.confirmed_at if device else None,
        "recovery_codes_left": actions.recovery_codes_left(user) if device else 0,
    }


class TwoFactorView(APIView):
    @extend_schema(responses=TwoFactorStatusSerializer)
    def get(self, request: Request) -> Response:
        return Response(TwoFactorStatusSerializer(_status(_user(request))).data)


class TwoFactorEnrolView(APIView):
    """Start setting up: a new seed, shown in this response only."""

    @extend_schema(request=None, responses={201: TwoFactorEnrolmentSerializer})
    def post(self, request: Request) -> Response:
        enrolment = actions.do_start_two_factor(_user(request))
        body = {
            "secret": enrolment.secret,
            "otpauth_uri": enrolment.uri,
            "qr_code": enrolment.qr_data_url,
        }
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "private, no-store"
        return response


class TwoFactorConfirmView(APIView):
    """Turn it on with a current code; answers the ten single-use recovery codes once."""

    @extend_schema(request=TwoFactorCodeSerializer, responses=RecoveryCodesSerializer)
    def post(self, request: Request) -> Response:
        data = TwoFactorCodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = actions.do_confirm_two_factor(
            _user(request), data.validated_data["code"], ip=client_ip(request)
        )
        if request.auth is None:
            mark_two_factor_passed(request._request)
        response = Response({"recovery_codes": codes})
        response["Cache-Control"] = "private, no-store"
        return response


class TwoFactorDisableView(APIView):
    """Turn it off; needs a current code or a recovery code."""

    @extend_schema(request=TwoFactorCodeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = TwoFactorCodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actions.do_disable_two_factor(
            _user(request), data.validated_data["code"], ip=client_ip(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
