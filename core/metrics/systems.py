"""What counts as a business system, and which one a request used.

A business system is one of (see docs/METRICS.md):

- ``lowcode_app:<id>``: a low-code app whose forms, records, lookups or reports were used;
- ``app:<installation id>``: an installed marketplace app (its calls with an app token, and
  members opening it);
- ``connection:<id>``: a connector connection in use (a sync ran, or its data was viewed).

The built-in chat is recorded as ``chat``: it makes a member active but is not a business
system unless ``settings.TACK_METRICS_CHAT_IS_SYSTEM`` is true. Keys starting ``data:`` are
use markers ("data from connection N was viewed"), read by the deep-integration rule, and
never count as systems.

Resolvers map a resolved URL to keys. They run after the view, at most once a minute per
member (the recorder's local dedup decides first), and cache their small lookups in-process.
Other apps may append resolvers to ``SYSTEM_RESOLVERS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import ResolverMatch

CHAT = "chat"
DATA_PREFIX = "data:"


def lowcode_app(app_id: int) -> str:
    return f"lowcode_app:{app_id}"


def marketplace_app(installation_id: int) -> str:
    return f"app:{installation_id}"


def connection(connection_id: int) -> str:
    return f"connection:{connection_id}"


def connection_data_used(connection_id: int) -> str:
    return f"{DATA_PREFIX}connection:{connection_id}"


def chat_is_system() -> bool:
    return bool(getattr(settings, "TACK_METRICS_CHAT_IS_SYSTEM", False))


def is_business_system(key: str) -> bool:
    if key.startswith(DATA_PREFIX):
        return False
    if key == CHAT:
        return chat_is_system()
    return True


def business_systems(keys: Iterable[str]) -> list[str]:
    return sorted({k for k in keys if is_business_system(k)})


def data_connections(keys: Iterable[str]) -> set[int]:
    """Connection ids whose data a day's markers say was used."""
    prefix = connection_data_used(0)[:-1]
    out: set[int] = set()
    for key in keys:
        if key.startswith(prefix):
            try:
                out.add(int(key[len(prefix) :]))
            except ValueError:
                continue
    return out


class _Lookup:
    """A small in-process cache of id lookups (ids never change owner), bounded and aged."""

    def __init__(self, fetch: Callable[[int], Any], ttl: float = 300.0, size: int = 20000):
        self.fetch, self.ttl, self.size = fetch, ttl, size
        self.data: dict[int, tuple[float, Any]] = {}

    def __call__(self, pk: Any) -> Any:
        try:
            key = int(pk)
        except (TypeError, ValueError):
            return None
        now = time.monotonic()
        hit = self.data.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = self.fetch(key)
        if len(self.data) >= self.size:
            self.data.clear()
        self.data[key] = (now, value)
        return value

    def clear(self) -> None:
        self.data.clear()


def _first_id(qs: Any) -> int | None:
    found = qs.first()
    return int(found) if found is not None else None


def _form_app(pk: int) -> int | None:
    from lowcode.models import Form

    return _first_id(Form.objects.filter(pk=pk).values_list("app_id", flat=True))


def _record_form(pk: int) -> tuple[int, int] | None:
    from lowcode.models import Record

    found = Record.objects.filter(pk=pk).values_list("form__app_id", "form_id").first()
    return (int(found[0]), int(found[1])) if found else None


def _lookup_app(pk: int) -> int | None:
    from lowcode.models import LookupPage

    return _first_id(LookupPage.objects.filter(pk=pk).values_list("app_id", flat=True))


def _report_app(pk: int) -> int | None:
    from lowcode.models import Report

    return _first_id(Report.objects.filter(pk=pk).values_list("app_id", flat=True))


def _approval_record(pk: int) -> int | None:
    from lowcode.models import ApprovalInstance

    return _first_id(ApprovalInstance.objects.filter(pk=pk).values_list("record_id", flat=True))


def _record_connections(pk: int) -> list[int]:
    from connectors.models import SyncedRecord

    return sorted(
        set(
            SyncedRecord.objects.filter(record_id=pk).values_list(
                "destination__connection_id", flat=True
            )
        )
    )


def _form_connections(pk: int) -> list[int]:
    from connectors.models import Destination

    return sorted(
        set(Destination.objects.filter(form_id=pk).values_list("connection_id", flat=True))
    )


def _conversation_connections(pk: int) -> list[int]:
    from connectors.models import Destination

    return sorted(
        set(Destination.objects.filter(conversation_id=pk).values_list("connection_id", flat=True))
    )


def _run_connection(pk: int) -> int | None:
    from connectors.models import SyncRun

    return _first_id(SyncRun.objects.filter(pk=pk).values_list("connection_id", flat=True))


def _installation_of_app_member(pk: int) -> int | None:
    from marketplace.models import Installation

    return _first_id(Installation.objects.filter(app_member_id=pk).values_list("id", flat=True))


form_app = _Lookup(_form_app)
record_form = _Lookup(_record_form)
lookup_app = _Lookup(_lookup_app)
report_app = _Lookup(_report_app)
approval_record = _Lookup(_approval_record)
record_connections = _Lookup(_record_connections)
form_connections = _Lookup(_form_connections)
conversation_connections = _Lookup(_conversation_connections)
run_connection = _Lookup(_run_connection)
installation_of_app_member = _Lookup(_installation_of_app_member)
LOOKUPS = [
    form_app,
    record_form,
    lookup_app,
    report_app,
    approval_record,
    record_connections,
    form_connections,
    conversation_connections,
    run_connection,
    installation_of_app_member,
]


def clear_lookups() -> None:
    for lookup in LOOKUPS:
        lookup.clear()
    _listing_installs.clear()


def _record_keys(record_pk: Any) -> list[str]:
    keys: list[str] = []
    found = record_form(record_pk)
    if found:
        keys.append(lowcode_app(found[0]))
    for conn in record_connections(record_pk) or []:
        keys += [connection(conn), connection_data_used(conn)]
    return keys


def _form_keys(form_pk: Any, *, data: bool) -> list[str]:
    keys: list[str] = []
    app = form_app(form_pk)
    if app:
        keys.append(lowcode_app(app))
    if data:
        for conn in form_connections(form_pk) or []:
            keys += [connection(conn), connection_data_used(conn)]
    return keys


def lowcode_systems(request: HttpRequest, match: ResolverMatch) -> list[str]:
    name, kw = match.url_name or "", match.kwargs
    if match.namespace == "lowcode":  # web pages
        if "app_id" in kw:
            return [lowcode_app(kw["app_id"])]
        if "form_id" in kw:
            return _form_keys(kw["form_id"], data=name == "records")
        if "lookup_id" in kw:
            app = lookup_app(kw["lookup_id"])
            return [lowcode_app(app)] if app else []
        return []
    if not name.startswith("lowcode-"):
        return []
    pk = kw.get("pk")
    if name.startswith("lowcode-app-") and pk is not None:
        return [lowcode_app(pk)] if str(pk).isdigit() else []
    if name.startswith("lowcode-form-") and pk is not None:
        return _form_keys(pk, data=False)
    if name.startswith("lowcode-record-"):
        if pk is not None:
            return _record_keys(pk)
        form = request.GET.get("form")
        return _form_keys(form, data=True) if form else []
    if name.startswith("lowcode-lookup-") and pk is not None:
        app = lookup_app(pk)
        return [lowcode_app(app)] if app else []
    if name.startswith("lowcode-report-") and pk is not None:
        app = report_app(pk)
        return [lowcode_app(app)] if app else []
    if name.startswith("lowcode-approval-") and pk is not None:
        record = approval_record(pk)
        return _record_keys(record) if record else []
    return []


def connector_systems(request: HttpRequest, match: ResolverMatch) -> list[str]:
    name, kw = match.url_name or "", match.kwargs
    if match.namespace == "connectors" and "connection_id" in kw:
        return [connection(kw["connection_id"])]
    if name.startswith("connector-connection-") and str(kw.get("pk", "")).isdigit():
        return [connection(kw["pk"])]
    if name.startswith("connector-run-") and kw.get("pk") is not None:
        conn = run_connection(kw["pk"])
        return [connection(conn)] if conn else []
    return []


_CHAT_NAMES = ("conversation-", "message-", "unread-", "event-", "attachment-", "search-")


def chat_systems(request: HttpRequest, match: ResolverMatch) -> list[str]:
    name, kw = match.url_name or "", match.kwargs
    if match.namespace == "im" or name.startswith(_CHAT_NAMES):
        keys = [CHAT]
        if name.startswith("conversation-") and kw.get("pk") is not None:
            for conn in conversation_connections(kw["pk"]) or []:
                keys += [connection(conn), connection_data_used(conn)]
        return keys
    return []


_listing_installs: dict[tuple[int, str], tuple[float, int | None]] = {}


def _installation_of_listing(org_id: int, app_id: str) -> int | None:
    """The organisation's active installation of the catalogue app ``app_id`` (cached)."""
    from marketplace.models import Installation

    now = time.monotonic()
    hit = _listing_installs.get((org_id, app_id))
    if hit is not None and now - hit[0] < 300:
        return hit[1]
    found = (
        Installation.objects.filter(org_id=org_id, app__app_id=app_id, status="active")
        .values_list("id", flat=True)
        .first()
    )
    if len(_listing_installs) > 20000:
        _listing_installs.clear()
    _listing_installs[(org_id, app_id)] = (now, found)
    return found


def marketplace_systems(request: HttpRequest, match: ResolverMatch) -> list[str]:
    """Members opening an installed app: its page in the organisation's marketplace, its
    installation in the API, or any page naming an installation."""
    name, kw = match.url_name or "", match.kwargs
    installation = kw.get("installation_id")
    if name.startswith("marketplace-installation-"):
        installation = kw.get("pk")
    if installation is not None and str(installation).isdigit():
        return [marketplace_app(int(installation))]
    if match.namespace == "marketplace" and name == "app" and "org_id" in kw:
        found = _installation_of_listing(int(kw["org_id"]), str(kw.get("app_id", ""))[:200])
        return [marketplace_app(found)] if found else []
    return []


SYSTEM_RESOLVERS: list[Callable[[HttpRequest, ResolverMatch], list[str]]] = [
    lowcode_systems,
    connector_systems,
    chat_systems,
    marketplace_systems,
]


def systems_for_request(request: HttpRequest) -> list[str]:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return []
    keys: list[str] = []
    for resolver in SYSTEM_RESOLVERS:
        keys.extend(resolver(request, match))
    return keys
