"""``manage.py bill [--date YYYY-MM-DD] [--chunk-size N]``: the billing run, by hand.

Idempotent: running it twice bills once. ``--progress`` prints one line per committed
chunk (the fault test reads them to kill the process part-way).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from marketplace.billing import BillingReport, run_billing


class Command(BaseCommand):
    help = "Invoice (and auto-charge) every subscription due on a date. Safe to repeat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the billing date (default: today)")
        parser.add_argument("--chunk-size", type=int, default=2000)
        parser.add_argument("--progress", action="store_true", help="a line per chunk")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            on = dt.date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError("--date must be YYYY-MM-DD") from exc
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be positive")

        def progress(n: int, report: BillingReport) -> None:
            if options["progress"]:
                self.stdout.write(f"chunk {n} committed: {report.invoices} invoices")
                self.stdout.flush()

        report = run_billing(
            on or timezone.localdate(), chunk_size=options["chunk_size"], after_chunk=progress
        )
        self.stdout.write(json.dumps(report.as_dict()))
