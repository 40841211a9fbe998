"""Connector routes, mounted under /api/v1/orgs/<org_id>/connectors/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from connectors.api import scenario_views, views

router = SimpleRouter(trailing_slash=True)
router.register("types", views.ConnectorTypeViewSet, basename="connector-type")
router.register("connections", views.ConnectionViewSet, basename="connector-connection")
router.register("runs", views.SyncRunViewSet, basename="connector-run")
router.register("scenarios", scenario_views.ScenarioViewSet, basename="connector-scenario")
router.register("destinations", views.DestinationViewSet, basename="connector-destination")
router.register(
    "scenario-tokens", scenario_views.ScenarioTokenViewSet, basename="connector-scenario-token"
)

urlpatterns = [
    path(
        "scenarios/<slug:slug>/run/",
        scenario_views.ScenarioRunView.as_view(),
        name="connector-scenario-run",
    ),
    *router.urls,
]
