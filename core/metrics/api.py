"""The metrics API: an organisation's (``metrics.read``) and the platform's (staff)."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any, ClassVar

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.base import OrgScopedViewSet
from core.errors import Forbidden
from core.metrics import rollup, selectors
from core.metrics.models import DagDefinition
from core.models import Organization, User
from core.security.policies import check_export_allowed

# --- documented shapes -----------------------------------------------------------------------


class MetricsStatusSerializer(serializers.Serializer):  # type: ignore[type-arg]
    date = serializers.DateField()
    is_dag = serializers.BooleanField()
    is_deeply_integrated = serializers.BooleanField()
    members = serializers.IntegerField()
    active_members = serializers.IntegerField()
    active_share = serializers.FloatField()
    systems_used = serializers.IntegerField()
    required_share_percent = serializers.IntegerField()
    required_share = serializers.CharField()
    required_systems = serializers.IntegerField()
    min_usage_minutes = serializers.IntegerField()
    definition_version = serializers.IntegerField()
    reason = serializers.CharField(help_text="The status in plain words.")


class MetricsDayPointSerializer(serializers.Serializer):  # type: ignore[type-arg]
    date = serializers.DateField()
    members = serializers.IntegerField(allow_null=True)
    active_members = serializers.IntegerField(allow_null=True)
    active_share = serializers.FloatField(allow_null=True)
    systems_used = serializers.IntegerField(allow_null=True)
    is_dag = serializers.BooleanField(allow_null=True)
    is_deeply_integrated = serializers.BooleanField(allow_null=True)
    definition_version = serializers.IntegerField(allow_null=True)


class MetricsSeriesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    start = serializers.DateField()
    end = serializers.DateField()
    days = MetricsDayPointSerializer(many=True)


class MetricsDepartmentActivitySerializer(serializers.Serializer):  # type: ignore[type-arg]
    department_id = serializers.IntegerField(allow_null=True)
    department = serializers.CharField()
    members = serializers.IntegerField()
    active_members = serializers.IntegerField()


class MetricsDepartmentsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    date = serializers.DateField()
    departments = MetricsDepartmentActivitySerializer(many=True)


class MetricsSystemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()


class MetricsSystemsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    date = serializers.DateField()
    systems = MetricsSystemSerializer(many=True)


class MetricsPlatformPointSerializer(serializers.Serializer):  # type: ignore[type-arg]
    date = serializers.DateField()
    dag_count = serializers.IntegerField()
    deeply_integrated_count = serializers.IntegerField()
    dau = serializers.IntegerField()
    mau = serializers.IntegerField()
    organizations = serializers.IntegerField()
    active_organizations = serializers.IntegerField()
    definition_version = serializers.IntegerField()


class MetricsPlatformSeriesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    start = serializers.DateField()
    end = serializers.DateField()
    days = MetricsPlatformPointSerializer(many=True)


class MetricsBucketSerializer(serializers.Serializer):  # type: ignore[type-arg]
    bucket = serializers.CharField()
    organizations = serializers.IntegerField()
    dag_count = serializers.IntegerField()
    deeply_integrated_count = serializers.IntegerField()
    active_members = serializers.IntegerField()


class MetricsBreakdownSerializer(serializers.Serializer):  # type: ignore[type-arg]
    date = serializers.DateField()
    size = MetricsBucketSerializer(many=True)
    edition = MetricsBucketSerializer(many=True)


class MetricsOrgRowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    org_id = serializers.IntegerField()
    name = serializers.CharField()
    edition = serializers.CharField()
    size_bucket = serializers.CharField()
    members = serializers.IntegerField()
    active_members = serializers.IntegerField()
    active_share = serializers.FloatField()
    systems_used = serializers.IntegerField()
    is_dag = serializers.BooleanField()
    is_deeply_integrated = serializers.BooleanField()
    connections = serializers.ListField(child=serializers.IntegerField(), required=False)


class MetricsOrgListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    date = serializers.DateField()
    organizations = MetricsOrgRowSerializer(many=True)


class MetricsDefinitionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    min_active_share = serializers.SerializerMethodField()

    class Meta:
        model = DagDefinition
        fields = [
            "version",
            "min_active_share",
            "share_numerator",
            "share_denominator",
            "min_systems",
            "min_usage_minutes",
            "note",
            "created_at",
        ]

    def get_min_active_share(self, obj: DagDefinition) -> str:
        return f"{obj.share_numerator}/{obj.share_denominator}"


class MetricsDefinitionInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    min_active_share = serializers.CharField(
        max_length=20, help_text="A fraction: 1/3, 0.25 or 40%."
    )
    min_systems = serializers.IntegerField(min_value=0, max_value=1000)
    min_usage_minutes = serializers.IntegerField(min_value=0, max_value=1440, default=0)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


RANGE_PARAMS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default: 30 days ago)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, at most today (default)."),
]
DAY_PARAM = [OpenApiParameter("date", OpenApiTypes.DATE, description="The day (default today).")]
CSV_RESPONSE = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY)}


def csv_response(rows: list[list[Any]], name: str) -> HttpResponse:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _days(start: datetime.date, end: datetime.date) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


# --- an organisation -------------------------------------------------------------------------


class OrgMetricsViewSet(OrgScopedViewSet):
    """An organisation's DAG metrics (``metrics.read``; the CSV export also needs the
    security policy's leave to export metrics, see ``core.security.policies``)."""

    queryset = Organization.objects.none()
    required_permissions: ClassVar[dict[str, str]] = {"*": "metrics.read"}

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="metrics_status", parameters=DAY_PARAM, responses=MetricsStatusSerializer
    )
    def status(self, request: Request, org_id: int) -> Response:
        """The DAG status of a day (default today, computed live) with the reason in words."""
        day = selectors.parse_single_day(request.query_params)
        return Response(selectors.org_status(self.org, day))

    @extend_schema(
        operation_id="metrics_daily", parameters=RANGE_PARAMS, responses=MetricsSeriesSerializer
    )
    def daily(self, request: Request, org_id: int) -> Response:
        """One point per day of the range (at most 366 days; days not computed are null)."""
        start, end = selectors.parse_range(request.query_params)
        return Response({**_days(start, end), "days": selectors.org_series(self.org, start, end)})

    @extend_schema(
        operation_id="metrics_departments",
        parameters=DAY_PARAM,
        responses=MetricsDepartmentsSerializer,
    )
    def departments(self, request: Request, org_id: int) -> Response:
        """Members and active members per department on a day."""
        day = selectors.parse_single_day(request.query_params)
        body = {
            "date": day.isoformat(),
            "departments": selectors.active_by_department(self.org, day),
        }
        return Response(body)

    @extend_schema(
        operation_id="metrics_systems", parameters=DAY_PARAM, responses=MetricsSystemsSerializer
    )
    def systems(self, request: Request, org_id: int) -> Response:
        """The business systems used on a day."""
        day = selectors.parse_single_day(request.query_params)
        return Response({"date": day.isoformat(), "systems": selectors.org_systems(self.org, day)})

    @extend_schema(operation_id="metrics_export", parameters=RANGE_PARAMS, responses=CSV_RESPONSE)
    def export(self, request: Request, org_id: int) -> HttpResponse:
        """The daily series as CSV, for roles the security policy lets export metrics."""
        check_export_allowed(self.membership, "metrics")
        start, end = selectors.parse_range(request.query_params)
        rows = selectors.org_csv_rows(self.org, start, end)
        return csv_response(rows, f"dag-{self.org.slug}-{start}-{end}.csv")


# --- the platform (staff) --------------------------------------------------------------------


class StaffView(APIView):
    """Platform operators only (``is_staff``): 401 anonymous, 403 anyone else."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not request.user.is_staff:
            raise Forbidden(_("Only platform staff can see platform metrics."), code="staff_only")

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)


class PlatformSeriesView(StaffView):
    @extend_schema(
        operation_id="ops_metrics_platform",
        parameters=RANGE_PARAMS,
        responses=MetricsPlatformSeriesSerializer,
    )
    def get(self, request: Request) -> Response:
        """DAG count, deeply integrated count, DAU and MAU per day."""
        start, end = selectors.parse_range(request.query_params)
        return Response({**_days(start, end), "days": selectors.platform_series(start, end)})


def _ops_day(request: Request) -> datetime.date:
    if request.query_params.get("date"):
        return selectors.parse_single_day(request.query_params)
    return selectors.latest_rolled_day()


class BreakdownView(StaffView):
    @extend_schema(
        operation_id="ops_metrics_breakdown",
        parameters=DAY_PARAM,
        responses=MetricsBreakdownSerializer,
    )
    def get(self, request: Request) -> Response:
        """Organisations, DAG and deep counts by size bucket and edition (default: last rollup)."""
        day = _ops_day(request)
        return Response({"date": day.isoformat(), **selectors.breakdown(day)})


class TopOrgsView(StaffView):
    @extend_schema(
        operation_id="ops_metrics_top_orgs",
        parameters=[*DAY_PARAM, OpenApiParameter("limit", OpenApiTypes.INT, description="1-200.")],
        responses=MetricsOrgListSerializer,
    )
    def get(self, request: Request) -> Response:
        """The organisations with the most active members on a day."""
        day = _ops_day(request)
        limit = selectors.parse_limit(request.query_params)
        return Response({"date": day.isoformat(), "organizations": selectors.top_orgs(day, limit)})


class DeepOrgsView(StaffView):
    @extend_schema(
        operation_id="ops_metrics_deep", parameters=DAY_PARAM, responses=MetricsOrgListSerializer
    )
    def get(self, request: Request) -> Response:
        """The deeply integrated organisations of a day, with the connections that count."""
        day = _ops_day(request)
        return Response({"date": day.isoformat(), "organizations": selectors.deep_orgs(day)})


class PlatformExportView(StaffView):
    @extend_schema(
        operation_id="ops_metrics_export", parameters=RANGE_PARAMS, responses=CSV_RESPONSE
    )
    def get(self, request: Request) -> HttpResponse:
        """The platform series as CSV."""
        start, end = selectors.parse_range(request.query_params)
        return csv_response(
            selectors.platform_csv_rows(start, end), f"dag-platform-{start}-{end}.csv"
        )


class DefinitionView(StaffView):
    @extend_schema(
        operation_id="ops_metrics_definitions", responses=MetricsDefinitionSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        """Every version of the DAG definition, newest first."""
        rollup.ensure_definition()
        return Response(MetricsDefinitionSerializer(DagDefinition.objects.all(), many=True).data)

    @extend_schema(
        operation_id="ops_metrics_definitions_create",
        request=MetricsDefinitionInputSerializer,
        responses={201: MetricsDefinitionSerializer},
    )
    def post(self, request: Request) -> Response:
        """A new version of the thresholds; stored rollups keep the version they used."""
        data = request.data if isinstance(request.data, dict) else {}
        created = rollup.do_create_definition(
            request.user if isinstance(request.user, User) else None,
            min_active_share=data.get("min_active_share"),
            min_systems=data.get("min_systems"),
            min_usage_minutes=data.get("min_usage_minutes", 0),
            note=str(data.get("note") or ""),
        )
        return Response(MetricsDefinitionSerializer(created).data, status=status.HTTP_201_CREATED)
