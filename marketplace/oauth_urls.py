"""``/oauth/``: the consent page for people, and the token endpoints for apps."""

from django.urls import path
from oauth2_provider import views as dot_views

from marketplace.oauth_views import AuthorizeView

app_name = "oauth"

urlpatterns = [
    path("authorize/", AuthorizeView.as_view(), name="authorize"),
    path("token/", dot_views.TokenView.as_view(), name="token"),
    path("revoke/", dot_views.RevokeTokenView.as_view(), name="revoke"),
]
