"""Approval routes (mounted by lowcode.api.urls under /api/v1/orgs/<org_id>/lowcode/)."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from lowcode.api import approval_views

router = SimpleRouter(trailing_slash=True)
router.register("approvals", approval_views.ApprovalViewSet, basename="lowcode-approval")

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "forms/<pk>/approval-flow/",
        approval_views.FormApprovalFlowViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="lowcode-form-approval-flow-detail",
    ),
    # The inbox is not the router's "list": it answers one page object, not an array.
    path(
        "approvals/",
        approval_views.ApprovalViewSet.as_view({"get": "inbox"}),
        name="lowcode-approval-list",
    ),
    *router.urls,
]
