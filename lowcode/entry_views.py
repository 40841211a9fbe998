"""The printable sheet of a form's QR entry codes (one per checkpoint, say)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from core.views import OrgRequest, org_page
from lowcode import qr
from lowcode.access import access_form


@org_page
@require_GET
def qr_sheet(request: OrgRequest, form_id: int) -> HttpResponse:
    """Every entry code of the form with its label, laid out for printing."""
    form = access_form(request.membership, form_id)
    codes = [
        {
            "label": entry.label,
            "value": entry.value,
            "url": entry.url,
            # segno's own SVG output: no user text inside, safe to inline.
            "svg": mark_safe(qr.qr_svg_inline(entry.url, scale=5)),  # noqa: S308
        }
        for entry in qr.form_entries(form, request)
    ]
    return render(request, "lowcode/qr_sheet.html", {"form": form, "codes": codes})
