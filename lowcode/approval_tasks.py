"""Approval background work: reminders for overdue approval tasks."""

from __future__ import annotations

from celery import shared_task

from lowcode.approvals import send_due_reminders


@shared_task(name="lowcode.send_approval_reminders")
def send_approval_reminders() -> int:
    return send_due_reminders()


__all__ = ["send_approval_reminders"]
