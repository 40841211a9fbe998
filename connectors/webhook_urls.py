"""Mounted at ``hooks/connectors/`` from ``config/urls.py`` (before ``hooks/``)."""

from django.urls import path

from connectors.webhook_views import ConnectorWebhookView

urlpatterns = [
    path(
        "<int:connection_id>/<str:stream>/",
        ConnectorWebhookView.as_view(),
        name="connector-webhook",
    ),
]
