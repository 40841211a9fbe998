"""Tryton ERP/CRM over its JSON-RPC API (``POST /<database>/``, session login).

Streams: parties (customers), products, sale orders and opportunities (leads), each
incremental: records never changed by id, the others by ``write_date``. Actions: create
a party, create a sale order, move an opportunity to another state.

Incremental reads follow the ids of records never changed and Tryton's own
``write_date`` of the others (see ``TrytonConnector.read``); the state is
``{"created_id": id, "written": [write_date, id]}`` and a checkpoint follows every page,
so a run killed half way resumes after the last page it stored.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar

import requests

from connectors.registries import (
    Action,
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

TIMEOUT = 30


def _decode_object(value: dict[str, Any]) -> Any:
    """Tryton's JSON extensions (datetime, date, Decimal, bytes) -> plain JSON values.

    The ``object_hook`` of the answer's parsing: called for each JSON object as it is
    read (its members already decoded), so nothing walks the answer a second time.
    """
    kind = value.get("__class__")
    if kind is None:
        return value
    if kind == "datetime":
        return (
            dt.datetime(
                value["year"],
                value["month"],
                value["day"],
                value["hour"],
                value["minute"],
                value["second"],
                value.get("microsecond", 0),
                tzinfo=dt.UTC,
            )
            .isoformat()
            .replace("+00:00", "Z")
        )
    if kind == "date":
        return dt.date(value["year"], value["month"], value["day"]).isoformat()
    if kind == "Decimal":
        number = Decimal(value["decimal"])
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "timedelta":
        return value.get("seconds")
    if kind == "bytes":
        return None
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if value.tzinfo else value
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


#: Logged-in sessions reused by later clients with the same server and credentials, in
#: this process only (never stored): a Tryton login hashes the password on purpose, which
#: can cost more than reading a page. Reused only while Tryton would still accept it (its
#: ``session.timeout`` is 600 s of inactivity by default); refused ones are dropped.
SESSION_IDLE_SECONDS = 240
#: How old the user's preferences (company, language…: the context of every call)
#: remembered with a session may be for a sync's reads (``read``): reading them again costs
#: about a page's round trip before the first page. Anything that writes to Tryton (the
#: actions) and ``check`` read them afresh, so a changed company is never written with an
#: old one.
READ_PREFERENCES_MAX_AGE_SECONDS = 60
#: key -> (last used, Authorization header, preferences, when they were read)
_sessions: dict[str, tuple[float, str, dict[str, Any], float]] = {}
_sessions_lock = threading.Lock()


class _SessionRefused(ConfigError):
    """Tryton answered 401/403 to a call made with a session."""


class TrytonClient:
    """A logged-in JSON-RPC session (reusing a recent one for the same credentials unless
    ``fresh``: ``check`` always logs in, to test the credentials themselves).

    ``preferences_max_age``: a reused session's remembered preferences are used as they
    are while younger than this many seconds (0, the default: always read them again).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        fresh: bool = False,
        preferences_max_age: float = 0.0,
    ) -> None:
        from connectors.netpolicy import check_target

        base = str(config.get("url", "")).rstrip("/")
        check_target(base, field="url")
        self.url = f"{base}/{config.get('database', '')}/"
        self.http = requests.Session()
        self.http.headers["Content-Type"] = "application/json"
        self._id = 0
        self._config = config
        self._key = hashlib.sha256(
            json.dumps(
                [self.url, str(config.get("username", "")), str(config.get("password", ""))]
            ).encode()
        ).hexdigest()
        self.context: dict[str, Any] = {}
        self.reused = False
        self._preferences_at = 0.0
        if not fresh:
            with _sessions_lock:
                cached = _sessions.get(self._key)
            now = time.monotonic()
            if cached is not None and now - cached[0] < SESSION_IDLE_SECONDS:
                self.http.headers["Authorization"] = cached[1]
                self.reused = True
                if now - cached[3] < preferences_max_age:
                    # Recent enough. If Tryton has dropped the session meanwhile, the first
                    # call is refused and ``call`` logs in again.
                    self.context, self._preferences_at = dict(cached[2]), cached[3]
                    return
                try:
                    # They may have changed since: read them again (cheap; it is the
                    # login's password hash that is not).
                    self.context = self._post("model.res.user.get_preferences", [True, {}])
                    self._preferences_at = time.monotonic()
                    self._remember()
                    return
                except _SessionRefused:
                    with _sessions_lock:
                        _sessions.pop(self._key, None)
        self._login()

    def _login(self) -> None:
        config = self._config
        self.http.headers.pop("Authorization", None)
        result = self._post(
            "common.db.login",
            [config.get("username", ""), {"password": config.get("password", "")}],
        )
        if not result:
            raise ConfigError("Tryton refused the user name or password.")
        user_id, session = result[0], result[1]
        token = base64.b64encode(f"{config.get('username')}:{user_id}:{session}".encode())
        self.http.headers["Authorization"] = f"Session {token.decode()}"
        self.context = self._post("model.res.user.get_preferences", [True, {}])
        self._preferences_at = time.monotonic()
        self.reused = False
        self._remember()

    def _remember(self) -> None:
        with _sessions_lock:
            _sessions[self._key] = (
                time.monotonic(),
                self.http.headers["Authorization"],
                dict(self.context),
                self._preferences_at,
            )

    def _post(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        try:
            response = self.http.post(
                self.url,
                json={"id": self._id, "method": method, "params": _encode(params)},
                timeout=TIMEOUT,
            )
        except requests.ConnectionError as exc:
            raise TransientError(f"Tryton is not reachable: {exc.__class__.__name__}") from exc
        except requests.Timeout as exc:
            raise TransientError("Tryton did not answer in time.") from exc
        if response.status_code in (429, 502, 503, 504):
            retry = response.headers.get("Retry-After")
            raise TransientError(
                f"Tryton is busy ({response.status_code}).",
                retry_after=float(retry) if retry and retry.isdigit() else None,
            )
        if response.status_code in (401, 403):
            if method == "common.db.login":
                raise ConfigError("Tryton refused the user name or password.")
            raise _SessionRefused("Tryton refused the session (check the user's access rights).")
        if response.status_code == 404:
            raise ConfigError("No Tryton database at that URL (check the URL and database).")
        if response.status_code >= 400:
            raise SourceSystemError(f"Tryton answered HTTP {response.status_code}.")
        try:
            body = response.json(object_hook=_decode_object)
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            # Not JSON, or an extension value (datetime, Decimal…) that is malformed.
            raise SourceSystemError("Tryton's answer is not JSON.") from exc
        if not isinstance(body, dict):  # e.g. a proxy's error page as a JSON string
            raise SourceSystemError("Tryton's answer is not a JSON-RPC response.")
        if body.get("error"):
            error = body["error"]
            name = error[0] if isinstance(error, list) and error else str(error)
            detail = error[1] if isinstance(error, list) and len(error) > 1 else ""
            if "LoginException" in str(name) or "AccessError" in str(name):
                raise ConfigError(f"Tryton refused access: {detail or name}")
            if "ConcurrencyException" in str(name) or "DatabaseOperationalError" in str(name):
                raise TransientError(f"Tryton is busy: {name}")
            raise SourceSystemError(f"Tryton error: {name} {detail}".strip())
        return body.get("result")

    def close(self) -> None:
        """Close the HTTP connection (the Tryton session stays, for later clients)."""
        self.http.close()

    def twin(self) -> TrytonClient:
        """Another client on this session, with its own HTTP connection, for another
        thread (a ``requests`` session is not to be shared between threads). It makes no
        request."""
        other = copy.copy(self)
        other.http = requests.Session()
        other.http.headers.update(self.http.headers)
        other.context = dict(self.context)
        return other

    def call(self, model: str, method: str, *args: Any) -> Any:
        try:
            result = self._post(f"model.{model}.{method}", [*args, self.context])
        except _SessionRefused:
            if not self.reused:
                raise
            # The reused session expired (or the server restarted): log in, once.
            with _sessions_lock:
                _sessions.pop(self._key, None)
            self._login()
            result = self._post(f"model.{model}.{method}", [*args, self.context])
        self._remember()
        return result


class _Pages:
    """One keyset pass of ``read``, paged in a thread of its own ahead of its reader.

    ``fetch(cursor)`` asks Tryton for a page; after a full page ``follow(rows)`` is the
    next page's cursor, and a short page ends the pass. The thread asks for the next page
    as soon as it has one (it keeps at most one waiting), so Tryton never waits for the
    reader. Iterating gives the pages in order; an error comes out where it happened,
    after the pages before it. After ``close`` nothing more is asked; a request under way
    then is not waited for (it ends by itself within ``TIMEOUT``). ``done`` is called in
    the thread as it ends (to close its HTTP connection).
    """

    def __init__(
        self,
        fetch: Callable[[Any], list[dict[str, Any]]],
        start: Any,
        follow: Callable[[list[dict[str, Any]]], Any],
        page: int,
        done: Callable[[], None] | None = None,
    ) -> None:
        self._page = page
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run,
            args=(fetch, start, follow, done),
            name="tack-tryton-page",
            daemon=True,
        )
        self.thread.start()

    def _run(
        self,
        fetch: Callable[[Any], list[dict[str, Any]]],
        cursor: Any,
        follow: Callable[[list[dict[str, Any]]], Any],
        done: Callable[[], None] | None,
    ) -> None:
        try:
            while not self._stop.is_set():
                rows = fetch(cursor)
                if not self._put(rows) or len(rows) < self._page:
                    return
                cursor = follow(rows)
        except BaseException as exc:  # raised in the reader, after the pages before it
            self._put(exc)
        finally:
            if done is not None:
                done()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if len(item) < self._page:
                return

    def close(self) -> None:
        self._stop.set()


def _f(name: str, kind: str, label: str = "") -> StreamField:
    return StreamField(name=name, type=kind, label=label or name.replace("_", " ").capitalize())


_STREAMS: dict[str, tuple[str, str, tuple[StreamField, ...]]] = {
    # stream name: (Tryton model, label, fields)
    "parties": (
        "party.party",
        "Parties (customers)",
        (
            _f("id", "integer"),
            _f("code", "string"),
            _f("name", "string"),
            _f("email", "string", "E-mail"),
            _f("phone", "string"),
            _f("active", "boolean"),
            _f("create_date", "datetime"),
            _f("write_date", "datetime"),
        ),
    ),
    "products": (
        "product.product",
        "Products",
        (
            _f("id", "integer"),
            _f("code", "string"),
            _f("name", "string"),
            _f("list_price", "number"),
            _f("type", "string"),
            _f("active", "boolean"),
            _f("create_date", "datetime"),
            _f("write_date", "datetime"),
        ),
    ),
    "sale_orders": (
        "sale.sale",
        "Sale orders",
        (
            _f("id", "integer"),
            _f("number", "string"),
            _f("reference", "string"),
            _f("party", "integer", "Customer id"),
            _f("party_name", "string", "Customer"),
            _f("sale_date", "date"),
            _f("state", "string"),
            _f("total_amount", "number"),
            _f("currency_code", "string", "Currency"),
            _f("create_date", "datetime"),
            _f("write_date", "datetime"),
        ),
    ),
    "opportunities": (
        "sale.opportunity",
        "Opportunities and leads",
        (
            _f("id", "integer"),
            _f("number", "string"),
            _f("reference", "string"),
            _f("description", "string"),
            _f("party", "integer", "Customer id"),
            _f("party_name", "string", "Customer"),
            _f("amount", "number"),
            _f("state", "string"),
            _f("start_date", "date"),
            _f("create_date", "datetime"),
            _f("write_date", "datetime"),
        ),
    ),
}

# What to ask Tryton for, per stream (dotted names follow many2one fields).
_READ_FIELDS = {
    "parties": ["code", "name", "email", "phone", "active", "create_date", "write_date"],
    "products": [
        "code",
        "name",
        "list_price",
        "type",
        "active",
        "create_date",
        "write_date",
    ],
    "sale_orders": [
        "number",
        "reference",
        "party",
        "party.rec_name",
        "sale_date",
        "state",
        "total_amount",
        "currency.code",
        "create_date",
        "write_date",
    ],
    "opportunities": [
        "number",
        "reference",
        "description",
        "party",
        "party.rec_name",
        "amount",
        "state",
        "start_date",
        "create_date",
        "write_date",
    ],
}

OPPORTUNITY_TRANSITIONS = ("lead", "opportunity", "convert", "lost", "cancel")


def _flatten(stream: str, row: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in row.items() if "." not in k and not k.endswith(".")}
    if "active" in data:
        data["active"] = bool(data["active"])  # SQLite-backed Tryton answers 0/1
    for key in ("email", "phone", "code", "reference", "description"):
        if data.get(key) == "":
            data[key] = None
    party = row.get("party.")
    if isinstance(party, dict):
        data["party_name"] = party.get("rec_name")
    currency = row.get("currency.")
    if isinstance(currency, dict):
        data["currency_code"] = currency.get("code")
    return data


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _parse_ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _read_state(
    state: Mapping[str, Any] | None,
) -> tuple[int, tuple[str, int] | None, list[Any]]:
    """A stored checkpoint: (last id of the never-changed pass, a checkpoint of that pass
    in its older ``[create_date, id]`` order or None, ``[write_date, id]`` of the other).

    Checkpoints from before the id order (``{"created": [create_date, id], ...}``) are
    honoured: the pass reads what they had left (by id) and then drops them.
    """
    state = state or {}
    try:
        raw_id = state.get("created_id") or 0
        if not isinstance(raw_id, int) or isinstance(raw_id, bool):
            raise TypeError(raw_id)
        created_id = raw_id
        legacy = None
        old = state.get("created")
        if old and old[0] is not None:
            legacy = (str(old[0]), int(old[1]))
            _parse_ts(legacy[0])
        last = state.get("written") or [None, 0]
        moment = None if last[0] is None else str(last[0])
        if moment is not None:
            _parse_ts(moment)
        written: list[Any] = [moment, int(last[1])]
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise ConfigError("The stored checkpoint is not valid; run a full refresh.") from exc
    return created_id, legacy, written


class TrytonConnector(ConnectorType):
    type = "tryton"
    label = "Tryton ERP/CRM"
    description = "Customers, products, sale orders and opportunities from Tryton."
    #: ``read`` touches no Django database: the sync engine reads ahead in a thread.
    read_ahead: ClassVar[bool] = True
    actions: ClassVar[tuple[Action, ...]] = (
        Action(
            "find_party",
            "Find a customer by name or code",
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
            },
        ),
        Action(
            "create_party",
            "Create a customer",
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "code": {"type": "string", "maxLength": 60},
                },
            },
        ),
        Action(
            "create_sale_order",
            "Create a sale order",
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["party", "lines"],
                "properties": {
                    "party": {"type": "integer", "minimum": 1},
                    "reference": {"type": "string", "maxLength": 100},
                    "lines": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 200,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["product", "quantity"],
                            "properties": {
                                "product": {"type": "integer", "minimum": 1},
                                "quantity": {"type": "number", "exclusiveMinimum": 0},
                                "unit_price": {"type": "number", "minimum": 0},
                            },
                        },
                    },
                },
            },
        ),
        Action(
            "set_opportunity_state",
            "Change an opportunity's state",
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["opportunity", "state"],
                "properties": {
                    "opportunity": {"type": "integer", "minimum": 1},
                    "state": {"enum": list(OPPORTUNITY_TRANSITIONS)},
                },
            },
        ),
    )

    def spec(self) -> dict[str, Any]:
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": False,
            "required": ["url", "database", "username", "password"],
            "properties": {
                "url": {
                    "type": "string",
                    "format": "uri",
                    "title": "Server URL",
                    "description": "Where Tryton serves JSON-RPC, e.g. https://erp.example.com",
                    "maxLength": 300,
                },
                "database": {
                    "type": "string",
                    "title": "Database",
                    "minLength": 1,
                    "maxLength": 100,
                },
                "username": {"type": "string", "title": "User", "minLength": 1, "maxLength": 100},
                "password": {
                    "type": "string",
                    "title": "Password",
                    "minLength": 1,
                    "maxLength": 200,
                    "x-secret": True,
                    "writeOnly": True,
                },
                "page_size": {"type": "integer", "minimum": 10, "maximum": 5000, "default": 500},
            },
        }

    def check(self, config: Mapping[str, Any]) -> CheckResult:
        client = TrytonClient(config, fresh=True)
        count = client.call("party.party", "search_count", [])
        return CheckResult(True, f"Connected; {count} parties visible.")

    def discover(self, config: Mapping[str, Any]) -> list[Stream]:
        return [
            Stream(
                name=name,
                label=label,
                fields=fields,
                primary_key=("id",),
                cursor_field="write_date",
            )
            for name, (_model, label, fields) in _STREAMS.items()
        ]

    def read(
        self,
        config: Mapping[str, Any],
        stream: Stream,
        state: Mapping[str, Any] | None,
        *,
        batch_size: int = 500,
    ) -> Iterator[RecordMessage | StateMessage]:
        """Two resumable passes: records never changed since they were created, by ``id``;
        then changed records, by ``(write_date, id)``.

        The first pass follows the primary key, which Tryton numbers in creation order: a
        page is an index range, as cheap as a plain ``search_read`` by id (ordering it by
        ``create_date``, which Tryton does not index, sorted the whole table for every
        page). The second pass follows Tryton's own ``write_date``, so clocks need not
        agree: a record changed while a run is under way gets a newer ``write_date`` and is
        read later in the same pass or by the next run. Tryton stamps a record with its
        transaction's start time, so one committed after a later-started transaction was
        already read can fall behind either cursor (a known limit: docs/CONNECTORS.md).
        """
        if stream.name not in _STREAMS:
            raise ConfigError(f"Tryton has no stream {stream.name!r}")
        model = _STREAMS[stream.name][0]
        page = int(config.get("page_size") or batch_size)
        created_id, legacy, written = _read_state(state)
        client = TrytonClient(config, preferences_max_age=READ_PREFERENCES_MAX_AGE_SECONDS)
        archived_too = any(f.name == "active" for f in stream.fields)
        fields = _READ_FIELDS[stream.name]

        def search(on: TrytonClient, domain: list[Any], order: list[list[str]]) -> list[Any]:
            if archived_too:  # archived records are data too
                domain.append(["OR", [("active", "=", True)], [("active", "=", False)]])
            return list(on.call(model, "search_read", domain, 0, page, order, fields))

        def after(column: str, moment: str, last_id: int) -> list[Any]:
            at = _parse_ts(moment).replace(tzinfo=None)
            return ["OR", [(column, ">", at)], [(column, "=", at), ("id", ">", last_id)]]

        def fetch_created(
            on: TrytonClient, after_id: int, old: tuple[str, int] | None
        ) -> list[dict[str, Any]]:
            domain: list[Any] = [("write_date", "=", None), ("id", ">", after_id)]
            if old is not None:  # a checkpoint of the create_date order: what it left
                domain.append(after("create_date", *old))
            return search(on, domain, [["id", "ASC"]])

        def fetch_written(on: TrytonClient, cursor: list[Any]) -> list[dict[str, Any]]:
            domain: list[Any] = [("write_date", "!=", None)]
            if cursor[0] is not None:
                domain.append(after("write_date", cursor[0], cursor[1]))
            return search(on, domain, [["write_date", "ASC"], ["id", "ASC"]])

        def checkpoint() -> StateMessage:
            stored: dict[str, Any] = {"created_id": created_id, "written": list(written)}
            if legacy is not None:
                stored["created"] = list(legacy)
            return StateMessage(stored)

        # Each pass pages in its own thread and HTTP connection (``_Pages``; one Tryton
        # login), so Tryton always has the next page to work on while one is stored, and
        # the changed records' first page is asked for at once instead of after the last
        # new one: the two sets are disjoint (``write_date`` empty or not) and their
        # cursors independent.
        old_order = legacy  # the page thread's own copy: ``legacy`` is dropped at the end
        writer = client.twin()  # before either thread can log in again and change ``client``
        created_pages = _Pages(
            lambda after_id: fetch_created(client, after_id, old_order),
            created_id,
            lambda rows: int(rows[-1]["id"]),
            page,
            client.close,
        )
        written_pages = _Pages(
            lambda cursor: fetch_written(writer, cursor),
            list(written),
            lambda rows: [rows[-1]["write_date"], rows[-1]["id"]],
            page,
            writer.close,
        )
        try:
            for rows in created_pages:
                for row in rows:
                    yield RecordMessage(_flatten(stream.name, row))
                moved = bool(rows)
                if rows:
                    created_id = max(created_id, int(rows[-1]["id"]))
                if len(rows) < page and legacy is not None:
                    # All the old order had left has been read: from here on the id alone
                    # is the checkpoint.
                    created_id, legacy, moved = max(created_id, legacy[1]), None, True
                if moved:
                    yield checkpoint()
            for rows in written_pages:
                for row in rows:
                    yield RecordMessage(_flatten(stream.name, row))
                if rows:
                    written = [rows[-1]["write_date"], rows[-1]["id"]]
                    yield checkpoint()
        finally:
            created_pages.close()
            written_pages.close()

    def run_action(
        self, config: Mapping[str, Any], action: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        client = TrytonClient(config)
        if action == "find_party":
            found = client.call(
                "party.party",
                "search_read",
                [
                    "OR",
                    [("name", "ilike", "%" + _like_escape(params["name"]) + "%")],
                    [("code", "=", params["name"])],
                ],
                0,
                1,
                [["id", "ASC"]],
                ["name", "code"],
            )
            if not found:
                raise SourceSystemError(f"No customer named {params['name']!r} in Tryton.")
            return {"id": found[0]["id"], "name": found[0]["name"], "code": found[0]["code"]}
        if action == "create_party":
            party: dict[str, Any] = {"name": params["name"]}
            if params.get("code"):
                party["code"] = params["code"]
            (party_id,) = client.call("party.party", "create", [party])
            return {"id": party_id}
        if action == "create_sale_order":
            lines = []
            for line in params["lines"]:
                values: dict[str, Any] = {
                    "product": line["product"],
                    "quantity": float(line["quantity"]),
                    "type": "line",
                }
                product = client.call(
                    "product.product", "read", [line["product"]], ["default_uom", "list_price"]
                )
                if not product:
                    raise ConfigError(f"Tryton has no product {line['product']}.")
                values["unit"] = product[0]["default_uom"]
                price = line.get("unit_price", product[0].get("list_price") or 0)
                values["unit_price"] = Decimal(str(price))
                lines.append(values)
            sale: dict[str, Any] = {
                "party": params["party"],
                "lines": [["create", lines]],
            }
            if params.get("reference"):
                sale["reference"] = params["reference"]
            company = client.context.get("company")
            if company:
                sale["company"] = company
            (sale_id,) = client.call("sale.sale", "create", [sale])
            created = client.call("sale.sale", "read", [sale_id], ["number", "state"])[0]
            return {"id": sale_id, "number": created.get("number"), "state": created["state"]}
        if action == "set_opportunity_state":
            if params["state"] not in OPPORTUNITY_TRANSITIONS:
                raise ConfigError(f"Unknown opportunity state {params['state']!r}.")
            client.call("sale.opportunity", params["state"], [params["opportunity"]])
            after = client.call("sale.opportunity", "read", [params["opportunity"]], ["state"])
            return {"id": params["opportunity"], "state": after[0]["state"]}
        return super().run_action(config, action, params)
