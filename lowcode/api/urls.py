"""Low-code routes, mounted under /api/v1/orgs/<org_id>/lowcode/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from lowcode.api import views

router = SimpleRouter(trailing_slash=True)
router.register("apps", views.AppViewSet, basename="lowcode-app")
router.register("field-types", views.FieldTypeViewSet, basename="lowcode-field-type")
router.register("forms", views.FormViewSet, basename="lowcode-form")
router.register("records", views.RecordViewSet, basename="lowcode-record")
router.register("lookups", views.LookupViewSet, basename="lowcode-lookup")

urlpatterns = [
    *router.urls,
    path("", include("lowcode.api.approval_urls")),
    path("", include("lowcode.api.entry_urls")),
    path("", include("lowcode.api.report_urls")),
]
