"""The public fill page at ``/f/<token>/``: a plain HTML form, no script, no account.

GET shows the form's public fields (``?<key>=<value>`` pre-fills, the link's own
pre-filled values are fixed); POST validates on the server and shows per-field errors,
or redirects to the thank-you page.
"""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.errors import Conflict, NotFound, ValidationFailed
from core.views import OrgRequest, client_ip
from lowcode.models import PublicLink
from lowcode.public import (
    RateLimited,
    do_submit_public,
    get_open_link,
    link_state,
    public_fields,
)
from lowcode.registries import field_type_registry

_INPUT_TYPES = {
    "text": "text",
    "phone": "tel",
    "email": "email",
    "scanned_code": "text",
    "number": "number",
    "money": "text",
    "date": "date",
    "datetime": "datetime-local",
}


def _posted_data(fields: list[dict[str, Any]], post: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for definition in fields:
        key, kind = definition["key"], definition["type"]
        options = definition.get("options", {})
        ftype = field_type_registry.get(kind)
        if kind == "multi_select":
            chosen = [v for v in post.getlist(key) if v]
            if chosen:
                data[key] = chosen
        elif kind == "checkbox":
            if post.get(key):
                data[key] = True
        else:
            text = (post.get(key) or "").strip()
            if text:
                data[key] = ftype.parse_text(options, text) if kind != "date" else text
    return data


def _widgets(
    fields: list[dict[str, Any]],
    link: PublicLink,
    values: dict[str, Any],
    errors: dict[str, list[str]],
) -> list[dict[str, Any]]:
    widgets = []
    for definition in fields:
        key, kind = definition["key"], definition["type"]
        fixed = key in link.prefill
        value = link.prefill.get(key) if fixed else values.get(key)
        ftype = field_type_registry.get(kind)
        display = ftype.display(definition.get("options", {}), value) if fixed else None
        if kind == "money" and isinstance(value, dict) and not fixed:
            value = ftype.display(definition.get("options", {}), value).split(" ")[0]
        chosen = value if isinstance(value, list) else [value]
        widgets.append(
            {
                "key": key,
                "type": kind,
                "label": definition["label"],
                "help": definition.get("help", ""),
                "placeholder": definition.get("placeholder", ""),
                "required": bool(definition.get("required")),
                "input_type": _INPUT_TYPES.get(kind, "text"),
                "choices": [
                    {**c, "selected": c["id"] in chosen}
                    for c in definition.get("options", {}).get("choices", [])
                ],
                "unit": definition.get("options", {}).get("unit", "")
                or definition.get("options", {}).get("currency", ""),
                "value": "" if value is None or isinstance(value, list | dict | bool) else value,
                "checked": value is True,
                "fixed": fixed,
                "display": display,
                "errors": [
                    m
                    for path, msgs in errors.items()
                    if path == key or path.startswith((f"{key}.", f"{key}["))
                    for m in msgs
                ],
            }
        )
    return widgets


def _page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, "lowcode/public_fill.html", context, status=status)


@require_http_methods(["GET", "POST"])
def public_fill(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = get_open_link(token)
    except NotFound as exc:
        return _page(request, {"state": "closed", "error": exc.message}, status=404)
    cast(OrgRequest, request).org = link.org  # the page wears the organisation's brand
    form = link.form
    if link_state(link) == "full":
        message = _("This form has received all the answers it asked for.")
        return _page(request, {"state": "closed", "error": message, "form": form}, status=409)
    fields = public_fields(form.published_version.fields)  # type: ignore[union-attr]
    errors: dict[str, list[str]] = {}
    message = ""
    status = 200
    if request.method == "POST":
        values = _posted_data(fields, request.POST)
        try:
            do_submit_public(token, values, client_ip(request))
        except ValidationFailed as exc:
            errors, message, status = exc.fields, exc.message, 400
        except (RateLimited, Conflict, NotFound) as exc:
            return _page(
                request, {"state": "closed", "error": exc.message, "form": form}, status=exc.status
            )
        else:
            return redirect("lowcode_public:thanks", token=token)
    else:
        values = {}
        for definition in fields:
            raw = request.GET.get(definition["key"], "")[:500]
            if raw:
                ftype = field_type_registry.get(definition["type"])
                values[definition["key"]] = ftype.parse_text(definition.get("options", {}), raw)
    context = {
        "state": "form",
        "form": form,
        "link": link,
        "fields": _widgets(fields, link, values, errors),
        "error": message,
        "other_errors": {
            k: v
            for k, v in errors.items()
            if k.split(".")[0].split("[")[0] not in {f["key"] for f in fields}
        },
    }
    return _page(request, context, status=status)


@require_http_methods(["GET"])
def public_thanks(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = get_open_link(token)
    except NotFound:
        return _page(request, {"state": "thanks"})
    cast(OrgRequest, request).org = link.org
    return _page(request, {"state": "thanks", "form": link.form, "link": link})
