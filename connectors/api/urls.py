"""Connector routes, mounted under /api/v1/orgs/<org_id>/connectors/."""

from rest_framework.routers import SimpleRouter

from connectors.api import views

router = SimpleRouter(trailing_slash=True)
router.register("types", views.ConnectorTypeViewSet, basename="connector-type")
router.register("connections", views.ConnectionViewSet, basename="connector-connection")
router.register("runs", views.SyncRunViewSet, basename="connector-run")

urlpatterns = router.urls
