"""Celery tasks of billing: the daily billing run and partner statements.

Beat entries (``config/settings/base.py``): ``marketplace-billing-run`` hourly (the run
is idempotent: an hour with nothing due costs one query) and
``marketplace-partner-statements`` daily (regenerates the current and previous month).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task
from django.utils import timezone


@shared_task(name="marketplace.billing_tasks.run_billing", acks_late=True)
def run_billing_task(on: str | None = None) -> dict[str, Any]:
    """Bill everything due on ``on`` (ISO date; default today). Safe to run twice, and
    safe to rerun after a worker died mid-way: whole chunks committed, the rest still due."""
    from marketplace.billing import run_billing

    day = dt.date.fromisoformat(on) if on else timezone.localdate()
    return run_billing(day).as_dict()


@shared_task(name="marketplace.billing_tasks.partner_statements")
def partner_statements_task() -> int:
    from marketplace.ledger import do_generate_statements
    from marketplace.models import Partner

    first = timezone.localdate().replace(day=1)
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    count = 0
    for partner in Partner.objects.all():
        for month in (previous, first):
            count += len(do_generate_statements(partner, month))
    return count
