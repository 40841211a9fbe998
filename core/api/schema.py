"""OpenAPI extensions: teaches drf-spectacular about Tack's bearer tokens."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "core.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`tack_…`) from /api/v1/me/tokens/.",
        }


ERROR_STATUSES = {
    "400": "Invalid input: `fields` says what is wrong with each field.",
    "401": "Not authenticated: missing, wrong, expired or revoked credentials.",
    "403": "Authenticated, but not allowed to do this.",
    "404": "Not found, or not yours: the two answer the same.",
    "405": "Method not allowed on this path.",
    "409": "Conflicts with the current state (a used token, the last owner, a duplicate).",
    "413": "The request or an uploaded file is too large.",
    "415": "Unsupported media type.",
    "429": "Too many requests; `Retry-After` says when to try again.",
}

ERROR_ENVELOPE = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code."},
                "message": {"type": "string", "description": "For people, in their language."},
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Per-field messages for invalid input.",
                },
            },
        }
    },
}


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation documents the error envelope."""
    result.setdefault("components", {}).setdefault("schemas", {})["ErrorEnvelope"] = ERROR_ENVELOPE
    reference = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
