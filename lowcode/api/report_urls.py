"""Routes for report_urls (mounted by lowcode.api.urls)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
