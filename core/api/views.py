"""Core API views: parse, access, act, serialise."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.db.models import QuerySet
from django.middleware.csrf import get_token
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core import actions, selectors
from core.access import access_member
from core.api import serializers as s
from core.api.base import OrgScopedViewSet, client_ip
from core.api.pagination import NewestFirstCursorPagination
from core.errors import NotFound
from core.models import (
    ApiToken,
    AuditLogEntry,
    Department,
    Invitation,
    Membership,
    Organization,
    User,
)
from core.permissions import OPERATIONS, role_permissions
from core.security.actions import has_two_factor
from core.security.enforcement import (
    PASSWORD_CHANGE,
    check_sign_in_policies,
    enforce_session_for_user,
    mark_signed_in,
)


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


# --- Organisations ---


class OrganizationListView(mixins.ListModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The organisations I belong to (by name; a person belongs to a handful), and creating one."""

    serializer_class = s.OrganizationSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Organization]:
        if getattr(self, "swagger_fake_view", False):
            return Organization.objects.none()
        return selectors.organizations_for_user(_user(self.request))

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False) and self.request.user.is_authenticated:
            context["roles"] = dict(
                Membership.objects.filter(user=self.request.user).values_list("org_id", "role")
            )
        return context

    @extend_schema(
        request=s.OrganizationCreateSerializer, responses={201: s.OrganizationSerializer}
    )
    def create(self, request: Request) -> Response:
        data = s.OrganizationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = actions.do_create_organization(
            _user(request), ip=client_ip(request), **data.validated_data
        )
        body = s.OrganizationSerializer(
            org, context={"roles": {org.pk: Membership.Role.OWNER}}
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


class OrganizationView(OrgScopedViewSet):
    """One organisation: read (any member), update settings and branding (admins)."""

    queryset = Organization.objects.all()
    org_field = "pk"
    serializer_class = s.OrganizationSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {"retrieve": "core:org.read"}

    def _present(self, org: Organization) -> dict[str, Any]:
        context = {**self.get_serializer_context(), "roles": {org.pk: self.membership.role}}
        return s.OrganizationSerializer(org, context=context).data

    def retrieve(self, request: Request, org_id: int) -> Response:
        return Response(self._present(self.org))

    @extend_schema(request=s.OrganizationUpdateSerializer, responses=s.OrganizationSerializer)
    def partial_update(self, request: Request, org_id: int) -> Response:
        data = s.OrganizationUpdateSerializer(self.org, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        org = actions.do_update_organization(self.membership, data.validated_data, ip=self.ip)
        return Response(self._present(org))


# --- Members ---


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The member directory and member administration."""

    queryset = Membership.objects.all()
    serializer_class = s.MemberSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {"list": "core:member.read", "retrieve": "core:member.read"}
    required_permissions = {"list": "core.member.read", "retrieve": "core.member.read"}

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        filters: dict[str, Any] = {}
        if self.action == "list":
            params = s.MemberFilterSerializer(data=self.request.query_params)
            params.is_valid(raise_exception=True)
            filters = params.validated_data
        return selectors.member_list(self.org, filters=filters, base=queryset)

    @extend_schema(parameters=[s.MemberFilterSerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _respond(self, member: Membership) -> Response:
        fresh = selectors.member_list(self.org).get(pk=member.pk)
        return Response(s.MemberSerializer(fresh).data)

    @extend_schema(request=s.MemberUpdateSerializer, responses=s.MemberSerializer)
    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        data = s.MemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = access_member(self.membership, pk)
        member = actions.do_update_member(
            self.membership, target, ip=self.ip, **data.validated_data
        )
        return self._respond(member)

    @extend_schema(request=s.RoleChangeSerializer, responses=s.MemberSerializer)
    @action(detail=True, methods=["post"])
    def role(self, request: Request, org_id: int, pk: str) -> Response:
        data = s.RoleChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = access_member(self.membership, pk)
        member = actions.do_change_role(
            self.membership, target, data.validated_data["role"], ip=self.ip
        )
        return self._respond(member)

    @extend_schema(request=None, responses=s.MemberSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, org_id: int, pk: str) -> Response:
        target = access_member(self.membership, pk)
        member = actions.do_set_member_status(
            self.membership, target, Membership.Status.SUSPENDED, ip=self.ip
        )
        return self._respond(member)

    @extend_schema(request=None, responses=s.MemberSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, org_id: int, pk: str) -> Response:
        target = access_member(self.membership, pk)
        member = actions.do_set_member_status(
            self.membership, target, Membership.Status.ACTIVE, ip=self.ip
        )
        return self._respond(member)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        target = access_member(self.membership, pk)
        actions.do_remove_member(self.membership, target, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Invitations ---


class InvitationViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    queryset = Invitation.objects.all()
    serializer_class = s.InvitationSerializer
    required_permissions = {"*": "core.member.invite"}

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.select_related("invited_by")

    @extend_schema(
        request=s.InvitationCreateSerializer, responses={201: s.IssuedInvitationSerializer}
    )
    def create(self, request: Request, org_id: int) -> Response:
        data = s.InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = actions.do_invite_member(self.membership, ip=self.ip, **data.validated_data)
        body = s.IssuedInvitationSerializer(issued.invitation).data
        return Response({**body, "accept_url": issued.accept_url}, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        invitation = self.get_object()
        actions.do_revoke_invitation(self.membership, invitation, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationTokenView(viewsets.ViewSet):
    """Public side of an invitation link: preview it and accept it."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(responses=s.InvitationPreviewSerializer)
    def retrieve(self, request: Request, token: str) -> Response:
        invitation = actions.get_pending_invitation(token)
        invitation.account_exists = User.objects.filter(email=invitation.email).exists()  # type: ignore[attr-defined]
        return Response(s.InvitationPreviewSerializer(invitation).data)

    @extend_schema(request=s.InvitationAcceptSerializer, responses={201: s.MemberSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, token: str) -> Response:
        data = s.InvitationAcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user if request.user.is_authenticated else None
        membership = actions.do_accept_invitation(
            token,
            user=user,
            ip=client_ip(request),
            **data.validated_data,
        )
        fresh = selectors.member_list(membership.org).get(pk=membership.pk)
        return Response(s.MemberSerializer(fresh).data, status=status.HTTP_201_CREATED)


# --- Departments ---


class DepartmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Department.objects.all()
    serializer_class = s.DepartmentSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {"list": "core:department.read", "retrieve": "core:department.read"}
    pagination_class = None  # a tree is read whole
    required_permissions = {
        "list": "core.member.read",
        "retrieve": "core.member.read",
        "create": "core.department.manage",
        "partial_update": "core.department.manage",
        "destroy": "core.department.manage",
        "members": "core.member.update",
        "remove_member": "core.member.update",
    }

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return selectors.department_list(self.org, base=queryset)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "org": getattr(self, "org", None)}

    def create(self, request: Request, org_id: int) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        department = actions.do_create_department(
            self.membership, ip=self.ip, **data.validated_data
        )
        return Response(self.get_serializer(department).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        department = self.get_object()
        data = self.get_serializer(department, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        department = actions.do_update_department(
            self.membership, department, ip=self.ip, **data.validated_data
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=department.pk)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        actions.do_delete_department(self.membership, self.get_object(), ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.DepartmentMemberSerializer, responses={201: s.MemberSerializer})
    @action(detail=True, methods=["post"])
    def members(self, request: Request, org_id: int, pk: str) -> Response:
        department = self.get_object()
        data = s.DepartmentMemberSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = access_member(self.membership, data.validated_data["member_id"])
        actions.do_add_department_member(
            self.membership,
            department,
            member,
            is_manager=data.validated_data["is_manager"],
            ip=self.ip,
        )
        fresh = selectors.member_list(self.org).get(pk=member.pk)
        return Response(s.MemberSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<member_id>\d+)")
    def remove_member(self, request: Request, org_id: int, pk: str, member_id: str) -> Response:
        department = self.get_object()
        member = access_member(self.membership, member_id)
        actions.do_remove_department_member(self.membership, department, member, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Roles (permissions as data) ---


class RoleViewSet(OrgScopedViewSet):
    """What each role may do in this organisation."""

    queryset = Organization.objects.all()
    org_field = "pk"
    serializer_class = s.RoleSerializer
    pagination_class = None
    lookup_field = "role"
    required_permissions = {"*": "core.member.read"}

    def list(self, request: Request, org_id: int) -> Response:
        body = [
            {"role": role, "permissions": sorted(role_permissions(self.org.pk, role))}
            for role in Membership.Role.values
        ]
        return Response(s.RoleSerializer(body, many=True).data)

    @extend_schema(
        request=s.RoleGrantsSerializer,
        responses=s.RoleSerializer,
        parameters=[
            OpenApiParameter("role", str, OpenApiParameter.PATH, enum=Membership.Role.values)
        ],
    )
    def partial_update(self, request: Request, org_id: int, role: str) -> Response:
        if role not in Membership.Role.values:
            raise NotFound("Unknown role.")
        data = s.RoleGrantsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actions.do_set_role_grants(self.membership, role, data.validated_data["grants"], ip=self.ip)
        return Response({"role": role, "permissions": sorted(role_permissions(self.org.pk, role))})


class OperationListView(APIView):
    """Every named operation a role can be granted."""

    @extend_schema(
        responses=inline_serializer(
            "Operation",
            {"name": serializers.CharField(), "description": serializers.CharField()},
            many=True,
        )
    )
    def get(self, request: Request) -> Response:
        return Response(
            [{"name": op.name, "description": str(op.description)} for op in OPERATIONS.values()]
        )


# --- Audit log ---


class AuditLogViewSet(mixins.ListModelMixin, OrgScopedViewSet):
    queryset = AuditLogEntry.objects.all()
    serializer_class = s.AuditLogEntrySerializer
    pagination_class = NewestFirstCursorPagination
    required_permissions = {"*": "core.audit.read"}

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.select_related("actor")


# --- Me, tokens, auth ---


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.MeSerializer(_user(request)).data)

    @extend_schema(request=s.MeSerializer, responses=s.MeSerializer)
    def patch(self, request: Request) -> Response:
        data = s.MeSerializer(_user(request), data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        data.save()
        return Response(data.data)


class PasswordChangeView(APIView):
    @extend_schema(request=s.PasswordChangeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = s.PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actions.do_change_password(
            _user(request),
            current=data.validated_data["current_password"],
            new=data.validated_data["new_password"],
        )
        if request.auth is None:  # keep the browser session that just changed it
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request._request, _user(request))
            request._request.session.pop(PASSWORD_CHANGE, None)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """My personal API tokens."""

    serializer_class = s.ApiTokenSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=_user(self.request))

    @extend_schema(request=s.ApiTokenCreateSerializer, responses={201: s.IssuedApiTokenSerializer})
    def create(self, request: Request) -> Response:
        data = s.ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # A token outlives the session: only a session the policies still accept mints one.
        enforce_session_for_user(request)
        issued = actions.do_create_api_token(_user(request), **data.validated_data)
        body = {**s.ApiTokenSerializer(issued.token).data, "token": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        actions.do_revoke_api_token(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _authenticate(request: Request, data: dict[str, Any]) -> User:
    """Password check through django-axes, which counts failures and locks out; then the
    organisations' network allowlists and, for accounts that use it, the two-step code."""
    user = authenticate(request._request, email=data["email"].lower(), password=data["password"])
    if user is None:
        if getattr(request._request, "axes_locked_out", False):
            from rest_framework.exceptions import Throttled

            raise Throttled(detail="Too many failed logins. Try again in 15 minutes.")
        from rest_framework.exceptions import AuthenticationFailed

        raise AuthenticationFailed("Wrong e-mail or password.")
    assert isinstance(user, User)
    check_sign_in_policies(user, client_ip(request), data.get("otp_code"))
    return user


class LoginView(APIView):
    """Start a browser session (for the web UI and API exploration)."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=s.LoginSerializer, responses=s.MeSerializer, auth=[])
    def post(self, request: Request) -> Response:
        data = s.LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _authenticate(request, data.validated_data)
        login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        mark_signed_in(
            request._request,
            # Only a code that was checked (the account has an authenticator) counts.
            two_factor=bool(data.validated_data.get("otp_code")) and has_two_factor(user),
            password=data.validated_data["password"],
        )
        get_token(request._request)
        return Response(s.MeSerializer(user).data)


class LogoutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if request.auth is not None and isinstance(request.auth, ApiToken):
            actions.do_revoke_api_token(request.auth)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenLoginView(APIView):
    """Exchange an e-mail and password for a new personal API token."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=s.TokenLoginSerializer,
        responses={
            201: s.IssuedApiTokenSerializer,
            401: OpenApiResponse(description="Wrong credentials"),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = s.TokenLoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _authenticate(request, data.validated_data)
        issued = actions.do_create_api_token(
            user,
            name=data.validated_data["name"],
            expires_in_days=data.validated_data.get("expires_in_days"),
        )
        body = {**s.ApiTokenSerializer(issued.token).data, "token": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)


__all__ = ["IsAuthenticated"]
