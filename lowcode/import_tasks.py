"""The Celery task that runs a CSV/XLSX import (see ``lowcode.imports``)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="lowcode.run_import", acks_late=True)
def run_import_task(job_id: int) -> None:
    from lowcode.imports import run_import

    run_import(job_id)
