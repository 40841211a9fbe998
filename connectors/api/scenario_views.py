"""Scenario API views: definitions and tokens (admins), the run endpoint, the OpenAPI."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors import scenarios
from connectors.access import access_scenario_token
from connectors.models import Scenario, ScenarioRun, ScenarioToken
from core.access import access_organization, as_id
from core.api.base import OrgScopedViewSet
from core.auth import ApiTokenAuthentication
from core.errors import NotFound
from core.permissions import check_permission
from core.security.enforcement import enforce_api


class ScenarioSerializer(serializers.ModelSerializer[Scenario]):
    input_schema = serializers.JSONField(read_only=True)
    steps = serializers.JSONField(read_only=True)
    output = serializers.JSONField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Scenario
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "input_schema",
            "steps",
            "output",
            "timeout_seconds",
            "enabled",
            "created_at",
            "updated_at",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, scenario: Scenario) -> str:
        return f"/api/v1/orgs/{scenario.org_id}/connectors/scenarios/{scenario.slug}/run/"


class ScenarioWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=60, required=False, allow_blank=True)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    input_schema = serializers.JSONField(required=False)
    steps = serializers.JSONField()
    output = serializers.JSONField(required=False)
    timeout_seconds = serializers.IntegerField(required=False, min_value=1, max_value=60)
    enabled = serializers.BooleanField(required=False)


class ScenarioTokenSerializer(serializers.ModelSerializer[ScenarioToken]):
    class Meta:
        model = ScenarioToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]
        read_only_fields = fields


class ScenarioRunSerializer(serializers.ModelSerializer[ScenarioRun]):
    steps = serializers.JSONField(read_only=True)

    class Meta:
        model = ScenarioRun
        fields = ["id", "ok", "steps", "error", "duration_ms", "at", "member", "token"]
        read_only_fields = fields


class ScenarioViewSet(OrgScopedViewSet):
    """Scenario definitions: chain connector actions behind one endpoint of your own."""

    queryset = Scenario.objects.all()
    serializer_class = ScenarioSerializer
    pagination_class = None
    required_permissions = {"*": "connectors.connection.manage"}

    def _scenario(self, pk: Any) -> Scenario:
        found = Scenario.objects.filter(org_id=self.org.pk, pk=as_id(pk)).first()
        if found is None:
            raise NotFound(_("Scenario not found."))
        return found

    def list(self, request: Request, org_id: int) -> Response:
        return Response(ScenarioSerializer(self.get_queryset(), many=True).data)

    @extend_schema(request=ScenarioWriteSerializer, responses={201: ScenarioSerializer})
    def create(self, request: Request, org_id: int) -> Response:
        data = ScenarioWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scenario = scenarios.do_save_scenario(self.membership, dict(data.validated_data))
        return Response(ScenarioSerializer(scenario).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(ScenarioSerializer(self._scenario(pk)).data)

    @extend_schema(request=ScenarioWriteSerializer, responses=ScenarioSerializer)
    def update(self, request: Request, org_id: int, pk: str) -> Response:
        scenario = self._scenario(pk)
        data = ScenarioWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scenario = scenarios.do_save_scenario(
            self.membership, dict(data.validated_data), scenario=scenario
        )
        return Response(ScenarioSerializer(scenario).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        self._scenario(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], request=None, responses=ScenarioTokenSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=inline_serializer(
            "ScenarioTokenCreate",
            {
                "name": serializers.CharField(max_length=80),
                "days": serializers.IntegerField(required=False),
            },
        ),
        responses={
            201: inline_serializer(
                "ScenarioTokenIssued",
                {"token": ScenarioTokenSerializer(), "secret": serializers.CharField()},
            )
        },
    )
    @action(detail=True, methods=["get", "post"])
    def tokens(self, request: Request, org_id: int, pk: str) -> Response:
        """Tokens that can run this scenario and nothing else (the secret is shown once)."""
        scenario = self._scenario(pk)
        if request.method == "GET":
            return Response(ScenarioTokenSerializer(scenario.tokens.all(), many=True).data)
        body = request.data if isinstance(request.data, dict) else {}
        days = body.get("days", 365)
        if not isinstance(days, int) or isinstance(days, bool):
            days = 0
        token, raw = scenarios.do_create_scenario_token(
            self.membership, scenario, name=str(body.get("name", ""))[:80], days=days
        )
        return Response(
            {"token": ScenarioTokenSerializer(token).data, "secret": raw},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses=ScenarioRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def runs(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(ScenarioRunSerializer(self._scenario(pk).runs.all()[:100], many=True).data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["get"])
    def openapi(self, request: Request, org_id: int) -> Response:
        """The organisation's scenarios as an OpenAPI 3.1 document."""
        return Response(scenarios.openapi_for(self.org.pk, request.build_absolute_uri("/")[:-1]))


class ScenarioTokenViewSet(OrgScopedViewSet):
    """A scenario token by id: revoke it (it stops working at once and stays listed)."""

    queryset = ScenarioToken.objects.all()
    serializer_class = ScenarioTokenSerializer
    pagination_class = None
    required_permissions = {"*": "connectors.connection.manage"}

    @extend_schema(request=None, responses=ScenarioTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, org_id: int, pk: str) -> Response:
        token = scenarios.do_revoke_scenario_token(
            self.membership, access_scenario_token(self.membership, pk), ip=self.ip
        )
        return Response(ScenarioTokenSerializer(token).data)


class ScenarioTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer tsc_…``: a token bound to one scenario of one organisation."""

    def authenticate(self, request: Request) -> tuple[Any, ScenarioToken] | None:
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != b"bearer":
            return None
        raw = header[1].decode(errors="replace")
        if not raw.startswith(scenarios.TOKEN_PREFIX):
            return None
        kwargs = request.parser_context.get("kwargs", {}) if request.parser_context else {}
        try:
            org_id = as_id(kwargs.get("org_id"))
        except NotFound:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = scenarios.token_for(raw, org_id, str(kwargs.get("slug", "")))
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        from django.contrib.auth.models import AnonymousUser

        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ScenarioRunView(APIView):
    """Run a scenario: its input in, every step's result and the output back."""

    authentication_classes = [ScenarioTokenAuthentication, ApiTokenAuthentication]
    permission_classes: list[Any] = []

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses=inline_serializer(
            "ScenarioResult",
            {"output": serializers.JSONField(allow_null=True), "steps": serializers.JSONField()},
        ),
    )
    def post(self, request: Request, org_id: int, slug: str) -> Response:
        token = request.auth if isinstance(request.auth, ScenarioToken) else None
        member = None
        if token is None:
            if not request.user.is_authenticated:
                raise exceptions.NotAuthenticated()
            member = access_organization(request.user, org_id)
            # The organisation's security policy (IP allowlist, two-step, session lifetime)
            # applies to a person's call here as on every other org route.
            enforce_api(request, org_id)
            check_permission(member, "connectors.connection.manage")
        scenario = (
            token.scenario
            if token is not None
            else Scenario.objects.filter(org_id=as_id(org_id), slug=slug).first()
        )
        if scenario is None:
            raise NotFound(_("Scenario not found."))
        result = scenarios.run_scenario(scenario, request.data, member=member, token=token)
        return Response(result)


class ScenarioTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "connectors.api.scenario_views.ScenarioTokenAuthentication"
    name = "scenarioToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A scenario token (`tsc_…`): runs one scenario, nothing else.",
        }
