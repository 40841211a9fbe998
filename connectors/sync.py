"""The sync engine: read a connection's streams and upsert them into forms and chat.

For each enabled destination, the connector's ``read`` is resumed from the stored
checkpoint. Records are upserted by primary key (``SyncedRecord`` maps external ids to
low-code records) in batches; each checkpoint the connector yields is stored **in the same
transaction** as the records read before it. So a worker killed mid-run resumes at the
last checkpoint: records after it are read again and upserted again (no duplicates), and
nothing before it is skipped (no gaps).

Speed: a page is one transaction, written set-based (``_write_batch``: one query for the
known links, ``COPY`` for new records and links, one UPDATE for changed records, one for
the run's counters). Connectors that declare ``read_ahead`` are read in a thread a few
pages ahead, and each page is checked against the form there too (``_prepare``), so the
source, the checking and the database work overlap.

Errors: a record that does not fit the form is counted as failed and reported on the run
(the rest go on). A ``TransientError`` ends the attempt and the task retries with
exponential backoff (or the connector's ``retry_after``) until ``MAX_ATTEMPTS``; then the
run is failed, visibly, with the error. A ``ConfigError`` or ``SourceSystemError`` fails
the run at once.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connectors.actions import full_config, next_sync_time
from connectors.models import Connection, Destination, StreamState, SyncedRecord, SyncRun
from connectors.registries import (
    ConnectorError,
    RecordMessage,
    StateMessage,
    Stream,
    TransientError,
    connector_registry,
)
from core.bulk import JsonText, insert_rows

logger = logging.getLogger(__name__)

#: Records asked of the connector per page (its ``page_size`` setting wins): one page is
#: one transaction and one checkpoint.
BATCH = 2000
#: Records stored without a checkpoint when a source checkpoints rarely or never.
FLUSH_LIMIT = 2 * BATCH
#: Pages a ``read_ahead`` connector may read ahead of the writer.
READ_AHEAD_PAGES = 3
MAX_ATTEMPTS = 6
#: The interpreter's thread switch interval and garbage-collection thresholds while a
#: sync runs (see ``_bulk_mode``).
SWITCH_INTERVAL_S = 0.0005
GC_THRESHOLD = (50_000, 20, 100)
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
MAX_RECORD_ERRORS = 100


class Cancelled(Exception):
    pass


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """30 s, 60 s, 120 s … capped at an hour; a connector's ``retry_after`` wins if longer."""
    delay = float(min(BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0), BACKOFF_MAX_SECONDS))
    return max(delay, float(retry_after or 0))


def _external_id(stream: Stream, data: dict[str, Any]) -> str:
    return ":".join(str(data.get(key, "")) for key in stream.primary_key)[:200]


#: Marks data hashes of the current form (``_serialise``); links written before it hold
#: ``_legacy_hash`` digests, recognised and replaced as their records come by again.
HASH_PREFIX = "2:"


def _serialise(data: dict[str, Any]) -> tuple[JsonText, str]:
    """A record's data as JSON text (written as is) and the hash of that text, which is
    how a later sync tells a changed record from an unchanged one.

    orjson with sorted keys: the same data always gives the same text, several times
    faster than the standard library (this runs for every record of every page).
    """
    try:
        raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=str)
    except (orjson.JSONEncodeError, TypeError):  # e.g. an integer beyond 64 bits
        raw = json.dumps(data, sort_keys=True, default=str).encode()
    digest = hashlib.blake2b(raw, digest_size=31).hexdigest()  # prefix + 62 = 64 chars
    return JsonText(raw.decode()), HASH_PREFIX + digest


def _legacy_hash(data: dict[str, Any]) -> str:
    """The data hash links stored before ``HASH_PREFIX``."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    cards: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: A first sync into a destination (no links when the run began): the external ids
    #: this run has stored (a superset: a page rolled back leaves its ids here). Only
    #: these can have links, so the rest of a page needs no lookup. None: look every id up.
    stored_ids: set[str] | None = None


#: Past this many ids a first sync stops remembering them and looks ids up like any other.
MAX_STORED_IDS = 1_000_000


def _known_links(
    destination: Destination, external_ids: list[str]
) -> dict[str, tuple[int, str, int, Any]]:
    """``{external id: (link id, data hash, record id, record deleted at)}`` for a page.

    On PostgreSQL the ids go as one array parameter (``= ANY``): a page of thousands of
    ids costs one bound value, not thousands of placeholders to build and plan.
    """
    from lowcode.models import Record

    if db_connection.vendor != "postgresql":
        found: dict[str, tuple[int, str, int, Any]] = {}
        for start in range(0, len(external_ids), 500):  # within any SQLite's parameter limit
            found.update(
                (row[0], row[1:])
                for row in SyncedRecord.objects.filter(
                    org_id=destination.org_id,
                    destination=destination,
                    external_id__in=external_ids[start : start + 500],
                ).values_list("external_id", "pk", "data_hash", "record_id", "record__deleted_at")
            )
        return found
    links, records = SyncedRecord._meta.db_table, Record._meta.db_table
    # One unique-index probe per id (LATERAL ... LIMIT 1 is never flattened): the plan stays
    # proportional to the page even when the planner has no statistics yet for a links
    # table that a first big sync is filling (``= ANY`` then scans the destination's links).
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.external_id, l.id, l.data_hash, l.record_id, r.deleted_at"  # noqa: S608
            " FROM unnest(%s::varchar[]) AS x(external_id)"
            " CROSS JOIN LATERAL (SELECT s.external_id, s.id, s.data_hash, s.record_id"
            f" FROM {links} s WHERE s.org_id = %s AND s.destination_id = %s"
            " AND s.external_id = x.external_id LIMIT 1) l"
            f" JOIN {records} r ON r.id = l.record_id",
            [external_ids, destination.org_id, destination.pk],
        )
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


#: Field types whose checking never touches the database (no references to resolve), so
#: a page can be checked in the read-ahead thread while the previous one is written.
_PURE_TYPES = frozenset(
    {
        "text",
        "long_text",
        "number",
        "money",
        "date",
        "datetime",
        "single_select",
        "multi_select",
        "checkbox",
        "phone",
        "email",
        "scanned_code",
        "serial",
        "computed",
        "created_by",
        "created_at",
    }
)


def _pure(fields: list[dict[str, Any]]) -> bool:
    return all(
        f["type"] in _PURE_TYPES
        or (f["type"] == "sub_table" and _pure(f.get("options", {}).get("columns", [])))
        for f in fields
    )


#: One record made ready to write: (external id, stored data, errors, hash of the data,
#: the data as JSON text).
Prepared = tuple[
    str, dict[str, Any] | None, dict[str, list[str]] | None, str | None, JsonText | None
]


def _prepare(
    destination: Destination, stream: Stream, batch: list[dict[str, Any]]
) -> list[Prepared]:
    """Everything about a page that needs no database: external ids, the mapping, checking
    against the form (one compiled validator for the page) and change-detection hashes."""
    from lowcode.actions import clean_many

    keys = stream.primary_key
    if len(keys) == 1:
        (key,) = keys
        ids = [str(data.get(key, ""))[:200] for data in batch]
    else:
        ids = [_external_id(stream, data) for data in batch]
    form = destination.form if destination.form_id is not None else None
    version = form.published_version if form is not None else None
    if form is None or version is None:
        return [(external_id, None, None, None, None) for external_id in ids]
    mapping = list(destination.mapping.items())
    good, bad = clean_many(
        form, version, [{k: data.get(source) for k, source in mapping} for data in batch]
    )
    out: list[Prepared] = [(external_id, None, None, None, None) for external_id in ids]
    for row, cleaned in good:
        text, digest = _serialise(cleaned)
        out[row - 1] = (ids[row - 1], cleaned, None, digest, text)
    for row, errors in bad.items():
        out[row - 1] = (ids[row - 1], None, errors, None, None)
    return out


def _write_batch(
    destination: Destination,
    stream: Stream,
    batch: list[dict[str, Any]],
    counts: Counts,
    prepared: list[Prepared] | None = None,
) -> None:
    """Upsert one batch into the destination's form (in the caller's transaction).

    ``prepared``: ``_prepare``'s result for ``batch`` if the read-ahead thread made it.
    Set-based: one query finds the batch's known links, new records and their links go in
    with one ``COPY`` each (PostgreSQL; ``bulk_create`` elsewhere) from plain rows, and
    changed records are rewritten with one UPDATE and one history insert.
    """
    from lowcode.actions import insert_record_rows, write_records_data
    from lowcode.models import Record

    if prepared is None:
        prepared = _prepare(destination, stream, batch)
    # The last version of each external record in the batch wins.
    latest: dict[str, int] = {}
    for index, item in enumerate(prepared):
        latest[item[0]] = index
    counts.read += len(batch)
    if destination.form_id is None:
        counts.cards += [("created", batch[i]) for i in latest.values()]
        return
    form = destination.form
    assert form is not None
    version = form.published_version
    if version is None:
        raise TransientError("The destination form is not published.")
    # Only what deciding needs (not the records' data): link id, hash, record, deleted?
    remembered = counts.stored_ids
    if remembered is None:
        known = _known_links(destination, list(latest))
    else:  # a first sync: only ids seen earlier in this run can be known
        again = [external_id for external_id in latest if external_id in remembered]
        known = _known_links(destination, again) if again else {}
    new: list[tuple[str, dict[str, Any], JsonText, str, int]] = []
    changed: dict[int, tuple[int, str, dict[str, Any], str, int]] = {}
    stale_links: list[int] = []
    rehash: list[SyncedRecord] = []
    for external_id, index in latest.items():
        _id, cleaned, errors, digest, text = prepared[index]
        if cleaned is None or digest is None or text is None:
            counts.failed += 1
            if len(counts.errors) < MAX_RECORD_ERRORS:
                counts.errors.append(
                    {"stream": stream.name, "external_id": external_id, "fields": errors or {}}
                )
            continue
        link = known.get(external_id) if known else None
        if link is None or link[3] is not None:  # never seen, or deleted in Tack
            if link is not None:
                stale_links.append(link[0])
            new.append((external_id, cleaned, text, digest, index))
        elif link[1] == digest:
            counts.unchanged += 1
        elif not link[1].startswith(HASH_PREFIX) and link[1] == _legacy_hash(cleaned):
            counts.unchanged += 1  # unchanged since a hash of the older form was stored
            rehash.append(SyncedRecord(pk=link[0], data_hash=digest))
        else:
            changed[link[2]] = (link[0], external_id, cleaned, digest, index)
    now = timezone.now()
    if rehash:
        SyncedRecord.objects.bulk_update(rehash, ["data_hash"], batch_size=500)
    if changed:
        records = list(
            Record.objects.filter(pk__in=list(changed)).order_by("pk").select_for_update()
        )
        write_records_data(
            [(record, dict(changed[record.pk][2])) for record in records], version, actor=None
        )
        SyncedRecord.objects.bulk_update(
            [
                SyncedRecord(pk=changed[r.pk][0], data_hash=changed[r.pk][3], synced_at=now)
                for r in records
            ],
            ["data_hash", "synced_at"],
        )
        counts.updated += len(records)
        counts.cards += [("changed", batch[changed[r.pk][4]]) for r in records]
    if stale_links:  # the new record replaces the one deleted in Tack
        SyncedRecord.objects.filter(pk__in=stale_links).delete()
    if not new:
        return
    _hold_destination(destination)
    record_ids = insert_record_rows(
        form,
        version,
        [cleaned for _e, cleaned, _t, _d, _i in new],
        actor=None,
        source=Record.Source.CONNECTOR,
        texts=[text for _e, _c, text, _d, _i in new],
    )
    org_id, destination_id = destination.org_id, destination.pk
    insert_rows(
        SyncedRecord,
        _LINK_COLUMNS,
        [
            (org_id, destination_id, external_id, record_id, digest, now)
            for (external_id, _c, _t, digest, _i), record_id in zip(new, record_ids, strict=True)
        ],
        returning=False,
    )
    counts.created += len(record_ids)
    if remembered is not None:
        remembered.update(external_id for external_id, _c, _t, _d, _i in new)
        if len(remembered) > MAX_STORED_IDS:
            counts.stored_ids = None
    counts.cards += [("created", batch[index]) for _e, _c, _t, _d, index in new]


def _hold_destination(destination: Destination) -> None:
    """Keep the destination from being deleted until this page commits, or stop if it is gone.

    The links have no database-level foreign keys (see ``SyncedRecord``): this one row
    lock per page (``FOR KEY SHARE``, what PostgreSQL's check took per link) does their
    work. A deletion locks the destination first (``actions.lock_for_delete``), so it
    waits for this page and then removes its links too; a page after it finds no row.
    """
    table = Destination._meta.db_table
    lock = " FOR KEY SHARE" if db_connection.vendor == "postgresql" else ""
    with db_connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s{lock}", [destination.pk])  # noqa: S608
        if cursor.fetchone() is None:
            raise Cancelled  # deleted while syncing: nothing more of this page is kept


_LINK_COLUMNS = ("org_id", "destination_id", "external_id", "record_id", "data_hash", "synced_at")


def _flush(
    run: SyncRun,
    destination: Destination,
    stream: Stream,
    batch: list[dict[str, Any]],
    state: dict[str, Any] | None,
    counts: Counts,
    *,
    rereadable: bool = False,
    prepared: list[Prepared] | None = None,
) -> None:
    """Records and (if given) their checkpoint, in one transaction, with the run's counters
    and progress (one UPDATE, which also notices a cancel: then nothing is kept).

    ``rereadable``: the records can be read from the source again (a pull), so the commit
    need not wait for the disk flush (PostgreSQL's ``synchronous_commit`` off for this
    transaction). A database crash can lose only the last few batches, never part of one,
    and their checkpoint goes with them: the next run reads them again. Pushed records
    exist nowhere else and are always committed durably.
    """
    before = (counts.read, counts.created, counts.updated, counts.unchanged, counts.failed)
    cards_before = len(counts.cards)
    errors_before = len(counts.errors)
    with transaction.atomic():
        if rereadable and db_connection.vendor == "postgresql":
            with db_connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        if batch:
            _write_batch(destination, stream, batch, counts, prepared)
        if state is not None:
            stored = StreamState.objects.filter(
                org_id=destination.org_id, destination=destination
            ).update(state=state, updated_at=timezone.now())
            if not stored:
                StreamState.objects.create(
                    org_id=destination.org_id,
                    destination=destination,
                    state=state,
                    updated_at=timezone.now(),
                )
        read, created, updated, unchanged, failed = (
            counts.read - before[0],
            counts.created - before[1],
            counts.updated - before[2],
            counts.unchanged - before[3],
            counts.failed - before[4],
        )
        progress = dict(run.progress)
        entry = dict(progress.get(stream.name, {"read": 0, "done": False}))
        entry["read"] = entry.get("read", 0) + read
        progress[stream.name] = entry
        values: dict[str, Any] = {
            "read_count": F("read_count") + read,
            "created_count": F("created_count") + created,
            "updated_count": F("updated_count") + updated,
            "unchanged_count": F("unchanged_count") + unchanged,
            "failed_count": F("failed_count") + failed,
            "progress": progress,
        }
        if len(counts.errors) != errors_before:
            values["record_errors"] = counts.errors
        if not SyncRun.objects.filter(pk=run.pk, cancel_requested=False).update(**values):
            raise Cancelled  # rolls this batch back: a cancelled run stores nothing more
        run.progress = progress
        new_cards = counts.cards[cards_before:]
        if new_cards:
            _post_cards(destination, stream, new_cards)


def _post_cards(
    destination: Destination, stream: Stream, cards: list[tuple[str, dict[str, Any]]]
) -> None:
    """Chat cards for new (and, if chosen, changed) records, after the batch commits."""
    if destination.conversation_id is None or destination.bot_id is None:
        return
    if destination.card_on == Destination.CardOn.NEVER:
        return
    wanted = [
        (kind, data)
        for kind, data in cards
        if kind == "created" or destination.card_on == Destination.CardOn.CHANGED
    ][:20]  # a first full sync must not flood the chat
    if not wanted:
        return
    labels = {f.name: f.label or f.name for f in stream.fields}

    def post() -> None:
        from im.bots import do_post_bot_message

        bot, conversation = destination.bot, destination.conversation
        if bot is None or conversation is None or not bot.is_active:
            return
        for kind, data in wanted:
            title = _title(destination.card_title, data, kind, stream)
            card = {
                "title": title[:150],
                "fields": [
                    {
                        "label": str(labels.get(name, name))[:100],
                        "value": str(data.get(name, ""))[:2000],
                    }
                    for name in destination.card_fields
                ],
            }
            try:
                do_post_bot_message(bot, conversation, text=title[:2000], card=card)
            except Exception:
                logger.exception("connector card for destination %s failed", destination.pk)

    transaction.on_commit(post)


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _title(template: str, data: dict[str, Any], kind: str, stream: Stream) -> str:
    if template:
        try:
            return template.format_map(
                _Defaulting({k: "" if v is None else v for k, v in data.items()})
            )
        except (ValueError, IndexError, AttributeError):
            pass
    verb = "New" if kind == "created" else "Changed"
    return f"{verb} {stream.label.lower()}: {_external_id(stream, data)}"


_bulk_lock = threading.Lock()
_bulk_state: dict[str, Any] = {"runs": 0, "switch": 0.005, "gc": (700, 10, 10)}


@contextlib.contextmanager
def _bulk_mode() -> Iterator[None]:
    """Interpreter settings for the length of a sync (process-wide; the usual ones are
    back once the last sync in the process ends).

    * A short thread switch interval (``SWITCH_INTERVAL_S``): the writer waits on the
      database many times a page, and each time must take the GIL back from the page
      reader, which by default keeps it up to 5 ms.
    * Rarer young-generation garbage collections (``GC_THRESHOLD``): a page makes tens of
      thousands of short-lived, acyclic objects, and the default threshold (700) ran a
      collection every few records.
    Measured together: about a third more rows per second (docs/BENCHMARKS.md).
    """
    with _bulk_lock:
        if _bulk_state["runs"] == 0:
            _bulk_state["switch"] = sys.getswitchinterval()
            _bulk_state["gc"] = gc.get_threshold()
            sys.setswitchinterval(min(_bulk_state["switch"], SWITCH_INTERVAL_S))
            gc.set_threshold(*GC_THRESHOLD)
        _bulk_state["runs"] += 1
    try:
        yield
    finally:
        with _bulk_lock:
            _bulk_state["runs"] -= 1
            if _bulk_state["runs"] == 0:
                sys.setswitchinterval(_bulk_state["switch"])
                gc.set_threshold(*_bulk_state["gc"])


class _ReadAhead:
    """The connector's ``read`` in a thread, a few pages ahead of the writer.

    While a page is being stored the next one is already on its way (a remote source
    answers while the database writes), and, given ``prepare``, already checked against
    the form. Messages come out in the source's order, each record with its prepared
    form (or None), and an error the source raises comes out where it happened, after the
    records read before it. Only for connectors that declare ``read_ahead`` (their
    ``read`` touches no Django database state, which is per thread).
    """

    _END = object()

    def __init__(
        self,
        messages: Iterator[Any],
        prepare: Callable[[list[dict[str, Any]]], list[Prepared]] | None = None,
        depth: int = READ_AHEAD_PAGES,
    ) -> None:
        from django.utils import translation

        self.messages = messages
        self.prepare = prepare
        self.language = translation.get_language()  # error messages as the writer's
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, name="tack-sync-read", daemon=True)
        self.thread.start()

    def _ready(self, records: list[dict[str, Any]]) -> list[Prepared]:
        if self.prepare is None or not records:
            return []
        try:
            return self.prepare(records)
        except Exception:  # the writer prepares the page itself, and reports what fails
            logger.warning("preparing a page ahead failed; the writer will", exc_info=True)
            return []

    def _put(self, chunk: Any) -> bool:
        if self.stop.is_set():
            return False
        item: Any = chunk
        if isinstance(chunk, list):
            ready = iter(self._ready([m.data for m in chunk if isinstance(m, RecordMessage)]))
            item = [(m, next(ready, None) if isinstance(m, RecordMessage) else None) for m in chunk]
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        from django.db import connections
        from django.utils import translation

        if self.language:
            translation.activate(self.language)
        chunk: list[Any] = []
        try:
            for message in self.messages:
                chunk.append(message)
                if isinstance(message, StateMessage) or len(chunk) >= BATCH:
                    if not self._put(chunk):
                        return
                    chunk = []
            if chunk and not self._put(chunk):
                return
            self._put(self._END)
        except BaseException as exc:  # handed to the writer, raised there
            # Records after the last checkpoint are dropped, as a failing read in the
            # writer's own thread drops them: the next attempt reads them again.
            self._put(exc)
        finally:
            close = getattr(self.messages, "close", None)
            if close is not None:
                close()
            connections.close_all()  # this thread's own, if the connector opened any

    def __iter__(self) -> Iterator[tuple[Any, Prepared | None]]:
        while True:
            item = self.queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item

    def close(self, wait_seconds: float = 5.0) -> None:
        """Stop reading. A source call under way is not waited for beyond ``wait_seconds``:
        the thread (a daemon) ends by itself when it returns, putting nothing more."""
        self.stop.set()
        deadline = time.monotonic() + wait_seconds
        while self.thread.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.1)
            self.thread.join(timeout=0.1)


def _sync_destination(run: SyncRun, destination: Destination, config: dict[str, Any]) -> None:
    with _bulk_mode():
        _sync_stream(run, destination, config)


def _sync_stream(run: SyncRun, destination: Destination, config: dict[str, Any]) -> None:
    connector = connector_registry.get(destination.connection.type)
    stream = connector.stream(config, destination.stream)
    stored = StreamState.objects.filter(org_id=run.org_id, destination=destination).first()
    state = None if run.full_refresh or stored is None else dict(stored.state)
    counts = Counts()
    # Only this run writes the destination's links (one live run per connection).
    if not SyncedRecord.objects.filter(org_id=run.org_id, destination=destination).exists():
        counts.stored_ids = set()
    batch: list[dict[str, Any]] = []
    ready: list[Prepared | None] = []
    messages = connector.read(config, stream, state, batch_size=BATCH)
    reader = None
    if getattr(connector, "read_ahead", False):
        form = destination.form if destination.form_id is not None else None
        version = form.published_version if form is not None else None
        # Checking a page in the reader thread needs no database (no references).
        pure = version is None or _pure(version.fields)

        def prepare(records: list[dict[str, Any]]) -> list[Prepared]:
            return _prepare(destination, stream, records)

        reader = _ReadAhead(messages, prepare if pure else None)

    def flush(state: dict[str, Any] | None) -> None:
        prepared = None
        if ready and all(item is not None for item in ready):
            prepared = [item for item in ready if item is not None]
        _flush(run, destination, stream, batch, state, counts, rereadable=True, prepared=prepared)

    try:
        pairs = reader if reader is not None else ((m, None) for m in messages)
        for message, item in pairs:
            if isinstance(message, RecordMessage):
                batch.append(message.data)
                ready.append(item)
                if len(batch) >= FLUSH_LIMIT:  # a source that checkpoints rarely or never
                    flush(None)
                    batch, ready = [], []
            elif isinstance(message, StateMessage):
                flush(message.state)
                batch, ready = [], []
    finally:
        if reader is not None:
            reader.close()
    if batch:  # records after the last checkpoint (a source that checkpoints rarely)
        flush(None)
    # Only this run writes its progress (each page's ``_flush`` keeps ``run.progress``).
    progress = dict(run.progress)
    progress[stream.name] = {**progress.get(stream.name, {"read": 0}), "done": True}
    # Also where a cancel made after the last page (or during a read that found nothing)
    # is noticed: the run ends cancelled and reads no further destination.
    if not SyncRun.objects.filter(pk=run.pk, cancel_requested=False).update(progress=progress):
        raise Cancelled
    run.progress = progress


def run_sync(run_id: int) -> SyncRun:
    """One attempt of a run. Raises ``TransientError`` when the caller should retry."""
    run = SyncRun.objects.select_related("connection").get(pk=run_id)
    if run.state in (SyncRun.State.SUCCEEDED, SyncRun.State.FAILED, SyncRun.State.CANCELLED):
        return run
    if run.cancel_requested:
        return _finish(run, SyncRun.State.CANCELLED)
    connection = run.connection
    SyncRun.objects.filter(pk=run.pk).update(
        state=SyncRun.State.RUNNING,
        started_at=run.started_at or timezone.now(),
        attempt=F("attempt") + 1,
        next_retry_at=None,
    )
    run.refresh_from_db()
    try:
        config = full_config(connection)
        destinations = connection.destinations.filter(enabled=True).select_related(
            "form__published_version", "connection", "conversation", "bot"
        )
        for destination in destinations:
            _sync_destination(run, destination, config)
    except Cancelled:
        return _finish(run, SyncRun.State.CANCELLED)
    except TransientError as exc:
        run.refresh_from_db()
        if run.attempt >= MAX_ATTEMPTS:
            return _finish(run, SyncRun.State.FAILED, exc)
        delay = backoff_seconds(run.attempt, exc.retry_after)
        SyncRun.objects.filter(pk=run.pk).update(
            state=SyncRun.State.RETRYING,
            error_kind=exc.kind,
            error_message=exc.message[:1000],
            next_retry_at=timezone.now() + timedelta(seconds=delay),
        )
        raise
    except ConnectorError as exc:
        return _finish(run, SyncRun.State.FAILED, exc)
    return _finish(run, SyncRun.State.SUCCEEDED)


def _finish(run: SyncRun, state: str, error: ConnectorError | None = None) -> SyncRun:
    values: dict[str, Any] = {"state": state, "finished_at": timezone.now(), "next_retry_at": None}
    if error is not None:
        values.update(error_kind=error.kind, error_message=error.message[:1000])
    elif state == SyncRun.State.SUCCEEDED:
        values.update(error_kind="", error_message="")
    if not SyncRun.objects.filter(pk=run.pk).update(**values):
        run.state = state  # deleted with its connection while it ran: nothing to record
        return run
    connection = run.connection
    Connection.objects.filter(pk=connection.pk).update(next_sync_at=next_sync_time(connection))
    run.refresh_from_db()
    for hook in SYNC_FINISHED:
        hook(run)
    return run


#: ``hook(run)`` after a sync run ends (succeeded, failed or cancelled); e.g. app webhooks.
SYNC_FINISHED: list[Callable[[SyncRun], None]] = []


def due_connections() -> list[Connection]:
    return list(
        Connection.objects.filter(
            enabled=True, next_sync_at__isnull=False, next_sync_at__lte=timezone.now()
        )[:200]
    )
