from django.urls import include, path
from rest_framework.routers import SimpleRouter

from core.api import views
from core.security import api as security_api

me = SimpleRouter(trailing_slash=True)
me.register("tokens", views.ApiTokenViewSet, basename="api-token")

orgs = SimpleRouter(trailing_slash=True)
orgs.register("members", views.MemberViewSet, basename="member")
orgs.register("invitations", views.InvitationViewSet, basename="invitation")
orgs.register("departments", views.DepartmentViewSet, basename="department")
orgs.register("roles", views.RoleViewSet, basename="role")
orgs.register("audit-log", views.AuditLogViewSet, basename="audit-log")

organization = views.OrganizationView.as_view({"get": "retrieve", "patch": "partial_update"})
organization_list = views.OrganizationListView.as_view({"get": "list", "post": "create"})
invitation_token = views.InvitationTokenView.as_view({"get": "retrieve"})
invitation_accept = views.InvitationTokenView.as_view({"post": "accept"})
security_policy = security_api.SecurityPolicyView.as_view(
    {"get": "retrieve", "patch": "partial_update"}
)
branding = security_api.BrandingView.as_view({"get": "retrieve", "patch": "partial_update"})

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("me/password/", views.PasswordChangeView.as_view(), name="me-password"),
    path("me/two-factor/", security_api.TwoFactorView.as_view(), name="me-two-factor"),
    path(
        "me/two-factor/enrol/",
        security_api.TwoFactorEnrolView.as_view(),
        name="me-two-factor-enrol",
    ),
    path(
        "me/two-factor/confirm/",
        security_api.TwoFactorConfirmView.as_view(),
        name="me-two-factor-confirm",
    ),
    path(
        "me/two-factor/disable/",
        security_api.TwoFactorDisableView.as_view(),
        name="me-two-factor-disable",
    ),
    path("me/", include(me.urls)),
    path("auth/login/", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/token/", views.TokenLoginView.as_view(), name="auth-token"),
    path("operations/", views.OperationListView.as_view(), name="operations"),
    path("invitations/<str:token>/", invitation_token, name="invitation-preview"),
    path("invitations/<str:token>/accept/", invitation_accept, name="invitation-accept"),
    path("orgs/", organization_list, name="org-list"),
    path("orgs/<int:org_id>/", organization, name="org-detail"),
    path("orgs/<int:org_id>/security-policy/", security_policy, name="org-security-policy"),
    path("orgs/<int:org_id>/branding/", branding, name="org-branding"),
    path("orgs/<int:org_id>/", include(orgs.urls)),
    path("", include("core.metrics.api_urls")),  # orgs/<id>/metrics/... and ops/metrics/...
    path("orgs/<int:org_id>/", include("im.api.urls")),
    path("orgs/<int:org_id>/lowcode/", include("lowcode.api.urls")),
    path("orgs/<int:org_id>/connectors/", include("connectors.api.urls")),
    path("", include("marketplace.api.urls")),  # marketplace/... and orgs/<id>/marketplace/...
]
