"""Low-code web pages, mounted under /o/<org_id>/apps/."""

from django.urls import URLPattern, URLResolver

app_name = "lowcode"

urlpatterns: list[URLPattern | URLResolver] = []
