"""Imports, exports, entry codes and public links (mounted by lowcode.api.urls)."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from lowcode.api import entry_views as views

router = SimpleRouter(trailing_slash=True)
router.register("imports", views.ImportViewSet, basename="lowcode-import")
router.register("public-links", views.PublicLinkViewSet, basename="lowcode-public-link")

_form = views.FormEntryViewSet.as_view

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("forms/<str:pk>/export/", _form({"get": "export"}), name="lowcode-form-export"),
    path("forms/<str:pk>/entry/", _form({"get": "entry"}), name="lowcode-form-entry"),
    path("forms/<str:pk>/qr.png", _form({"get": "qr_png"}), name="lowcode-form-qr-png"),
    path("forms/<str:pk>/qr.svg", _form({"get": "qr_svg"}), name="lowcode-form-qr-svg"),
]
