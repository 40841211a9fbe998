"""Low-code background work."""

from __future__ import annotations

from celery import shared_task

from lowcode.approval_tasks import *  # noqa: F403  (registers the approval tasks)
from lowcode.import_tasks import run_import_task  # noqa: F401  (registers the import task)
from lowcode.indexes import sync_form_indexes


@shared_task(name="lowcode.sync_indexes", acks_late=True)
def sync_indexes(form_id: int) -> list[str]:
    return sync_form_indexes(form_id)
