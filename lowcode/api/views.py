"""Low-code API views: parse, access, act, serialise."""

from __future__ import annotations

import json
from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import OrgScopedViewSet
from core.api.fields import IdField
from core.errors import ValidationFailed
from lowcode import actions, selectors
from lowcode.access import access_app, access_form, access_lookup, access_record, app_levels
from lowcode.api import serializers as s
from lowcode.models import App, Form, LookupPage, Record
from lowcode.registries import field_type_registry


def _parse(serializer_class: Any, request: Request, **kwargs: Any) -> dict[str, Any]:
    data = serializer_class(data=request.data, **kwargs)
    data.is_valid(raise_exception=True)
    validated: dict[str, Any] = data.validated_data
    return validated


def _query_id(request: Request, name: str, *, required: bool = True) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        if required:
            raise ValidationFailed(
                f"The {name} parameter is required.", fields={name: ["Required."]}
            )
        return None
    field = IdField()
    try:
        value: int = field.run_validation(raw)
    except Exception:
        raise ValidationFailed(f"Invalid {name}.", fields={name: ["Invalid id."]}) from None
    return value


class AppViewSet(OrgScopedViewSet):
    """Low-code apps I can open (``my_levels``: submit, view_all, manage)."""

    queryset = App.objects.all()
    serializer_class = s.AppSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {"list": "lowcode:app.read", "retrieve": "lowcode:app.read"}
    pagination_class = None

    def list(self, request: Request, org_id: int) -> Response:
        return Response(s.AppSerializer(selectors.apps_for(self.membership), many=True).data)

    @extend_schema(request=s.AppWriteSerializer, responses={201: s.AppSerializer})
    def create(self, request: Request, org_id: int) -> Response:
        data = _parse(s.AppWriteSerializer, request)
        data.pop("is_published", None)
        app = actions.do_create_app(self.membership, ip=self.ip, **data)
        app.levels = app_levels(self.membership, app)  # type: ignore[attr-defined]
        return Response(s.AppSerializer(app).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(s.AppSerializer(access_app(self.membership, pk)).data)

    @extend_schema(request=s.AppWriteSerializer(partial=True), responses=s.AppSerializer)
    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        app = access_app(self.membership, pk, "manage")
        data = _parse(s.AppWriteSerializer, request, partial=True)
        app = actions.do_update_app(self.membership, app, ip=self.ip, **data)
        return Response(s.AppSerializer(app).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        """Archive the app (its data stays; an admin can restore it from the admin site)."""
        actions.do_archive_app(
            self.membership, access_app(self.membership, pk, "manage"), ip=self.ip
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class FieldTypeViewSet(OrgScopedViewSet):
    """The field types a form can use, with their options schema and filter operators."""

    queryset = App.objects.none()
    serializer_class = s.FieldTypeSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {"list": "lowcode:app.read"}
    pagination_class = None

    @extend_schema(responses=s.FieldTypeSerializer(many=True))
    def list(self, request: Request, org_id: int) -> Response:
        body = [
            {
                "type": t.type,
                "label": str(t.label),
                "operators": list(t.operators),
                "can_index": t.can_index,
                "read_only": t.read_only,
                "in_sub_table": t.in_sub_table,
                "widget": t.widget,
                "options_schema": t.options_schema(),
            }
            for t in field_type_registry.all()
        ]
        return Response(s.FieldTypeSerializer(body, many=True).data)


class FormViewSet(OrgScopedViewSet):
    """Forms: the draft is edited freely; ``publish`` freezes it as a new version."""

    queryset = Form.objects.all()
    serializer_class = s.FormSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {
        "list": "lowcode:app.read",
        "retrieve": "lowcode:app.read",
        "versions": "lowcode:app.read",
    }
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("app", OpenApiTypes.INT, required=True)],
        responses=s.FormSerializer(many=True),
    )
    def list(self, request: Request, org_id: int) -> Response:
        app = access_app(self.membership, _query_id(request, "app"))
        forms = app.forms.select_related("published_version")
        return Response(s.FormSerializer(forms, many=True).data)

    @extend_schema(request=s.FormCreateSerializer, responses={201: s.FormSerializer})
    def create(self, request: Request, org_id: int) -> Response:
        data = _parse(s.FormCreateSerializer, request)
        app = access_app(self.membership, data.pop("app"), "manage")
        form = actions.do_create_form(self.membership, app, **data)
        return Response(s.FormSerializer(form).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(s.FormSerializer(access_form(self.membership, pk)).data)

    @extend_schema(request=s.FormUpdateSerializer, responses=s.FormSerializer)
    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        form = access_form(self.membership, pk, "manage")
        data = _parse(s.FormUpdateSerializer, request)
        form = actions.do_update_form(self.membership, form, **data)
        return Response(s.FormSerializer(form).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        actions.do_delete_form(
            self.membership, access_form(self.membership, pk, "manage"), ip=self.ip
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: s.VersionSerializer, 201: s.VersionSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, org_id: int, pk: str) -> Response:
        """Publish the draft as a new version (200 with the current one if nothing changed)."""
        form = access_form(self.membership, pk, "manage")
        version, created = actions.do_publish_form(self.membership, form, ip=self.ip)
        return Response(
            s.VersionSerializer(version).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(responses=s.VersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, org_id: int, pk: str) -> Response:
        form = access_form(self.membership, pk)
        return Response(s.VersionSerializer(form.versions.all(), many=True).data)


_RECORD_LIST_PARAMS = [
    OpenApiParameter("form", OpenApiTypes.INT, required=True),
    OpenApiParameter(
        "filter",
        OpenApiTypes.STR,
        description='JSON list of conditions: [{"field": "batch", "op": "eq", "value": "B1"}]. '
        "Operators: eq, contains, gte, lte, range ([low, high]), in (list), empty, not_empty.",
    ),
    OpenApiParameter("sort", OpenApiTypes.STR, description="A field key, '-' for descending."),
    OpenApiParameter("cursor", OpenApiTypes.STR),
    OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 200 (default 50)."),
    OpenApiParameter("deleted", OpenApiTypes.BOOL, description="List deleted records instead."),
]


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit") or selectors.DEFAULT_PAGE
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise ValidationFailed("Invalid limit.", fields={"limit": ["Expected 1 to 200."]}) from None
    if not 1 <= limit <= selectors.MAX_PAGE:
        raise ValidationFailed("Invalid limit.", fields={"limit": ["Expected 1 to 200."]})
    return limit


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python accepts them, JSON does not


def _filters(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise ValidationFailed(
            "The filter is not valid JSON.", fields={"filter": ["Invalid JSON."]}
        ) from None


class RecordViewSet(OrgScopedViewSet):
    """Records of a form: filters, sort, keyset pages, change history, soft delete."""

    queryset = Record.objects.all()
    serializer_class = s.RecordSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scope = "lowcode:record"
    pagination_class = None

    @extend_schema(parameters=_RECORD_LIST_PARAMS, responses=s.RecordPageSerializer)
    def list(self, request: Request, org_id: int) -> Response:
        form = access_form(self.membership, _query_id(request, "form"))
        deleted = request.query_params.get("deleted") in ("1", "true", "True")
        levels = form.app._levels  # type: ignore[attr-defined]
        if deleted and "manage" not in levels:
            deleted = False
        page = selectors.records_query(
            self.membership,
            form,
            filters=_filters(request.query_params.get("filter")),
            sort=request.query_params.get("sort", "")[:41],
            cursor=request.query_params.get("cursor", "")[:500],
            limit=_limit(request),
            deleted=deleted,
            levels=levels,
        )
        body = {"results": page.records, "next_cursor": page.next_cursor}
        return Response(s.RecordPageSerializer(body).data)

    @extend_schema(
        request=s.RecordCreateSerializer,
        responses={200: s.RecordSerializer, 201: s.RecordSerializer},
    )
    def create(self, request: Request, org_id: int) -> Response:
        """Create a record. A repeated ``idempotency_key`` answers 200 with the first record."""
        data = _parse(s.RecordCreateSerializer, request)
        form = access_form(self.membership, data["form"])
        record, created = actions.do_create_record(
            self.membership,
            form,
            data["data"],
            idempotency_key=data.get("idempotency_key", ""),
            source=Record.Source.API,
        )
        return Response(
            s.RecordSerializer(record).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(s.RecordSerializer(access_record(self.membership, pk)).data)

    @extend_schema(request=s.RecordUpdateSerializer, responses=s.RecordSerializer)
    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        """Change some fields; the rest keep their values."""
        record = access_record(self.membership, pk)
        data = _parse(s.RecordUpdateSerializer, request)
        record = actions.do_update_record(self.membership, record, data["data"])
        return Response(s.RecordSerializer(record).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        """Move to the bin; ``restore`` brings it back."""
        actions.do_delete_record(self.membership, access_record(self.membership, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.RecordSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, org_id: int, pk: str) -> Response:
        record = access_record(self.membership, pk, deleted=True)
        return Response(s.RecordSerializer(actions.do_restore_record(self.membership, record)).data)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path=r"files/(?P<file_id>\d+)")
    def file(self, request: Request, org_id: int, pk: str, file_id: str) -> FileResponse:
        """A file of an attachment or image field, for anyone who may see the record."""
        from im.api.views import attachment_response

        record = access_record(self.membership, pk)
        return attachment_response(selectors.record_file(record, file_id))

    @extend_schema(responses=s.RecordChangeSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request: Request, org_id: int, pk: str) -> Response:
        record = access_record(self.membership, pk)
        return Response(s.RecordChangeSerializer(selectors.record_history(record), many=True).data)


class LookupViewSet(OrgScopedViewSet):
    """Saved lookups: type one value, see every matching record."""

    queryset = LookupPage.objects.all()
    serializer_class = s.LookupSerializer
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("app", OpenApiTypes.INT, required=True)],
        responses=s.LookupSerializer(many=True),
    )
    def list(self, request: Request, org_id: int) -> Response:
        app = access_app(self.membership, _query_id(request, "app"), "view_all")
        return Response(s.LookupSerializer(app.lookups.all(), many=True).data)

    @extend_schema(request=s.LookupWriteSerializer, responses={201: s.LookupSerializer})
    def create(self, request: Request, org_id: int) -> Response:
        data = _parse(s.LookupWriteSerializer, request)
        form = access_form(self.membership, data.pop("form"), "manage")
        lookup = actions.do_save_lookup(self.membership, form, **data)
        return Response(s.LookupSerializer(lookup).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(s.LookupSerializer(access_lookup(self.membership, pk)).data)

    @extend_schema(request=s.LookupWriteSerializer, responses=s.LookupSerializer)
    def update(self, request: Request, org_id: int, pk: str) -> Response:
        lookup = access_lookup(self.membership, pk, "manage")
        data = _parse(s.LookupWriteSerializer, request)
        form = access_form(self.membership, data.pop("form"), "manage")
        lookup = actions.do_save_lookup(self.membership, form, lookup=lookup, **data)
        return Response(s.LookupSerializer(lookup).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        actions.do_delete_lookup(self.membership, access_lookup(self.membership, pk, "manage"))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True),
            OpenApiParameter("cursor", OpenApiTypes.STR),
        ],
        responses=s.RecordPageSerializer,
    )
    @action(detail=True, methods=["get"])
    def run(self, request: Request, org_id: int, pk: str) -> Response:
        """Every record whose input field matches ``q``, newest first."""
        lookup = access_lookup(self.membership, pk)
        page = selectors.run_lookup(
            self.membership,
            lookup,
            request.query_params.get("q", ""),
            cursor=request.query_params.get("cursor", "")[:500],
        )
        return Response(
            s.RecordPageSerializer({"results": page.records, "next_cursor": page.next_cursor}).data
        )
