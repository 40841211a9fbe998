"""``manage.py dag_rollup [--date D | --from A --to B] [--definition N]``.

Computes the daily DAG rollup (default: yesterday). Recomputing is idempotent: a day's rows
are replaced. Without ``--definition`` each day uses the definition current on that day.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.errors import TackError
from core.metrics.rollup import rollup_range


def _date(raw: str, name: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"{name}: {raw!r} is not a date like 2026-01-31.") from None


class Command(BaseCommand):
    help = "Compute the daily DAG metrics for a day or a range of days (default: yesterday)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="One day, YYYY-MM-DD.")
        parser.add_argument("--from", dest="start", help="First day of a range, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", help="Last day of a range (default: yesterday).")
        parser.add_argument(
            "--definition", type=int, help="Use this definition version for every day."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        if options["date"] and (options["start"] or options["end"]):
            raise CommandError("Give either --date or --from/--to, not both.")
        if options["date"]:
            start = end = _date(options["date"], "--date")
        elif options["start"] or options["end"]:
            if not options["start"]:
                raise CommandError("--to needs --from.")
            start = _date(options["start"], "--from")
            end = _date(options["end"], "--to") if options["end"] else yesterday
        else:
            start = end = yesterday
        try:
            summaries = rollup_range(start, end, options["definition"])
        except TackError as exc:
            raise CommandError(exc.message) from exc
        for s in summaries:
            self.stdout.write(
                f"{s.day}: {s.orgs} organisations, {s.dag} DAG, {s.deep} deeply integrated, "
                f"DAU {s.dau}, MAU {s.mau} (definition v{s.definition_version})"
            )
