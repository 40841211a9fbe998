"""Metrics routes: ``orgs/<org_id>/metrics/...`` and, for staff, ``ops/metrics/...``."""

from django.urls import path

from core.metrics import api

_org = api.OrgMetricsViewSet.as_view

urlpatterns = [
    path("orgs/<int:org_id>/metrics/status/", _org({"get": "status"}), name="metrics-status"),
    path("orgs/<int:org_id>/metrics/daily/", _org({"get": "daily"}), name="metrics-daily"),
    path(
        "orgs/<int:org_id>/metrics/departments/",
        _org({"get": "departments"}),
        name="metrics-departments",
    ),
    path("orgs/<int:org_id>/metrics/systems/", _org({"get": "systems"}), name="metrics-systems"),
    path("orgs/<int:org_id>/metrics/export/", _org({"get": "export"}), name="metrics-export"),
    path("ops/metrics/platform/", api.PlatformSeriesView.as_view(), name="ops-metrics-platform"),
    path("ops/metrics/breakdown/", api.BreakdownView.as_view(), name="ops-metrics-breakdown"),
    path("ops/metrics/top-orgs/", api.TopOrgsView.as_view(), name="ops-metrics-top-orgs"),
    path("ops/metrics/deep/", api.DeepOrgsView.as_view(), name="ops-metrics-deep"),
    path("ops/metrics/export/", api.PlatformExportView.as_view(), name="ops-metrics-export"),
    path("ops/metrics/definitions/", api.DefinitionView.as_view(), name="ops-metrics-definitions"),
]
