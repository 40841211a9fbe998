"""The embedded default runs periodic jobs in process, so DING reminders fire in `make demo`."""

import time

import pytest

from core import embedded_beat


def test_runs_each_due_task_on_its_interval(settings, monkeypatch):
    from config.celery import app

    calls = []

    @app.task(name="tests.embedded_beat_probe")
    def probe():
        calls.append(time.monotonic())

    schedule = {"probe": {"task": "tests.embedded_beat_probe", "schedule": 0.05}}
    import threading

    thread = threading.Thread(target=embedded_beat._run, args=(schedule, 0.01), daemon=True)
    thread.start()
    deadline = time.monotonic() + 2
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) >= 3


@pytest.mark.parametrize(
    "embedded,eager,enabled", [(False, True, True), (True, False, True), (True, True, False)]
)
def test_only_starts_in_the_embedded_default(settings, monkeypatch, embedded, eager, enabled):
    monkeypatch.setattr(embedded_beat, "_started", type(embedded_beat._started)())
    settings.EMBEDDED, settings.CELERY_TASK_ALWAYS_EAGER, settings.TACK_EMBEDDED_BEAT = (
        embedded,
        eager,
        enabled,
    )
    assert embedded_beat.start_embedded_beat() is False


def test_the_ding_reminder_and_pruning_jobs_are_scheduled(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"im.tasks.send_ding_reminders", "im.tasks.prune_events"} <= tasks
