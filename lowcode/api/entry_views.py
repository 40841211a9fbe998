"""Data entry and exchange: imports, exports, entry links with QR codes, public links."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import OrgScopedViewSet
from core.api.fields import IdField
from core.errors import NotFound, ValidationFailed
from lowcode import exports, imports, public, qr
from lowcode.access import access_form
from lowcode.api.views import _filters, _query_id
from lowcode.models import Form, ImportJob, PublicLink

# --- serializers ---------------------------------------------------------------------------


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    form_id = serializers.IntegerField(read_only=True)
    state = serializers.CharField(
        read_only=True,
        help_text=(
            "pending, running, done (see the counts and errors) or failed. A running import "
            "that made no progress for 10 minutes is shown as failed (its worker stopped)."
        ),
    )
    errors = serializers.ListField(child=serializers.DictField(), read_only=True)  # type: ignore[assignment]

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "form_id",
            "file_name",
            "state",
            "total_rows",
            "processed_rows",
            "created_count",
            "error_count",
            "errors",
            "message",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportCreateSerializer(serializers.Serializer[Any]):
    form = IdField()
    file = serializers.FileField(allow_empty_file=False, max_length=200)


class EntryCodeSerializer(serializers.Serializer[Any]):
    value = serializers.CharField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]
    url = serializers.URLField()
    qr_png = serializers.URLField()
    qr_svg = serializers.URLField()


class EntrySerializer(serializers.Serializer[Any]):
    url = serializers.URLField()
    qr_png = serializers.URLField()
    qr_svg = serializers.URLField()
    per_value = EntryCodeSerializer(many=True)


class PublicLinkSerializer(serializers.ModelSerializer[PublicLink]):
    form_id = serializers.IntegerField(read_only=True)
    prefill = serializers.DictField(read_only=True)
    state = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(
        help_text="The link itself: returned once, when the link is created; null afterwards."
    )

    class Meta:
        model = PublicLink
        fields = [
            "id",
            "form_id",
            "name",
            "prefix",
            "prefill",
            "max_submissions",
            "submission_count",
            "state",
            "url",
            "created_at",
            "expires_at",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_state(self, link: PublicLink) -> str:
        return public.link_state(link)

    def get_url(self, link: PublicLink) -> str | None:
        url: str | None = self.context.get("url")
        return url


class PublicLinkCreateSerializer(serializers.Serializer[Any]):
    form = IdField()
    name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    expires_at = serializers.DateTimeField(required=False)
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=365)
    max_submissions = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000
    )
    prefill = serializers.DictField(required=False)


def _parse(serializer_class: Any, request: Request) -> dict[str, Any]:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    validated: dict[str, Any] = data.validated_data
    return validated


# --- imports -------------------------------------------------------------------------------


class ImportViewSet(OrgScopedViewSet):
    """CSV/XLSX imports: start one, then poll it for progress and the per-row error report."""

    queryset = ImportJob.objects.all()
    serializer_class = ImportJobSerializer
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("form", OpenApiTypes.INT, required=True)],
        responses=ImportJobSerializer(many=True),
    )
    def list(self, request: Request, org_id: int) -> Response:
        """The form's 50 most recent imports, newest first."""
        form = access_form(self.membership, _query_id(request, "form"), "manage")
        return Response(
            ImportJobSerializer(imports.imports_for(self.membership, form), many=True).data
        )

    @extend_schema(
        request={"multipart/form-data": ImportCreateSerializer},
        responses={202: ImportJobSerializer},
    )
    def create(self, request: Request, org_id: int) -> Response:
        """Upload a .csv or .xlsx file (row 1: field labels or keys); 202 with the job.

        Poll the job until ``state`` is ``done`` or ``failed``. Rows with errors are
        skipped and listed in ``errors``; the others are imported. Importing the same
        file again imports its rows again.
        """
        data = _parse(ImportCreateSerializer, request)
        form = access_form(self.membership, data["form"], "manage")
        job = imports.do_start_import(self.membership, form, data["file"])
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(ImportJobSerializer(imports.access_import(self.membership, pk)).data)


# --- forms: export, entry codes ------------------------------------------------------------


def stream_for(request: Request, chunks: Iterator[bytes]) -> Iterator[bytes] | AsyncIterator[bytes]:
    """Chunks as the server wants them: an async iterator under ASGI, else as they are.

    Under ASGI Django would otherwise read a sync iterator to the end before sending
    anything. Each chunk is produced in the thread that owns the database connection.
    """
    if not isinstance(request._request, ASGIRequest):
        return chunks
    step = sync_to_async(lambda: next(chunks, None), thread_sensitive=True)

    async def chunked() -> AsyncIterator[bytes]:
        while (chunk := await step()) is not None:
            yield chunk

    return chunked()


def _binary(content_type: str) -> dict[Any, Any]:
    return {(200, content_type): OpenApiResponse(OpenApiTypes.BINARY)}


class FormEntryViewSet(OrgScopedViewSet):
    """A form's file export, its entry URL and QR codes."""

    queryset = Form.objects.all()
    serializer_class = EntrySerializer
    pagination_class = None

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Files answer whatever the client accepts; errors still render as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="lowcode_forms_export",
        parameters=[
            OpenApiParameter(
                "as",
                OpenApiTypes.STR,
                enum=list(exports.FORMATS),
                description="csv (default) or xlsx.",
            ),
            OpenApiParameter(
                "filter", OpenApiTypes.STR, description="The same JSON filter as the record list."
            ),
            OpenApiParameter(
                "sort", OpenApiTypes.STR, description="A field key, '-' for descending."
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, exports.CONTENT_TYPES["xlsx"]): OpenApiResponse(OpenApiTypes.BINARY),
        },
    )
    def export(self, request: Request, org_id: int, pk: str) -> HttpResponseBase:
        """The records the caller's record list shows (same filter and sort), as a file.

        Header: field labels, then #, created by, created at. At most 100,000 records.
        """
        form = access_form(self.membership, pk)
        kind = request.query_params.get("as") or request.query_params.get("format") or "csv"
        if kind not in exports.FORMATS:
            raise ValidationFailed("Export as csv or xlsx.", fields={"as": ["Use csv or xlsx."]})
        export = exports.check_export(
            self.membership,
            form,
            filters=_filters(request.query_params.get("filter")),
            sort=request.query_params.get("sort", "")[:41],
        )
        name = exports.file_name(form, kind)
        chunks = exports.xlsx_chunks(export) if kind == "xlsx" else exports.csv_chunks(export)
        response = StreamingHttpResponse(
            stream_for(request, chunks), content_type=exports.CONTENT_TYPES[kind]
        )
        response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(operation_id="lowcode_forms_entry", responses=EntrySerializer)
    def entry(self, request: Request, org_id: int, pk: str) -> Response:
        """The form's entry URL and QR codes; one per choice when the form has a QR field."""
        form = access_form(self.membership, pk)
        entries = qr.form_entries(form, request)

        def images(entry: qr.Entry) -> dict[str, str]:
            query = f"?value={entry.value}" if entry.value else ""
            urls = {}
            for kind in ("png", "svg"):
                path = reverse(
                    f"lowcode-form-qr-{kind}", kwargs={"org_id": form.org_id, "pk": form.pk}
                )
                urls[f"qr_{kind}"] = request.build_absolute_uri(path + query)
            return urls

        body = {
            "url": entries[0].url,
            **images(entries[0]),
            "per_value": [
                {"value": e.value, "label": e.label, "url": e.url, **images(e)} for e in entries[1:]
            ],
        }
        return Response(EntrySerializer(body).data)

    def _image(self, request: Request, pk: str, kind: str) -> HttpResponse:
        form = access_form(self.membership, pk)
        value = request.query_params.get("value", "")[:40] or None
        entry = qr.entry_for_value(form, value, request)
        if entry is None:
            raise NotFound("No entry code for this value.")
        if kind == "png":
            body, content_type = qr.qr_png(entry.url), "image/png"
        else:
            body, content_type = qr.qr_svg(entry.url), "image/svg+xml"
        response = HttpResponse(body, content_type=content_type)
        response["Cache-Control"] = "private, max-age=300"
        disposition = content_disposition_header(
            False, f"{form.name}-{entry.value or 'form'}.{kind}"
        )
        response["Content-Disposition"] = disposition or "inline"
        return response

    _VALUE = OpenApiParameter(
        "value",
        OpenApiTypes.STR,
        description="A choice id of the form's QR field (omit: the form).",
    )

    @extend_schema(
        operation_id="lowcode_forms_qr_png", parameters=[_VALUE], responses=_binary("image/png")
    )
    def qr_png(self, request: Request, org_id: int, pk: str) -> HttpResponse:
        """The entry QR code as a PNG image."""
        return self._image(request, pk, "png")

    @extend_schema(
        operation_id="lowcode_forms_qr_svg", parameters=[_VALUE], responses=_binary("image/svg+xml")
    )
    def qr_svg(self, request: Request, org_id: int, pk: str) -> HttpResponse:
        """The entry QR code as an SVG image."""
        return self._image(request, pk, "svg")


# --- public links --------------------------------------------------------------------------


class PublicLinkViewSet(OrgScopedViewSet):
    """Links people outside the organisation can fill in; the URL is shown once."""

    queryset = PublicLink.objects.all()
    serializer_class = PublicLinkSerializer
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("form", OpenApiTypes.INT, required=True)],
        responses=PublicLinkSerializer(many=True),
    )
    def list(self, request: Request, org_id: int) -> Response:
        form = access_form(self.membership, _query_id(request, "form"), "manage")
        links = public.public_links_for(self.membership, form)
        return Response(PublicLinkSerializer(links, many=True).data)

    @extend_schema(request=PublicLinkCreateSerializer, responses={201: PublicLinkSerializer})
    def create(self, request: Request, org_id: int) -> Response:
        """Create a link (default expiry 7 days, at most 365). ``url`` is only returned now."""
        data = _parse(PublicLinkCreateSerializer, request)
        form = access_form(self.membership, data.pop("form"), "manage")
        link, token = public.do_create_public_link(self.membership, form, ip=self.ip, **data)
        context = {"url": public.link_url(token, request)}
        return Response(
            PublicLinkSerializer(link, context=context).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        """Revoke the link: it answers 404 from now on."""
        link = public.access_public_link(self.membership, pk)
        public.do_revoke_public_link(self.membership, link, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)
