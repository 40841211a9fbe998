"""Celery beat for the embedded default: runs the beat schedule inside the web process.

Production runs ``celery -A config beat`` next to the workers. The embedded default has no
broker and no beat process, so without this DING reminders and other periodic jobs would
never run in ``make demo``. A daemon thread walks ``CELERY_BEAT_SCHEDULE`` (entries whose
schedule is a number of seconds) and runs each due task eagerly, in process.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger("tack.embedded_beat")
_started = threading.Event()


def _run(schedule: dict[str, dict[str, Any]], tick: float) -> None:
    from config.celery import app

    due_at = {name: time.monotonic() + float(entry["schedule"]) for name, entry in schedule.items()}
    while True:
        time.sleep(tick)
        now = time.monotonic()
        for name, entry in schedule.items():
            if now < due_at[name]:
                continue
            due_at[name] = now + float(entry["schedule"])
            try:
                app.tasks[entry["task"]].apply()
            except Exception:  # one failing job must not stop the others
                logger.exception("embedded beat: %s failed", name)
            finally:
                close_old_connections()


def start_embedded_beat(*, tick: float = 5.0) -> bool:
    """Start the scheduler thread once per process, in the embedded default only."""
    if not (settings.EMBEDDED and settings.CELERY_TASK_ALWAYS_EAGER):
        return False
    if not getattr(settings, "TACK_EMBEDDED_BEAT", True) or _started.is_set():
        return False
    schedule = {
        name: entry
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if isinstance(entry.get("schedule"), int | float)
    }
    _started.set()
    threading.Thread(target=_run, args=(schedule, tick), name="embedded-beat", daemon=True).start()
    logger.info("embedded beat: running %s", ", ".join(sorted(schedule)) or "nothing")
    return True
