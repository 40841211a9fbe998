"""Connector background work: sync runs (retried with backoff) and the scheduler."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from connectors.registries import TransientError


@shared_task(
    bind=True,
    name="connectors.run_sync",
    acks_late=True,  # a worker killed mid-run leaves the message for another worker
    reject_on_worker_lost=True,
    max_retries=None,  # the run counts its own attempts (connectors.sync.MAX_ATTEMPTS)
)
def run_sync_task(self: Any, run_id: int) -> str:
    from connectors.models import SyncRun
    from connectors.sync import run_sync

    try:
        return run_sync(run_id).state
    except TransientError as exc:
        run = SyncRun.objects.get(pk=run_id)
        wait = (run.next_retry_at - timezone.now()).total_seconds() if run.next_retry_at else 30
        raise self.retry(exc=exc, countdown=max(1.0, wait)) from exc


@shared_task(name="connectors.schedule_due")
def schedule_due_syncs() -> int:
    """Queue a run for every connection whose schedule is due (beat, every minute)."""
    from connectors.actions import do_request_sync, next_sync_time
    from connectors.models import Connection, SyncRun
    from connectors.sync import due_connections
    from core.errors import Conflict

    queued = 0
    for connection in due_connections():
        Connection.objects.filter(pk=connection.pk).update(next_sync_at=next_sync_time(connection))
        try:
            _run, created = do_request_sync(None, connection, trigger=SyncRun.Trigger.SCHEDULE)
        except Conflict:
            continue
        queued += created
    return queued
