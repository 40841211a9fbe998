"""A generic REST/JSON connector: any HTTP API that answers lists of JSON records.

Configuration: a base URL, an authentication (none, a header token, HTTP Basic, or OAuth2
client credentials), extra headers, and one or more streams. Each stream names a path
under the base URL, where the records sit in the answer (``records_path``: ``data.items``
or ``$.data.items``; empty or ``$`` for a top-level list), its primary key, and how the
API pages: ``none``, ``page`` (page number), ``offset`` (offset and limit), ``cursor``
(a token from the answer) or ``link`` (the ``Link: <...>; rel="next"`` header).

Fields: a stream may list its ``fields``; otherwise ``discover`` fetches the first page
and infers them from up to 50 records. Nested objects are flattened one level: a record
``{"id": 1, "owner": {"name": "Li"}}`` has the fields ``id`` and ``owner.name`` (deeper
values stay objects). ``read`` flattens records the same way.

Incremental streams name a ``cursor_field`` (an increasing value such as ``updated_at``)
and the ``cursor_param`` the API filters on (``?updated_since=<value>``). The state is
``{"cursor": <filter of this pass>, "page_token": <next page or null>, "seen": <largest
cursor read>}``; a checkpoint follows every page, so a stopped run resumes at the next
page of the same pass, and a finished pass starts the next one from the largest cursor.

Every request goes through ``connectors.netpolicy.check_target`` first; a ``Link`` header
may only lead to the same scheme, host and port as the base URL (credentials are never
sent elsewhere).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests

from connectors.netpolicy import check_target
from connectors.registries import (
    CheckResult,
    ConfigError,
    ConnectorType,
    RecordMessage,
    SourceSystemError,
    StateMessage,
    Stream,
    StreamField,
    TransientError,
)

DEFAULT_TIMEOUT = 30
DEFAULT_PAGE_SIZE = 100
INFER_SAMPLE = 50
MAX_PAGES_PER_READ = 100_000  # a misbehaving API that never stops paging

_PAGINATION_STYLES = ("none", "page", "offset", "cursor", "link")
_AUTH_TYPES = ("none", "header", "basic", "oauth2_client_credentials")
_NAME = {"type": "string", "minLength": 1, "maxLength": 100}
_PARAM = {"type": "string", "maxLength": 100}


def _retry_after(value: str | None) -> float | None:
    """``Retry-After``: seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


def _path_parts(path: str) -> list[str]:
    path = (path or "").strip()
    if path.startswith("$"):
        path = path[1:]
    return [part for part in path.strip(".").split(".") if part]


def _dig(body: Any, path: str) -> Any:
    """A simple JSON path: dot-separated keys, whole numbers index lists."""
    value = body
    for part in _path_parts(path):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """Nested objects one level down become ``parent.child`` keys."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                flat[f"{key}.{inner}"] = inner_value
        else:
            flat[str(key)] = value
    return flat


def _type_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def infer_fields(records: list[dict[str, Any]]) -> list[StreamField]:
    """Field names in first-seen order; types agreed across the sample (else string)."""
    kinds: dict[str, set[str]] = {}
    for record in records[:INFER_SAMPLE]:
        for key, value in flatten(record).items():
            seen = kinds.setdefault(key, set())
            kind = _type_of(value)
            if kind is not None:
                seen.add(kind)
    fields = []
    for name, seen in kinds.items():
        if seen == {"integer", "number"}:
            kind = "number"
        elif len(seen) == 1:
            kind = next(iter(seen))
        else:
            kind = "string"
        fields.append(StreamField(name=name, type=kind, label=name))
    return fields


def _later(a: Any, b: Any) -> Any:
    """The larger of two cursor values (None-safe; mixed types compare as text)."""
    if a is None:
        return b
    if b is None:
        return a
    try:
        return b if b > a else a
    except TypeError:
        return b if str(b) > str(a) else a


def _primary_key(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return ("id",)


class RestClient:
    """One discover, check or read: a session, its headers and (OAuth2) its token."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.base_url = str(config.get("base_url", "")).rstrip("/") + "/"
        check_target(self.base_url, field="base_url")
        self.timeout = float(config.get("timeout") or DEFAULT_TIMEOUT)
        self.auth_type = str(config.get("auth_type") or "none")
        self.http = requests.Session()
        self.http.headers["Accept"] = "application/json"
        for name, value in dict(config.get("headers") or {}).items():
            self.http.headers[str(name)] = str(value)
        if self.auth_type == "header":
            name = str(config.get("header_name") or "Authorization")
            prefix = config.get("token_prefix")
            prefix = "Bearer " if prefix is None and name.lower() == "authorization" else prefix
            self.http.headers[name] = f"{prefix or ''}{config.get('token', '')}"
        elif self.auth_type == "basic":
            self.http.auth = (str(config.get("username", "")), str(config.get("password", "")))
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    # --- OAuth2 client credentials ---------------------------------------------------
    def _fetch_token(self) -> str:
        token_url = str(self.config.get("token_url", ""))
        check_target(token_url, field="token_url")
        data = {"grant_type": "client_credentials"}
        if self.config.get("scope"):
            data["scope"] = str(self.config["scope"])
        client_id = str(self.config.get("client_id", ""))
        client_secret = str(self.config.get("client_secret", ""))
        auth: tuple[str, str] | None = (client_id, client_secret)
        if self.config.get("client_auth_in_body"):
            data.update(client_id=client_id, client_secret=client_secret)
            auth = None
        try:
            response = requests.post(
                token_url,
                data=data,
                auth=auth,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise TransientError("The token endpoint did not answer in time.") from exc
        except requests.RequestException as exc:
            raise TransientError(
                f"The token endpoint is not reachable: {exc.__class__.__name__}"
            ) from exc
        if response.status_code in (429, 502, 503, 504):
            raise TransientError(
                f"The token endpoint is busy ({response.status_code}).",
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code in (400, 401, 403):
            raise ConfigError("The token endpoint refused the client id or secret.")
        if response.status_code >= 300:
            raise SourceSystemError(f"The token endpoint answered HTTP {response.status_code}.")
        try:
            token = response.json().get("access_token")
        except (ValueError, AttributeError) as exc:
            raise SourceSystemError("The token endpoint's answer is not JSON.") from exc
        if not isinstance(token, str) or not token:
            raise SourceSystemError("The token endpoint's answer has no access_token.")
        return token

    # --- requests ------------------------------------------------------------------
    def get(self, url: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        check_target(url, field="base_url")
        refreshed = False
        while True:
            headers = {}
            if self.auth_type == "oauth2_client_credentials":
                if self._token is None:
                    self._token = self._fetch_token()
                headers["Authorization"] = f"Bearer {self._token}"
            try:
                response = self.http.get(
                    url,
                    params=dict(params or {}),
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.Timeout as exc:
                raise TransientError("The API did not answer in time.") from exc
            except requests.RequestException as exc:
                raise TransientError(f"The API is not reachable: {exc.__class__.__name__}") from exc
            if (
                response.status_code == 401
                and self.auth_type == "oauth2_client_credentials"
                and not refreshed
            ):
                self._token, refreshed = None, True  # the token expired: fetch one again
                continue
            break
        status = response.status_code
        if status in (429, 502, 503, 504):
            raise TransientError(
                f"The API is busy ({status}).",
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            raise ConfigError(f"The API refused the credentials ({status}).")
        if status == 404:
            raise ConfigError(f"The API has nothing at {urlsplit(url).path} (check the path).")
        if status >= 300:
            raise SourceSystemError(f"The API answered HTTP {status}.")
        return response

    def json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except (ValueError, RecursionError) as exc:
            raise SourceSystemError("The API's answer is not JSON.") from exc


def _records(body: Any, path: str) -> list[dict[str, Any]]:
    found = _dig(body, path)
    if not isinstance(found, list):
        raise SourceSystemError(
            f"The records path {path or '$'!r} does not lead to a list in the API's answer."
        )
    if not all(isinstance(item, dict) for item in found):
        raise SourceSystemError(f"The list at {path or '$'!r} holds values that are not objects.")
    return found


class RestConnector(ConnectorType):
    type = "rest"
    label = "REST / JSON API"
    description = "Records from any HTTP API that answers JSON, with paging and incremental reads."
    #: ``read`` touches no Django database: the sync engine reads ahead in a thread.
    read_ahead: ClassVar[bool] = True

    def spec(self) -> dict[str, Any]:
        pagination = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "style": {"enum": list(_PAGINATION_STYLES), "default": "none"},
                "page_param": {**_PARAM, "default": "page"},
                "start_page": {"type": "integer", "minimum": 0, "default": 1},
                "offset_param": {**_PARAM, "default": "offset"},
                "size_param": {
                    **_PARAM,
                    "description": "The page-size parameter (per_page, limit…); empty: none.",
                },
                "token_param": {**_PARAM, "default": "cursor"},
                "token_path": {
                    **_PARAM,
                    "description": "Where the answer holds the next cursor, e.g. meta.next",
                },
            },
        }
        stream = {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "path"],
            "properties": {
                "name": {**_NAME, "pattern": "^[A-Za-z0-9_]+$"},
                "label": {"type": "string", "maxLength": 100},
                "path": {"type": "string", "maxLength": 500},
                "records_path": {"type": "string", "maxLength": 200, "default": ""},
                "primary_key": {
                    "anyOf": [
                        _NAME,
                        {"type": "array", "items": _NAME, "minItems": 1, "maxItems": 5},
                    ],
                    "default": "id",
                },
                "cursor_field": {"type": "string", "maxLength": 100},
                "cursor_param": _PARAM,
                "params": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                },
                "pagination": pagination,
                "fields": {
                    "type": "array",
                    "maxItems": 500,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "type"],
                        "properties": {
                            "name": _NAME,
                            "type": {
                                "enum": [
                                    "string",
                                    "integer",
                                    "number",
                                    "boolean",
                                    "date",
                                    "datetime",
                                    "object",
                                    "array",
                                ]
                            },
                            "label": {"type": "string", "maxLength": 100},
                        },
                    },
                },
            },
        }

        def needs(kind: str, *keys: str) -> dict[str, Any]:
            return {
                "if": {"properties": {"auth_type": {"const": kind}}, "required": ["auth_type"]},
                "then": {"required": list(keys)},
            }

        secret = {"type": "string", "minLength": 1, "maxLength": 2000, "writeOnly": True}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": False,
            "required": ["base_url", "streams"],
            "allOf": [
                needs("header", "token"),
                needs("basic", "username", "password"),
                needs("oauth2_client_credentials", "token_url", "client_id", "client_secret"),
            ],
            "properties": {
                "base_url": {
                    "type": "string",
                    "format": "uri",
                    "title": "Base URL",
                    "pattern": "^https?://",
                    "maxLength": 500,
                },
                "auth_type": {"enum": list(_AUTH_TYPES), "default": "none"},
                "header_name": {"type": "string", "maxLength": 100, "default": "Authorization"},
                "token_prefix": {
                    "type": "string",
                    "maxLength": 50,
                    "description": 'Before the token; "Bearer " for the Authorization header.',
                },
                "token": {**secret, "title": "Token", "x-secret": True},
                "username": {"type": "string", "maxLength": 200},
                "password": {**secret, "title": "Password", "x-secret": True},
                "token_url": {
                    "type": "string",
                    "format": "uri",
                    "pattern": "^https?://",
                    "maxLength": 500,
                },
                "client_id": {"type": "string", "minLength": 1, "maxLength": 500},
                "client_secret": {**secret, "title": "Client secret", "x-secret": True},
                "scope": {"type": "string", "maxLength": 500},
                "client_auth_in_body": {"type": "boolean", "default": False},
                "headers": {
                    "type": "object",
                    "description": "Extra request headers, stored in clear: not for secrets.",
                    "maxProperties": 20,
                    "additionalProperties": {"type": "string", "maxLength": 1000},
                },
                "timeout": {"type": "number", "minimum": 1, "maximum": 120, "default": 30},
                "page_size": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 100},
                "streams": {"type": "array", "minItems": 1, "maxItems": 50, "items": stream},
            },
        }

    # --- helpers -------------------------------------------------------------------
    def _stream_config(self, config: Mapping[str, Any], name: str) -> dict[str, Any]:
        for candidate in config.get("streams") or []:
            if isinstance(candidate, dict) and candidate.get("name") == name:
                return candidate
        raise ConfigError(f"No stream {name!r} is configured.")

    def _first_page(
        self, client: RestClient, config: Mapping[str, Any], stream: dict[str, Any]
    ) -> list[dict[str, Any]]:
        url, params = self._request(client, config, stream, None, None)
        return _records(client.json(client.get(url, params)), stream.get("records_path", ""))

    def _request(
        self,
        client: RestClient,
        config: Mapping[str, Any],
        stream: dict[str, Any],
        token: Any,
        cursor: Any,
    ) -> tuple[str, dict[str, Any]]:
        """The URL and query parameters of one page (``token``: where the page starts)."""
        pagination = dict(stream.get("pagination") or {})
        style = pagination.get("style", "none")
        size = int(config.get("page_size") or DEFAULT_PAGE_SIZE)
        if style == "link" and token:
            return str(token), {}  # the next link carries every parameter
        url = urljoin(client.base_url, str(stream.get("path", "")).lstrip("/"))
        params: dict[str, Any] = dict(stream.get("params") or {})
        if cursor is not None and stream.get("cursor_param"):
            params[str(stream["cursor_param"])] = cursor
        size_param = pagination.get("size_param")
        if style != "none" and size_param:
            params[str(size_param)] = size
        if style == "page":
            start = int(pagination.get("start_page", 1))
            params[str(pagination.get("page_param") or "page")] = start if token is None else token
        elif style == "offset":
            params[str(pagination.get("offset_param") or "offset")] = token or 0
        elif style == "cursor" and token:
            params[str(pagination.get("token_param") or "cursor")] = token
        return url, params

    # --- the contract --------------------------------------------------------------
    def check(self, config: Mapping[str, Any]) -> CheckResult:
        streams = [s for s in config.get("streams") or [] if isinstance(s, dict)]
        if not streams:
            raise ConfigError("Configure at least one stream.")
        client = RestClient(config)
        try:
            records = self._first_page(client, config, streams[0])
        finally:
            client.close()
        return CheckResult(
            True, f"Connected; the first page of {streams[0]['name']} holds {len(records)} records."
        )

    def discover(self, config: Mapping[str, Any]) -> list[Stream]:
        items = [
            item
            for item in config.get("streams") or []
            if isinstance(item, dict) and item.get("name")
        ]
        return self._describe(config, items)

    def stream(self, config: Mapping[str, Any], name: str) -> Stream:
        """One stream, inferring only its own fields (a sync asks for one at a time)."""
        (found,) = self._describe(config, [self._stream_config(config, name)])
        return found

    def _describe(self, config: Mapping[str, Any], items: list[dict[str, Any]]) -> list[Stream]:
        found: list[Stream] = []
        client: RestClient | None = None
        try:
            for item in items:
                primary_key = _primary_key(item.get("primary_key"))
                cursor_field = item.get("cursor_field") or None
                if item.get("fields"):
                    fields = [
                        StreamField(f["name"], f["type"], f.get("label") or f["name"])
                        for f in item["fields"]
                    ]
                else:
                    client = client or RestClient(config)
                    fields = infer_fields(self._first_page(client, config, item))
                names = {f.name for f in fields}
                for key in (*primary_key, *([cursor_field] if cursor_field else [])):
                    if key not in names:  # an empty first page: the keys are still known
                        fields.append(StreamField(key, "string", key))
                        names.add(key)
                found.append(
                    Stream(
                        name=str(item["name"]),
                        label=str(item.get("label") or item["name"]),
                        fields=tuple(fields),
                        primary_key=primary_key,
                        cursor_field=cursor_field,
                    )
                )
        finally:
            if client is not None:
                client.close()
        return found

    def read(
        self,
        config: Mapping[str, Any],
        stream: Stream,
        state: Mapping[str, Any] | None,
        *,
        batch_size: int = 500,
    ) -> Iterator[RecordMessage | StateMessage]:
        item = self._stream_config(config, stream.name)
        style = (item.get("pagination") or {}).get("style", "none")
        size = int(config.get("page_size") or DEFAULT_PAGE_SIZE)
        incremental = bool(stream.cursor_field)
        previous = dict(state or {})
        # Mid-pass (a page token stored): resume the same pass; else start a new one.
        cursor = previous.get("cursor") if incremental else None
        token = previous.get("page_token")
        seen = previous.get("seen") if token is not None else None
        if token is None:
            seen = cursor
        client = RestClient(config)
        try:
            for _page in range(MAX_PAGES_PER_READ):
                url, params = self._request(client, config, item, token, cursor)
                response = client.get(url, params)
                body = client.json(response)
                records = _records(body, item.get("records_path", ""))
                for record in records:
                    data = flatten(record)
                    if incremental:
                        seen = _later(seen, data.get(str(stream.cursor_field)))
                    yield RecordMessage(data)
                token = self._next_token(client, style, item, token, body, response, records, size)
                if token is None:
                    yield StateMessage({"cursor": seen, "page_token": None, "seen": seen})
                    return
                yield StateMessage({"cursor": cursor, "page_token": token, "seen": seen})
            raise SourceSystemError("The API kept paging past the limit; check the pagination.")
        finally:
            client.close()

    def _next_token(
        self,
        client: RestClient,
        style: str,
        item: dict[str, Any],
        token: Any,
        body: Any,
        response: requests.Response,
        records: list[dict[str, Any]],
        size: int,
    ) -> Any:
        """Where the next page starts, or None after the last page."""
        pagination = item.get("pagination") or {}
        if style == "none" or not records:
            return None
        if style == "page":
            if len(records) < size:
                return None
            start = int(pagination.get("start_page", 1))
            return (start if token is None else int(token)) + 1
        if style == "offset":
            if len(records) < size:
                return None
            return int(token or 0) + len(records)
        if style == "cursor":
            following = _dig(body, str(pagination.get("token_path") or ""))
            if following in (None, "", token):
                return None
            if not isinstance(following, str | int):
                raise SourceSystemError("The next cursor in the API's answer is not a value.")
            return following
        if style == "link":
            following = (response.links.get("next") or {}).get("url")
            if not following:
                return None
            following = urljoin(response.url, following)
            base, target = urlsplit(client.base_url), urlsplit(following)
            if (base.scheme, base.netloc) != (target.scheme, target.netloc):
                raise SourceSystemError("The API's next link leads to another host; refused.")
            return following
        raise ConfigError(f"Unknown pagination style {style!r}.")
