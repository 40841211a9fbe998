"""Serializers parse and present; they hold no business logic."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import IdField
from core.models import (
    ApiToken,
    AuditLogEntry,
    Department,
    Invitation,
    Membership,
    Organization,
    User,
)
from core.permissions import OPERATIONS


class UserBriefSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "email", "display_name", "avatar"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "email", "display_name", "avatar", "locale", "date_joined"]
        read_only_fields = ["id", "email", "avatar", "date_joined"]
        extra_kwargs = {"display_name": {"required": False}, "locale": {"required": False}}


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "slug",
            "edition",
            "member_limit",
            "brand_name",
            "brand_color",
            "brand_logo",
            "created_at",
            "my_role",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Membership.Role.choices, allow_null=True))
    def get_my_role(self, org: Organization) -> str | None:
        roles: dict[int, str] = self.context.get("roles", {})
        return roles.get(org.pk)


class OrganizationCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=60, required=False)


class OrganizationUpdateSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ["name", "brand_name", "brand_color", "brand_logo"]
        extra_kwargs = {f: {"required": False} for f in fields}


class DepartmentRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="department.id")
    name = serializers.CharField(source="department.name")
    is_manager = serializers.BooleanField()


class MemberSerializer(serializers.ModelSerializer[Membership]):
    user = UserBriefSerializer(read_only=True)
    departments = DepartmentRefSerializer(source="department_links", many=True, read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "title", "status", "joined_at", "departments"]
        read_only_fields = fields


class MemberFilterSerializer(serializers.Serializer[Any]):
    department = serializers.IntegerField(required=False, min_value=1)
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    status = serializers.ChoiceField(choices=Membership.Status.choices, required=False)
    q = serializers.CharField(required=False, max_length=100)


class MemberUpdateSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=80, allow_blank=True)


class RoleChangeSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    state = serializers.CharField(read_only=True)
    invited_by = UserBriefSerializer(read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "state", "invited_by", "created_at", "expires_at"]
        read_only_fields = fields


class IssuedInvitationSerializer(InvitationSerializer):
    accept_url = serializers.CharField(read_only=True, help_text="Shown once, to share the link.")

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "accept_url"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class InvitationPreviewSerializer(serializers.Serializer[Any]):
    organization = serializers.CharField(source="org.display_name")
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    invited_by = serializers.CharField(source="invited_by.display_name", allow_null=True)
    expires_at = serializers.DateTimeField()
    account_exists = serializers.BooleanField()


class InvitationAcceptSerializer(serializers.Serializer[Any]):
    display_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=256,
        help_text="Required when no account exists for the invited address.",
    )


class DepartmentSerializer(serializers.ModelSerializer[Department]):
    member_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Department
        fields = ["id", "name", "parent", "member_count", "created_at"]
        read_only_fields = ["id", "member_count", "created_at"]
        # Uniqueness is enforced by the action (409), not by serializer validators.
        validators: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parent = self.fields["parent"]
        org = self.context.get("org")
        # Only this organisation's departments resolve; others are "not found".
        parent.queryset = Department.objects.filter(org=org) if org else Department.objects.none()  # type: ignore[attr-defined]


class DepartmentMemberSerializer(serializers.Serializer[Any]):
    member_id = IdField()
    is_manager = serializers.BooleanField(default=False)


class AuditLogEntrySerializer(serializers.ModelSerializer[AuditLogEntry]):
    actor = UserBriefSerializer(read_only=True)

    class Meta:
        model = AuditLogEntry
        fields = [
            "id",
            "actor",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "data",
            "ip_address",
            "created_at",
        ]
        read_only_fields = fields


class RoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    permissions = serializers.ListField(child=serializers.CharField())


class RoleGrantsSerializer(serializers.Serializer[Any]):
    grants = serializers.DictField(
        child=serializers.BooleanField(),
        help_text=f"Operation name → granted. Operations: {', '.join(OPERATIONS)}.",
    )


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=80)
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=settings.API_TOKEN_MAX_DAYS, required=False
    )


class IssuedApiTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret. Shown only once.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class LoginSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=256, write_only=True)
    otp_code = serializers.CharField(
        max_length=20,
        required=False,
        write_only=True,
        help_text="For accounts with two-step verification: the current 6-digit code "
        "(or a recovery code).",
    )


class TokenLoginSerializer(LoginSerializer):
    name = serializers.CharField(max_length=80, default="API token")
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=settings.API_TOKEN_MAX_DAYS, required=False
    )


class PasswordChangeSerializer(serializers.Serializer[Any]):
    current_password = serializers.CharField(max_length=256, write_only=True)
    new_password = serializers.CharField(max_length=256, write_only=True)
