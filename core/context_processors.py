from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def tack(request: HttpRequest) -> dict[str, Any]:
    """Branding for every page: the current organisation's, else Tack's own."""
    org = getattr(request, "org", None)
    return {
        "brand_name": org.display_name if org else "Tack",
        "brand_color": org.brand_color if org else "#1f6feb",
        "brand_logo_url": org.brand_logo.url if org and org.brand_logo else None,
        "current_org": org,
    }
