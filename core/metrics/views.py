"""Pages: the organisation admin's usage console and the platform operators' dashboard."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.metrics import selectors
from core.metrics.rollup import ensure_definition, share_percent
from core.permissions import check_permission
from core.security.policies import export_allowed
from core.views import OrgRequest, org_page


@org_page
@require_GET
def org_metrics(request: OrgRequest) -> HttpResponse:
    """Today's DAG status with its reason, trends, departments, systems, CSV export."""
    check_permission(request.membership, "metrics.read")
    org = request.org
    today = timezone.localdate()
    status = selectors.org_status(org, today)
    config: dict[str, Any] = {
        "daily_url": f"/api/v1/orgs/{org.pk}/metrics/daily/",
        "today": today.isoformat(),
        "required_share": status["required_share_percent"],
        "required_systems": status["required_systems"],
    }
    context = {
        "status": status,
        "departments": selectors.active_by_department(org, today),
        "systems": selectors.org_systems(org, today),
        "can_export": export_allowed(request.membership, "metrics"),
        "export_url": f"/api/v1/orgs/{org.pk}/metrics/export/",
        "export_from": (today - datetime.timedelta(days=89)).isoformat(),
        "today": today,
        "metrics_config": config,
    }
    return render(request, "core/metrics.html", context)


@login_required
@require_GET
def ops_metrics(request: HttpRequest) -> HttpResponse:
    """Platform staff only (others get a 404, as for a page that does not exist)."""
    if not getattr(request.user, "is_staff", False):
        raise Http404
    day = selectors.latest_rolled_day()
    latest = selectors.platform_series(day, day)
    definition = ensure_definition()
    today = timezone.localdate()
    context = {
        "day": day,
        "latest": latest[0] if latest else None,
        "breakdown": selectors.breakdown(day),
        "top_orgs": selectors.top_orgs(day, 20),
        "deep_orgs": selectors.deep_orgs(day),
        "definition": definition,
        "definition_share": share_percent(definition),
        "export_url": "/api/v1/ops/metrics/export/",
        "export_from": (today - datetime.timedelta(days=89)).isoformat(),
        "today": today,
        "metrics_config": {
            "platform_url": "/api/v1/ops/metrics/platform/",
            "today": today.isoformat(),
        },
    }
    return render(request, "core/ops_metrics.html", context)
