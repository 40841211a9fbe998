"""Report API: saved group-by aggregates of an app, and their computed data."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import OrgScopedViewSet
from core.api.fields import IdField
from lowcode import reports
from lowcode.access import access_app, access_form
from lowcode.api.serializers import AnyJSONField
from lowcode.api.views import _parse, _query_id
from lowcode.models import Report


class ReportSerializer(serializers.ModelSerializer[Report]):
    app = serializers.IntegerField(source="app_id", read_only=True)
    form = serializers.IntegerField(source="form_id", read_only=True)
    filters = AnyJSONField(read_only=True)

    class Meta:
        model = Report
        fields = [
            "id",
            "app",
            "form",
            "name",
            "chart",
            "group_by",
            "date_bucket",
            "aggregate",
            "value_field",
            "filters",
            "position",
            "created_at",
        ]
        read_only_fields = fields


class ReportWriteSerializer(serializers.Serializer[Any]):
    """A report's settings; the action checks them against the form's fields."""

    app = IdField(help_text="The app the report belongs to (ignored when updating).")
    form = IdField()
    name = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    chart = serializers.ChoiceField(Report.Chart.values, required=False, default="bar")
    group_by = serializers.CharField(max_length=100)
    date_bucket = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text="day, week or month, for date fields.",
    )
    aggregate = serializers.ChoiceField(Report.Aggregate.values, required=False, default="count")
    value_field = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="A number, money or computed field for sum and avg; empty for count.",
    )
    filters = AnyJSONField(
        required=False,
        help_text='Conditions all records must meet: [{"field", "op", "value"}], as for records.',
    )


class ReportColumnSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    # A declared field named like Field.label: DRF collects it, the stubs object.
    label = serializers.CharField()  # type: ignore[assignment]


class ReportRowSerializer(serializers.Serializer[Any]):
    group = AnyJSONField(help_text="The group's value as stored (null: empty; '__other__').")
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.FloatField(allow_null=True)
    color = serializers.CharField(
        required=False, help_text="The choice's colour (#rrggbb), for single-select groups."
    )


class ReportDataSerializer(serializers.Serializer[Any]):
    columns = ReportColumnSerializer(many=True)
    rows = ReportRowSerializer(many=True)
    total = serializers.FloatField(allow_null=True)
    record_count = serializers.IntegerField()
    unit = serializers.CharField(help_text="The value's unit or currency (money: major units).")
    decimals = serializers.IntegerField()


class ReportViewSet(OrgScopedViewSet):
    """Reports of an app: reading one needs the ``view_all`` level, changing one ``manage``."""

    queryset = Report.objects.all()
    serializer_class = ReportSerializer
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("app", OpenApiTypes.INT, required=True)],
        responses=ReportSerializer(many=True),
    )
    def list(self, request: Request, org_id: int) -> Response:
        app = access_app(self.membership, _query_id(request, "app"), "view_all")
        return Response(ReportSerializer(reports.reports_of(app), many=True).data)

    @extend_schema(request=ReportWriteSerializer, responses={201: ReportSerializer})
    def create(self, request: Request, org_id: int) -> Response:
        data = _parse(ReportWriteSerializer, request)
        app = access_app(self.membership, data.pop("app"), "manage")
        form = access_form(self.membership, data.pop("form"), "manage")
        report = reports.do_save_report(self.membership, app, form, **data)
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(ReportSerializer(reports.access_report(self.membership, pk)).data)

    @extend_schema(request=ReportWriteSerializer, responses=ReportSerializer)
    def update(self, request: Request, org_id: int, pk: str) -> Response:
        report = reports.access_report(self.membership, pk, "manage")
        data = _parse(ReportWriteSerializer, request)
        data.pop("app")
        form = access_form(self.membership, data.pop("form"), "manage")
        report = reports.do_save_report(self.membership, report.app, form, report=report, **data)
        return Response(ReportSerializer(report).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        report = reports.access_report(self.membership, pk, "manage")
        reports.do_delete_report(self.membership, report)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=ReportDataSerializer)
    @action(detail=True, methods=["get"])
    def data(self, request: Request, org_id: int, pk: str) -> Response:
        """The report computed now: one row per group (top 50, then "Other") and the total."""
        report = reports.access_report(self.membership, pk)
        return Response(ReportDataSerializer(reports.report_data(self.membership, report)).data)

    @extend_schema(request=ReportWriteSerializer, responses=ReportDataSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request: Request, org_id: int) -> Response:
        """What a report with these settings would show, computed now and not saved."""
        data = _parse(ReportWriteSerializer, request)
        app = access_app(self.membership, data.pop("app"), "view_all")
        form = access_form(self.membership, data.pop("form"), "view_all")
        body = reports.preview_report(self.membership, app, form, **data)
        return Response(ReportDataSerializer(body).data)
