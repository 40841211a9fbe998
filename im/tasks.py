"""Background work for chat: DING reminders."""

from __future__ import annotations

from celery import shared_task

from im import ding


@shared_task
def send_ding_reminders() -> int:
    """Beat, every minute: remind each due DING once, then queue one e-mail per recipient.

    The reminders are claimed and committed before any e-mail is queued, so a slow or failing
    mail server never holds row locks and never causes a second reminder.
    """
    due = ding.do_send_due_reminders()
    for item in due:
        send_ding_reminder_email.delay(item.receipt_id, item.reminder)
    return len(due)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_ding_reminder_email(receipt_id: int, reminder: int) -> bool:
    return ding.send_reminder_email(receipt_id, reminder)


@shared_task
def prune_events() -> int:
    """Beat, daily: drop stored real-time events older than the catch-up window."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from im.models import Event

    cutoff = timezone.now() - timedelta(days=settings.IM_EVENT_RETENTION_DAYS)
    deleted, _by_model = Event.objects.filter(created_at__lt=cutoff).delete()
    return int(deleted)
