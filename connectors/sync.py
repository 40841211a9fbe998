"""The sync engine: read a connection's streams and upsert them into forms and chat.

For each enabled destination, the connector's ``read`` is resumed from the stored
checkpoint. Records are upserted by primary key (``SyncedRecord`` maps external ids to
low-code records) in batches; each checkpoint the connector yields is stored **in the same
transaction** as the records read before it. So a worker killed mid-run resumes at the
last checkpoint: records after it are read again and upserted again (no duplicates), and
nothing before it is skipped (no gaps).

Errors: a record that does not fit the form is counted as failed and reported on the run
(the rest go on). A ``TransientError`` ends the attempt and the task retries with
exponential backoff (or the connector's ``retry_after``) until ``MAX_ATTEMPTS``; then the
run is failed, visibly, with the error. A ``ConfigError`` or ``SourceSystemError`` fails
the run at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

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
from core.bulk import bulk_insert

logger = logging.getLogger(__name__)

BATCH = 500
MAX_ATTEMPTS = 6
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


def _hash(data: dict[str, Any]) -> str:
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


def _map(destination: Destination, data: dict[str, Any]) -> dict[str, Any]:
    return {key: data.get(source) for key, source in destination.mapping.items()}


def _write_batch(
    destination: Destination, stream: Stream, batch: list[dict[str, Any]], counts: Counts
) -> None:
    """Upsert one batch into the destination's form (in the caller's transaction)."""
    from lowcode.actions import clean_many, insert_records, write_record_data
    from lowcode.models import Record

    # The last version of each external record in the batch wins.
    latest: dict[str, dict[str, Any]] = {}
    for data in batch:
        latest[_external_id(stream, data)] = data
    counts.read += len(batch)
    if destination.form_id is None:
        counts.cards += [("created", d) for d in latest.values()]
        return
    form = destination.form
    assert form is not None
    version = form.published_version
    if version is None:
        raise TransientError("The destination form is not published.")
    # Only what deciding needs (not the records' data): link id, hash, record, deleted?
    known = {
        row[0]: row[1:]
        for row in SyncedRecord.objects.filter(
            org_id=destination.org_id, destination=destination, external_id__in=list(latest)
        ).values_list("external_id", "pk", "data_hash", "record_id", "record__deleted_at")
    }
    ids = list(latest)
    good, bad = clean_many(form, version, [_map(destination, latest[i]) for i in ids])
    for row, errors in bad.items():
        counts.failed += 1
        if len(counts.errors) < MAX_RECORD_ERRORS:
            counts.errors.append(
                {"stream": stream.name, "external_id": ids[row - 1], "fields": errors}
            )
    new: list[tuple[str, dict[str, Any], str]] = []
    changed: dict[int, tuple[int, str, dict[str, Any], str]] = {}
    stale_links: list[int] = []
    for row, cleaned in good:
        external_id = ids[row - 1]
        digest = _hash(cleaned)
        link = known.get(external_id)
        if link is None or link[3] is not None:  # never seen, or deleted in Tack
            if link is not None:
                stale_links.append(link[0])
            new.append((external_id, cleaned, digest))
        elif link[1] == digest:
            counts.unchanged += 1
        else:
            changed[link[2]] = (link[0], external_id, cleaned, digest)
    if changed:
        now = timezone.now()
        for record in Record.objects.filter(pk__in=list(changed)).select_for_update():
            link_id, external_id, cleaned, digest = changed[record.pk]
            write_record_data(record, version, dict(cleaned), actor=None)
            SyncedRecord.objects.filter(pk=link_id).update(data_hash=digest, synced_at=now)
            counts.updated += 1
            counts.cards.append(("changed", latest[external_id]))
    records = insert_records(
        form, version, [dict(c) for _e, c, _d in new], actor=None, source=Record.Source.CONNECTOR
    )
    if stale_links:  # the new record replaces the one deleted in Tack
        SyncedRecord.objects.filter(pk__in=stale_links).delete()
    bulk_insert(
        [
            SyncedRecord(
                org_id=destination.org_id,
                destination=destination,
                external_id=external_id,
                record=record,
                data_hash=digest,
            )
            for (external_id, _cleaned, digest), record in zip(new, records, strict=True)
        ]
    )
    counts.created += len(records)
    counts.cards += [("created", latest[e]) for e, _c, _d in new]


def _flush(
    run: SyncRun,
    destination: Destination,
    stream: Stream,
    batch: list[dict[str, Any]],
    state: dict[str, Any] | None,
    counts: Counts,
) -> None:
    """Records and (if given) their checkpoint, in one transaction; then progress."""
    before = (counts.read, counts.created, counts.updated, counts.unchanged, counts.failed)
    cards_before = len(counts.cards)
    with transaction.atomic():
        if SyncRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
            raise Cancelled
        if batch:
            _write_batch(destination, stream, batch, counts)
        if state is not None:
            StreamState.objects.update_or_create(
                org_id=destination.org_id,
                destination=destination,
                defaults={"state": state, "updated_at": timezone.now()},
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
        run.progress = progress
        SyncRun.objects.filter(pk=run.pk).update(
            read_count=F("read_count") + read,
            created_count=F("created_count") + created,
            updated_count=F("updated_count") + updated,
            unchanged_count=F("unchanged_count") + unchanged,
            failed_count=F("failed_count") + failed,
            progress=progress,
        )
        if counts.errors:
            SyncRun.objects.filter(pk=run.pk).update(record_errors=counts.errors)
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


def _sync_destination(run: SyncRun, destination: Destination, config: dict[str, Any]) -> None:
    connector = connector_registry.get(destination.connection.type)
    stream = connector.stream(config, destination.stream)
    stored = StreamState.objects.filter(org_id=run.org_id, destination=destination).first()
    state = None if run.full_refresh or stored is None else dict(stored.state)
    counts = Counts()
    batch: list[dict[str, Any]] = []
    for message in connector.read(config, stream, state, batch_size=BATCH):
        if isinstance(message, RecordMessage):
            batch.append(message.data)
            if len(batch) >= BATCH:
                _flush(run, destination, stream, batch, None, counts)
                batch = []
        elif isinstance(message, StateMessage):
            _flush(run, destination, stream, batch, message.state, counts)
            batch = []
    _flush(run, destination, stream, batch, None, counts)
    progress = dict(SyncRun.objects.values_list("progress", flat=True).get(pk=run.pk))
    progress[stream.name] = {**progress.get(stream.name, {"read": 0}), "done": True}
    SyncRun.objects.filter(pk=run.pk).update(progress=progress)
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
    SyncRun.objects.filter(pk=run.pk).update(**values)
    connection = run.connection
    Connection.objects.filter(pk=connection.pk).update(next_sync_at=next_sync_time(connection))
    run.refresh_from_db()
    return run


def due_connections() -> list[Connection]:
    return list(
        Connection.objects.filter(
            enabled=True, next_sync_at__isnull=False, next_sync_at__lte=timezone.now()
        )[:200]
    )
