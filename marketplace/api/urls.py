"""Marketplace API routes, included at the root of /api/v1/ (so this file holds both the
platform routes under ``marketplace/`` and the organisation routes under
``orgs/<org_id>/marketplace/``).

Other marketplace modules add their routes here with one ``path(..., include(...))`` line
each (webhooks, billing, ...), using full paths below /api/v1/.
"""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from marketplace.api import views

platform = SimpleRouter(trailing_slash=True)
platform.register("partners", views.PartnerViewSet, basename="marketplace-partner")
platform.register("apps", views.PartnerAppViewSet, basename="marketplace-app")
platform.register("versions", views.VersionViewSet, basename="marketplace-version")
platform.register("review", views.ReviewQueueViewSet, basename="marketplace-review")
platform.register("catalogue", views.CatalogueViewSet, basename="marketplace-catalogue")

org = SimpleRouter(trailing_slash=True)
org.register("installations", views.InstallationViewSet, basename="marketplace-installation")

urlpatterns = [
    path(
        "marketplace/manifest-schema/",
        views.ManifestSchemaView.as_view(),
        name="marketplace-manifest-schema",
    ),
    path(
        "marketplace/partners/<int:partner_id>/members/<int:member_id>/",
        views.PartnerMemberView.as_view(),
        name="marketplace-partner-member",
    ),
    path("marketplace/", include(platform.urls)),
    path("orgs/<int:org_id>/marketplace/", include(org.urls)),
    path("", include("marketplace.api.webhook_views")),  # delivery log, webhook secret (H3)
    path("", include("marketplace.api.coolapp_views")),  # cool apps in chats, app cards (H3)
    path("", include("marketplace.api.billing_views")),  # billing, revenue, payouts (H4)
]
