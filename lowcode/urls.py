"""Low-code web pages, mounted under /o/<org_id>/apps/."""

from django.urls import URLPattern, URLResolver, path

from lowcode import dashboard_views, entry_views, views

app_name = "lowcode"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.apps_home, name="apps"),
    path("<int:app_id>/", views.app_detail, name="app"),
    path("forms/<int:form_id>/design/", views.designer, name="designer"),
    path("forms/<int:form_id>/fill/", views.fill, name="fill"),
    path("forms/<int:form_id>/records/", views.records, name="records"),
    path("lookups/<int:lookup_id>/", views.lookup, name="lookup"),
    path("approvals/", views.approvals, name="approvals"),
    path(
        "<int:app_id>/dashboard/", dashboard_views.dashboard, name="dashboard"
    ),  # reports dashboard
    # entry (QR sheet)
    path("forms/<int:form_id>/qr-sheet/", entry_views.qr_sheet, name="qr_sheet"),
]
