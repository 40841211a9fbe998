"""Connector web pages, mounted under /o/<org_id>/connectors/."""

from django.urls import URLPattern, URLResolver, path

from connectors import views

app_name = "connectors"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.connections, name="connections"),
    path("scenarios/", views.scenarios, name="scenarios"),
    path("<int:connection_id>/", views.connection_detail, name="connection"),
]
