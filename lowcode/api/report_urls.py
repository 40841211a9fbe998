"""Routes for report_urls (mounted by lowcode.api.urls)."""

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from lowcode.api import report_views

router = SimpleRouter(trailing_slash=True)
router.register("reports", report_views.ReportViewSet, basename="lowcode-report")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
