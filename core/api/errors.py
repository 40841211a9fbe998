"""One place that turns every error into the JSON envelope.

``{"error": {"code": "...", "message": "...", "fields": {...}}}``
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import TackError

logger = logging.getLogger("tack.api")

_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "malformed_request",
}


def envelope(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any) -> Any:
    """DRF ErrorDetail trees → plain lists of strings per field."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(d, dict | list) for d in detail):
            return [str(d) for d in detail]
        return [_flatten(d) for d in detail]
    return [str(detail)]


def _validation_response(exc: exceptions.ValidationError) -> Response:
    detail = exc.detail
    fields: dict[str, Any]
    if isinstance(detail, dict):
        fields = _flatten(detail)
        non_field = fields.pop("non_field_errors", None)
        message = non_field[0] if non_field else "Please correct the highlighted fields."
        if non_field:
            fields["non_field_errors"] = non_field
    else:
        messages = _flatten(detail)
        fields = {}
        message = messages[0] if messages else "Invalid input."
    return Response(envelope("invalid", message, fields), status=400)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER. Never returns None: unexpected errors become a 500 envelope."""
    if isinstance(exc, TackError):
        set_rollback()
        return Response(envelope(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return _validation_response(exc)
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        codes = exc.get_codes()
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        code = code or (codes if isinstance(codes, str) else "error")
        message = str(exc.detail) if not isinstance(exc.detail, list | dict) else "Request failed."
        return Response(envelope(str(code), message), status=exc.status_code, headers=headers)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            envelope("too_large", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):
        return Response(envelope("bad_request", "Bad request."), status=400)
    set_rollback()
    logger.exception("Unhandled API error", exc_info=exc)
    return Response(
        envelope("server_error", "Something went wrong on our side. It has been logged."),
        status=500,
    )


# --- Django-level handlers (URLs that never reach a DRF view) --------------------------------


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(envelope("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404(), template_name="core/404.html")


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(envelope("too_large", "The request body is too large."), status=413)
    if _is_api(request):
        return JsonResponse(envelope("bad_request", "Bad request."), status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception or SuspiciousOperation())


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(envelope("forbidden", "Forbidden."), status=403)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception or DjangoPermissionDenied())


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            envelope("server_error", "Something went wrong on our side. It has been logged."),
            status=500,
        )
    from django.views.defaults import server_error

    return server_error(request, template_name="core/500.html")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _is_api(request):
        return JsonResponse(envelope("csrf_failed", f"CSRF check failed: {reason}"), status=403)
    from django.views.csrf import csrf_failure as default

    return default(request, reason)
