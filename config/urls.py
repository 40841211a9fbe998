from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.health import healthz
from marketplace import urls as marketplace_urls

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("core.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("oauth/", include("marketplace.oauth_urls")),  # marketplace apps: OAuth 2.0
    path("i18n/", include("django.conf.urls.i18n")),
    path("o/<int:org_id>/chat/", include("im.urls")),
    path("o/<int:org_id>/apps/", include("lowcode.urls")),
    path("o/<int:org_id>/connectors/", include("connectors.urls")),
    path(
        "o/<int:org_id>/marketplace/",
        include((marketplace_urls.org_urlpatterns, "marketplace"), namespace="marketplace"),
    ),
    path(
        "partners/",
        include((marketplace_urls.partner_urlpatterns, "partners"), namespace="partners"),
    ),
    path("ops/review/", include((marketplace_urls.ops_urlpatterns, "ops"), namespace="ops")),
    path("f/", include("lowcode.public_urls")),  # public form links
    path("hooks/connectors/", include("connectors.webhook_urls")),  # pushed records
    path("hooks/", include("im.webhooks")),  # public incoming webhooks (bots)
    path("", include("core.urls")),
]

if settings.EMBEDDED or settings.DEBUG:
    # Uploaded files; production serves MEDIA_ROOT from the web server or object storage.
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))

handler400 = "core.api.errors.handler400"
handler403 = "core.api.errors.handler403"
handler404 = "core.api.errors.handler404"
handler500 = "core.api.errors.handler500"
