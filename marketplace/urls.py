"""Marketplace web pages: three groups, each included from ``config/urls.py``.

- ``org_urlpatterns`` under ``/o/<org_id>/marketplace/`` (namespace ``marketplace``)
- ``partner_urlpatterns`` under ``/partners/`` (namespace ``partners``)
- ``ops_urlpatterns`` under ``/ops/review/`` (namespace ``ops``)
"""

from django.urls import URLPattern, path

from marketplace import billing_pages, views, webhook_pages

org_urlpatterns: list[URLPattern] = [
    path("", views.catalogue, name="catalogue"),
    path("installed/", views.installed_apps, name="installed"),
    path("apps/<str:app_id>/", views.app_page, name="app"),
    path("apps/<str:app_id>/install/", views.install_page, name="install"),
    path("billing/", billing_pages.org_billing, name="billing"),
]

partner_urlpatterns: list[URLPattern] = [
    path("", views.partner_home, name="home"),
    path("<int:partner_id>/", views.partner_page, name="partner"),
    path("apps/<int:app_pk>/", views.partner_app_page, name="app"),
    path("apps/<int:app_pk>/webhooks/", webhook_pages.partner_app_webhooks, name="app-webhooks"),
    path("<int:partner_id>/revenue/", billing_pages.partner_revenue, name="revenue"),
]

ops_urlpatterns: list[URLPattern] = [
    path("", views.review_queue, name="queue"),
    path("<int:version_id>/", views.review_page, name="review"),
]

urlpatterns: list[URLPattern] = []  # see the three lists above
