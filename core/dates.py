"""Reading dates and times from user input without exceptions.

Django's ``parse_date``/``parse_datetime`` return None for text that is not shaped like
a date but raise ``ValueError`` for a well-shaped impossible one ("2026-13-01",
"2026-02-30T10:00"); input checks want one answer for both: None, then a clear 400.
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils.dateparse import parse_date, parse_datetime


def parse_day(text: str) -> date | None:
    try:
        return parse_date(text)
    except ValueError:
        return None


def parse_moment(text: str) -> datetime | None:
    try:
        return parse_datetime(text)
    except ValueError:
        return None
