"""The generic REST/JSON connector against a real HTTP server on 127.0.0.1.

The server (``http.server`` in a thread) pages the same catalogue four ways (page number,
offset, cursor token, Link header), guards copies of it with Basic, a header token and
OAuth2 client credentials, and answers 429, 500, non-JSON and the wrong shape on purpose.
Every stream is synced into a form through the real engine.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.actions import (
    do_check_connection,
    do_create_connection,
    do_create_form_from_stream,
    do_request_sync,
)
from connectors.models import StreamState, SyncedRecord, SyncRun
from connectors.registries import (
    ConfigError,
    SourceSystemError,
    TransientError,
    connector_registry,
)
from connectors.sync import run_sync
from lowcode.actions import do_create_app
from lowcode.models import Record

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


class Api:
    """The fake system's data and what it saw."""

    def __init__(self) -> None:
        self.items = [
            {
                "id": i,
                "name": f"Item {i:02d}",
                "price": i * 1.5,
                "active": i % 2 == 0,
                "updated": i,
                "owner": {"name": f"Owner {i % 3}"},
            }
            for i in range(1, 24)
        ]
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.requests: list[str] = []


def _handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            expected = "Basic " + base64.b64encode(b"client-1:s3cret").decode()
            if self.path != "/oauth/token" or form.get("grant_type") != ["client_credentials"]:
                return self._send(400, {"error": "unsupported_grant_type"})
            if self.headers.get("Authorization") != expected:
                return self._send(401, {"error": "invalid_client"})
            api.token_requests += 1
            token = f"tok-{api.token_requests}"
            api.tokens = {token}
            return self._send(200, {"access_token": token, "token_type": "Bearer"})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            api.requests.append(self.path)
            prefix, _, rest = parts.path.strip("/").partition("/")
            items = sorted(api.items, key=lambda r: (r["updated"], r["id"]))
            if "updated_since" in query:
                items = [r for r in items if r["updated"] >= int(query["updated_since"])]
            auth = self.headers.get("Authorization", "")
            if prefix == "basic" and auth != "Basic " + base64.b64encode(b"ann:pw").decode():
                return self._send(401, {"error": "who are you"})
            if prefix == "header" and self.headers.get("X-Api-Key") != "k-123":
                return self._send(403, {"error": "no key"})
            if prefix == "oauth" and auth.removeprefix("Bearer ") not in api.tokens:
                return self._send(401, {"error": "invalid_token"})
            if prefix == "busy":
                return self._send(429, {"error": "slow down"}, {"Retry-After": "7"})
            if prefix == "broken":
                return self._send(500, {"error": "boom"})
            if prefix == "notjson":
                return self._send(200, b"<html>hello</html>")
            if prefix == "notlist":
                return self._send(200, {"data": {"items": 5}})
            if rest != "items":
                return self._send(404, {"error": "no such path"})
            if prefix in ("page", "basic", "header", "oauth"):
                page, size = int(query.get("page", 1)), int(query.get("per_page", 10))
                chunk = items[(page - 1) * size : page * size]
                return self._send(200, {"data": {"items": chunk}})
            if prefix == "offset":
                offset, limit = int(query.get("offset", 0)), int(query.get("limit", 10))
                return self._send(200, {"results": items[offset : offset + limit]})
            if prefix == "cursor":
                start, limit = int(query.get("cursor", 0)), int(query.get("limit", 10))
                chunk = items[start : start + limit]
                following = str(start + limit) if start + limit < len(items) else None
                return self._send(200, {"items": chunk, "meta": {"next": following}})
            if prefix == "link":
                page = int(query.get("page", 1))
                chunk = items[(page - 1) * 10 : page * 10]
                headers = {}
                if page * 10 < len(items):
                    headers["Link"] = f'</link/items?page={page + 1}>; rel="next"'
                return self._send(200, chunk, headers)
            return self._send(404, {"error": "no such path"})

    return Handler


@pytest.fixture
def api(settings):
    settings.TACK_CONNECTOR_PRIVATE_TARGETS = True  # the server is on 127.0.0.1
    state = Api()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield state
    server.shutdown()
    server.server_close()


def _stream(prefix: str, style: str, records_path: str, **extra: Any) -> dict[str, Any]:
    pagination: dict[str, Any] = {"style": style}
    if style == "page":
        pagination["size_param"] = "per_page"
    if style in ("offset", "cursor"):
        pagination["size_param"] = "limit"
    if style == "cursor":
        pagination["token_path"] = "meta.next"
    return {
        "name": "items",
        "label": "Items",
        "path": f"/{prefix}/items",
        "records_path": records_path,
        "primary_key": "id",
        "pagination": pagination,
        **extra,
    }


def _connection(owner, api, stream: dict[str, Any], **config: Any):
    return do_create_connection(
        owner,
        type="rest",
        name="Catalogue API",
        config={"base_url": api.url, "page_size": 10, "streams": [stream], **config},
    )


def _sync(owner, connection, capture) -> SyncRun:
    with capture(execute=False):
        run, created = do_request_sync(owner, connection)
    assert created
    return run_sync(run.pk)


def _form(owner, connection):
    return do_create_form_from_stream(
        owner, connection, stream="items", app=do_create_app(owner, name="Catalogue")
    )


def _rows(destination) -> list[dict[str, Any]]:
    records = Record.objects.filter(form=destination.form, deleted_at__isnull=True)
    return sorted((r.data for r in records), key=lambda d: d["ext_id"])


def test_discover_infers_fields_and_flattens_nested_objects(api, owner):
    config = {
        "base_url": api.url,
        "page_size": 10,
        "streams": [_stream("page", "page", "$.data.items", cursor_field="updated")],
    }
    (stream,) = connector_registry.get("rest").discover(config)
    types = {f.name: f.type for f in stream.fields}
    assert types == {
        "id": "integer",
        "name": "string",
        "price": "number",
        "active": "boolean",
        "updated": "integer",
        "owner.name": "string",
    }
    assert stream.primary_key == ("id",) and stream.cursor_field == "updated"


def test_page_style_incremental_sync_brings_only_changes(
    api, owner, django_capture_on_commit_callbacks
):
    stream = _stream(
        "page", "page", "data.items", cursor_field="updated", cursor_param="updated_since"
    )
    connection = _connection(owner, api, stream)
    destination = _form(owner, connection)

    first = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert first.state == SyncRun.State.SUCCEEDED, first.error_message
    assert (first.read_count, first.created_count, first.failed_count) == (23, 23, 0)
    rows = _rows(destination)
    assert [r["ext_id"] for r in rows] == list(range(1, 24))
    assert rows[4]["ext_owner_name"] == "Owner 2" and rows[4]["ext_price"] == 7.5
    state = StreamState.objects.get(destination=destination).state
    assert state == {"cursor": 23, "page_token": None, "seen": 23}

    api.items[4].update(name="Item 05 (renamed)", updated=100)
    api.items.append({"id": 24, "name": "New", "price": 1, "active": True, "updated": 101})
    api.requests.clear()
    second = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert second.state == SyncRun.State.SUCCEEDED
    # One request finds the fields (discover), then the read asks only for changes.
    assert len(api.requests) == 2 and "updated_since=23" in api.requests[1]
    # Item 23 again (the filter is inclusive: unchanged), item 5 changed, item 24 new.
    assert (second.read_count, second.created_count, second.updated_count) == (3, 1, 1)
    assert second.unchanged_count == 1
    names = {r["ext_id"]: r["ext_name"] for r in _rows(destination)}
    assert names[5] == "Item 05 (renamed)" and names[24] == "New" and len(names) == 24
    assert StreamState.objects.get(destination=destination).state["cursor"] == 101


@pytest.mark.parametrize(
    ("prefix", "style", "records_path"),
    [("offset", "offset", "results"), ("cursor", "cursor", "items"), ("link", "link", "")],
)
def test_each_pagination_style_reads_every_record_once(
    api, owner, django_capture_on_commit_callbacks, prefix, style, records_path
):
    connection = _connection(owner, api, _stream(prefix, style, records_path))
    destination = _form(owner, connection)
    run = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.SUCCEEDED, run.error_message
    assert (run.read_count, run.created_count) == (23, 23)
    assert [r["ext_id"] for r in _rows(destination)] == list(range(1, 24))
    assert len([p for p in api.requests if f"/{prefix}/items" in p]) >= 3  # paged, not one call


def test_a_stopped_run_resumes_at_its_last_page_without_duplicates(
    api, owner, monkeypatch, django_capture_on_commit_callbacks
):
    from connectors import sync

    connection = _connection(owner, api, _stream("cursor", "cursor", "items"), page_size=5)
    destination = _form(owner, connection)
    real_write, calls = sync._write_batch, {"n": 0}

    def dying_write(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(sync, "_write_batch", dying_write)
    with django_capture_on_commit_callbacks(execute=False):
        run, _ = do_request_sync(owner, connection)
    with pytest.raises(SystemExit):
        run_sync(run.pk)
    assert Record.objects.filter(form=destination.form).count() == 10
    assert StreamState.objects.get(destination=destination).state["page_token"] == "10"
    monkeypatch.setattr(sync, "_write_batch", real_write)
    api.requests.clear()
    resumed = run_sync(run.pk)
    assert resumed.state == SyncRun.State.SUCCEEDED
    # After the discovery request, the read goes on from the third page, not the first.
    assert "cursor=10" in api.requests[1]
    external = list(
        SyncedRecord.objects.filter(destination=destination).values_list("external_id", flat=True)
    )
    assert len(external) == len(set(external)) == 23


def test_basic_and_header_auth(api, owner, django_capture_on_commit_callbacks):
    basic = _connection(
        owner,
        api,
        _stream("basic", "page", "data.items"),
        auth_type="basic",
        username="ann",
        password="pw",
    )
    assert do_check_connection(owner, basic).last_check_ok is True
    _form(owner, basic)
    assert _sync(owner, basic, django_capture_on_commit_callbacks).created_count == 23
    header = _connection(
        owner,
        api,
        _stream("header", "page", "data.items"),
        auth_type="header",
        header_name="X-Api-Key",
        token="k-123",
    )
    assert do_check_connection(owner, header).last_check_ok is True
    assert "k-123" not in json.dumps(header.config)  # the token lives encrypted, apart

    connector = connector_registry.get("rest")
    wrong = {"base_url": api.url, "streams": [_stream("basic", "page", "data.items")]}
    with pytest.raises(ConfigError):
        connector.check({**wrong, "auth_type": "basic", "username": "ann", "password": "no"})
    refused = _connection(
        owner, api, _stream("header", "page", "data.items"), auth_type="header", token="bad"
    )
    checked = do_check_connection(owner, refused)
    assert checked.last_check_ok is False and "403" in checked.last_check_message


def test_missing_credentials_for_the_auth_type_are_invalid(api, owner):
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        _connection(owner, api, _stream("basic", "page", "data.items"), auth_type="basic")
    assert set(caught.value.fields) == {"config.username", "config.password"}


def test_oauth2_client_credentials_fetches_and_refreshes_the_token(
    api, owner, django_capture_on_commit_callbacks
):
    connection = _connection(
        owner,
        api,
        _stream("oauth", "page", "data.items"),
        auth_type="oauth2_client_credentials",
        token_url=f"{api.url}/oauth/token",
        client_id="client-1",
        client_secret="s3cret",
    )
    destination = _form(owner, connection)
    api.token_requests = 0
    api.tokens = {"expired"}  # whatever token a read holds stops working
    run = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.SUCCEEDED, run.error_message
    # One token for discover, one for the read: held in memory, never stored.
    assert run.created_count == 23 and api.token_requests == 2

    api.tokens = {"revoked-mid-run"}
    connector = connector_registry.get("rest")
    from connectors.actions import full_config

    config = full_config(connection)
    stream = connector.stream(config, "items")
    pages = connector.read(config, stream, None)
    next(pages)  # a token fetched and the first page read
    before = api.token_requests
    api.tokens = set()  # the token expires while the read goes on
    list(pages)
    assert api.token_requests == before + 1  # refreshed once after the 401
    assert len(_rows(destination)) == 23

    with pytest.raises(ConfigError):
        connector.check({**config, "client_secret": "wrong"})


def test_rate_limit_is_transient_and_honours_retry_after(
    api, owner, django_capture_on_commit_callbacks
):
    connector = connector_registry.get("rest")
    config = {
        "base_url": api.url,
        "streams": [
            _stream("busy", "page", "data.items", fields=[{"name": "id", "type": "integer"}])
        ],
    }
    with pytest.raises(TransientError) as caught:
        connector.check(config)
    assert caught.value.retry_after == 7

    connection = _connection(owner, api, config["streams"][0])
    _form(owner, connection)
    with django_capture_on_commit_callbacks(execute=False):
        run, _ = do_request_sync(owner, connection)
    with pytest.raises(TransientError):
        run_sync(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.RETRYING and run.error_kind == "transient"
    assert (run.next_retry_at - run.started_at).total_seconds() >= 7


@pytest.mark.parametrize(
    ("prefix", "records_path", "error"),
    [
        ("broken", "data.items", SourceSystemError),
        ("notjson", "data.items", SourceSystemError),
        ("notlist", "data.items", SourceSystemError),
        ("nothing", "data.items", ConfigError),  # 404: the path is wrong
    ],
)
def test_bad_answers_are_typed_errors(api, prefix, records_path, error):
    connector = connector_registry.get("rest")
    config = {"base_url": api.url, "streams": [_stream(prefix, "page", records_path)]}
    with pytest.raises(error):
        connector.check(config)


def test_a_failed_run_is_visible(api, owner, django_capture_on_commit_callbacks):
    stream = _stream("broken", "none", "", fields=[{"name": "id", "type": "integer"}])
    connection = _connection(owner, api, stream)
    _form(owner, connection)
    run = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.FAILED
    assert run.error_kind == "system" and "500" in run.error_message


def test_unreachable_host_is_transient(api):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connector = connector_registry.get("rest")
    config = {"base_url": f"http://127.0.0.1:{port}", "streams": [_stream("page", "page", "")]}
    with pytest.raises(TransientError):
        connector.check(config)


def test_private_targets_follow_the_platform_policy(api, settings):
    settings.TACK_CONNECTOR_PRIVATE_TARGETS = False
    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = False  # what a shared deployment runs
    connector = connector_registry.get("rest")
    config = {"base_url": api.url, "streams": [_stream("page", "page", "data.items")]}
    with pytest.raises(ConfigError):
        connector.check(config)
    assert api.requests == []  # refused before any request left
