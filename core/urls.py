from django.contrib.auth.views import LogoutView
from django.urls import path

from core import views
from core.metrics import views as metrics_views
from core.security import views as security_views

app_name = "core"

org = "o/<int:org_id>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.TackLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("account/language/", views.account_language, name="account_language"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("orgs/new/", views.org_create, name="org_create"),
    path("invite/<str:token>/", views.invitation, name="invitation"),
    path(org, views.org_home, name="org_home"),
    path(f"{org}members/", views.members, name="members"),
    path(f"{org}members/<int:member_id>/role/", views.member_role, name="member_role"),
    path(f"{org}members/<int:member_id>/status/", views.member_status, name="member_status"),
    path(f"{org}members/<int:member_id>/remove/", views.member_remove, name="member_remove"),
    path(
        f"{org}invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(f"{org}departments/", views.departments, name="departments"),
    path(f"{org}departments/<int:department_id>/", views.departments, name="department"),
    path(
        f"{org}departments/<int:department_id>/delete/",
        views.department_delete,
        name="department_delete",
    ),
    path(
        f"{org}departments/<int:department_id>/members/",
        views.department_member_add,
        name="department_member_add",
    ),
    path(
        f"{org}departments/<int:department_id>/members/<int:member_id>/manager/",
        views.department_member_manager,
        name="department_member_manager",
    ),
    path(
        f"{org}departments/<int:department_id>/members/<int:member_id>/remove/",
        views.department_member_remove,
        name="department_member_remove",
    ),
    path(f"{org}settings/", views.org_settings, name="org_settings"),
    path(f"{org}admin/metrics/", metrics_views.org_metrics, name="org_metrics"),
    path("ops/metrics/", metrics_views.ops_metrics, name="ops_metrics"),
    path(f"{org}settings/security/", security_views.org_security, name="org_security"),
    path(f"{org}members/export.csv", views.members_export, name="members_export"),
    path("account/two-factor/", security_views.two_factor, name="two_factor"),
    path("login/verify/", security_views.two_factor_verify, name="two_factor_verify"),
    path("brand/<int:org_id>.css", security_views.brand_css, name="brand_css"),
]
