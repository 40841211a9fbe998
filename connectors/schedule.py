"""When connections sync next: fixed intervals or cron expressions (croniter)."""

from __future__ import annotations

from datetime import datetime

from croniter import CroniterBadCronError, croniter  # type: ignore[import-untyped]
from django.utils.translation import gettext as _


def next_cron_time(expression: str, after: datetime) -> datetime:
    """The next time ``expression`` (five fields, server time zone) fires after ``after``.

    Raises ValueError with a readable message for an invalid expression or one that fires
    more often than every 5 minutes.
    """
    expression = (expression or "").strip()
    if len(expression.split()) != 5:
        raise ValueError(_("Write a cron schedule with five fields, e.g. 0 */2 * * *."))
    try:
        times = croniter(expression, after)
        first: datetime = times.get_next(datetime)
        second: datetime = times.get_next(datetime)
    except (CroniterBadCronError, ValueError, KeyError):
        raise ValueError(_("This is not a valid cron schedule.")) from None
    if (second - first).total_seconds() < 300:
        raise ValueError(_("Connections sync at most every 5 minutes."))
    return first
