"""Public form links for people outside the organisation, mounted under /f/."""

from django.urls import URLPattern, URLResolver

app_name = "lowcode_public"

urlpatterns: list[URLPattern | URLResolver] = []
