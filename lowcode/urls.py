"""Low-code web pages, mounted under /o/<org_id>/apps/."""

from django.urls import URLPattern, URLResolver, path

from lowcode import dashboard_views

app_name = "lowcode"

urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:app_id>/dashboard/", dashboard_views.dashboard, name="dashboard"),  # reports dashboard
]
