"""The app dashboard: every report of an app as a chart with its data table.

The view resolves the app (``view_all``: reports add up everyone's records) and passes
the script the reports, the forms with the fields a report can use, and the translated
strings. The script reads each report's data from ``reports/<id>/data/`` and, for
managers, creates, edits and deletes reports through the same API.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.views import OrgRequest, org_page
from lowcode.access import access_app
from lowcode.models import Report
from lowcode.reports import DATE_TYPES, groupable_fields, numeric_fields, reports_of


def dashboard_strings() -> dict[str, str]:
    return {
        "load_error": _("Could not load. Check your connection and try again."),
        "save_error": _("Could not save. Check the highlighted fields."),
        "retry": _("Try again"),
        "loading": _("Loading…"),
        "no_data": _("No records match this report yet."),
        "total": _("Total"),
        "records": _("%(count)s records"),
        "chart_of": _("Chart: %(name)s. The table below has the same data."),
        "new_report": _("New report"),
        "edit_report": _("Edit report"),
        "edit": _("Edit"),
        "delete": _("Delete"),
        "delete_confirm": _("Delete the report %(name)s? The records stay as they are."),
        "deleted": _("Report deleted."),
        "saved": _("Report saved."),
        "save": _("Save report"),
        "cancel": _("Cancel"),
        "show_table": _("Data table"),
        "preview": _("Preview"),
    }


def _report_json(report: Report) -> dict[str, Any]:
    return {
        "id": report.pk,
        "form": report.form_id,
        "name": report.name,
        "chart": report.chart,
        "group_by": report.group_by,
        "date_bucket": report.date_bucket,
        "aggregate": report.aggregate,
        "value_field": report.value_field,
        "filters": report.filters,
    }


def _field_choice(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": definition["key"],
        "label": str(definition.get("label") or definition["key"]),
        "is_date": definition["type"] in DATE_TYPES,
    }


@org_page
@require_GET
def dashboard(request: OrgRequest, app_id: int) -> HttpResponse:
    member = request.membership
    app = access_app(member, app_id, "view_all")
    can_manage = "manage" in app._levels  # type: ignore[attr-defined]
    reports = reports_of(app)
    forms = [
        {
            "id": form.pk,
            "name": form.name,
            "group_fields": [_field_choice(f) for f in groupable_fields(form)],
            "value_fields": [_field_choice(f) for f in numeric_fields(form)],
        }
        for form in app.forms.filter(published_version__isnull=False).select_related(
            "published_version"
        )
    ]
    try:
        app_url = reverse("lowcode:app", args=[request.org.pk, app.pk])
    except NoReverseMatch:  # the app page is optional for the dashboard
        app_url = ""
    config: dict[str, Any] = {
        "api": f"/api/v1/orgs/{request.org.pk}/lowcode/",
        "app_id": app.pk,
        "can_manage": can_manage,
        "reports": [_report_json(r) for r in reports],
        "forms": forms,
        "charts": [{"value": v, "label": str(label)} for v, label in Report.Chart.choices],
        "aggregates": [{"value": v, "label": str(label)} for v, label in Report.Aggregate.choices],
        "buckets": [
            {"value": "day", "label": _("Day")},
            {"value": "week", "label": _("Week")},
            {"value": "month", "label": _("Month")},
        ],
        "strings": dashboard_strings(),
    }
    return render(
        request,
        "lowcode/dashboard.html",
        {
            "app": app,
            "reports": reports,
            "forms": forms,
            "can_manage": can_manage,
            "app_url": app_url,
            "dashboard_config": config,
        },
    )
