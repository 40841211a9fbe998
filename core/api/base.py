"""The one place organisation-scoped API views resolve their tenant.

``OrgScopedViewSet`` resolves ``org_id`` from the URL and the caller's active
membership once per request (after authentication, so anonymous callers get
401 first). Every queryset starts from ``self.org``: subclasses declare
``queryset`` and may refine it in ``refine_queryset``, but they cannot override
``get_queryset`` (refused at class definition) and so cannot skip the filter.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from rest_framework import viewsets
from rest_framework.request import Request

from core.access import access_organization
from core.metrics.recording import note_request
from core.models import Membership, Organization
from core.permissions import check_permission


def client_ip(request: Request) -> str | None:
    ip: str | None = request.META.get("REMOTE_ADDR")
    return ip


class OrgScopedViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Base for every view under ``/api/v1/orgs/<org_id>/``."""

    org: Organization
    membership: Membership
    org_field: ClassVar[str] = "org"
    #: Operation required per action name (``"*"`` for all); checked after org resolution.
    required_permissions: ClassVar[dict[str, str]] = {}
    #: OAuth scope a marketplace app's token needs (``marketplace.auth``): ``app_scope`` is a
    #: prefix (``"lowcode:record"``: safe methods need ``.read``, others ``.write``);
    #: ``app_scopes`` maps an action (or ``"action:method"``) to a scope. A view declaring
    #: neither refuses app tokens (403 ``scope_required``); a token from another
    #: organisation's installation gets 404 before any scope check.
    app_scope: ClassVar[str | None] = None
    app_scopes: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} must not override get_queryset(); use refine_queryset() so "
                "the organisation filter always applies."
            )

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.membership = access_organization(request.user, kwargs.get("org_id"))
        self.org = self.membership.org
        operation = self.required_permissions.get(
            self.action or ""
        ) or self.required_permissions.get("*")
        if operation:
            check_permission(self.membership, operation)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Activity for the DAG metrics (cheap: deduplicated in-process, see core.metrics).
        note_request(request, getattr(self, "membership", None), response.status_code)
        return response

    def get_queryset(self) -> QuerySet[Any]:
        base = type(self).queryset
        assert base is not None, f"{type(self).__name__} needs a queryset"
        if getattr(self, "swagger_fake_view", False):
            return base.none()  # schema generation only
        scoped = base.all().filter(**{self.org_field: self.org})
        return self.refine_queryset(scoped)

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Add joins or filters; the organisation filter has already been applied."""
        return queryset

    @property
    def ip(self) -> str | None:
        return client_ip(self.request)


def instance_of(view: OrgScopedViewSet) -> Model:
    """``get_object()`` with a typed result."""
    obj: Model = view.get_object()
    return obj
