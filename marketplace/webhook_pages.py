"""Partner console page: an app's webhook deliveries (with every attempt), replay, and the
signing secret. Server-rendered; ``marketplace.js`` sends replays and rotations to the API
(``marketplace.api.webhook_views``)."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.errors import NotFound
from marketplace.access import access_partner_app
from marketplace.models import PartnerMember, WebhookDelivery
from marketplace.views import _config, _user_page

PAGE_SIZE = 50


@login_required
@require_GET
def partner_app_webhooks(request: HttpRequest, app_pk: int) -> HttpResponse:
    user_request = _user_page(request)
    try:
        pm, app = access_partner_app(user_request.user, app_pk)
    except NotFound:
        raise Http404 from None
    status = request.GET.get("status", "")
    deliveries = WebhookDelivery.objects.filter(app=app).prefetch_related("attempt_log")
    if status in WebhookDelivery.Status.values:
        deliveries = deliveries.filter(status=status)
    else:
        status = ""
    version = app.published_version
    manifest = version.manifest if version is not None else {}
    context = {
        "pm": pm,
        "app": app,
        "partner": app.partner,
        "can_develop": pm.role in (PartnerMember.Role.OWNER, PartnerMember.Role.DEVELOPER),
        "deliveries": [
            (d, json.dumps(d.payload, indent=2, ensure_ascii=False))
            for d in deliveries.order_by("-id")[:PAGE_SIZE]
        ],
        "status": status,
        "statuses": WebhookDelivery.Status.choices,
        "webhook": manifest.get("webhook") or {},
        "has_secret": bool(app.webhook_secret),
        "mp_config": _config(apps_api="/api/v1/marketplace/apps/", app=app.pk),
    }
    return render(request, "marketplace/webhooks.html", context)
