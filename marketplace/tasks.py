"""Marketplace background work: webhook deliveries and the sweep that retries due ones."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(
    name="marketplace.deliver_webhooks",
    acks_late=True,  # a worker killed mid-batch leaves it to another (the lease expires)
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver_webhooks(delivery_ids: list[int]) -> dict[str, int]:
    """Attempt these deliveries once each (those still due and not claimed elsewhere)."""
    from marketplace.webhooks import deliver_batch

    outcome = deliver_batch(delivery_ids)
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        # A quick first retry need not wait for the sweep; the sweep stays the safety net.
        for delivery_id, wait in outcome.retry_soon:
            if wait <= 60:
                deliver_webhooks.apply_async(([delivery_id],), countdown=wait + 0.5)
    return {
        "delivered": outcome.delivered,
        "retrying": outcome.retrying,
        "failed": outcome.failed,
        "cancelled": outcome.cancelled,
    }


@shared_task(name="marketplace.webhooks_due", ignore_result=True)
def deliver_due_webhooks() -> int:
    """Beat: hand every due pending delivery (retries, expired leases) to the workers."""
    from marketplace.webhooks import enqueue, take_due_delivery_ids

    ids = take_due_delivery_ids()
    if ids:
        enqueue(ids)
    return len(ids)


@shared_task(name="marketplace.prune_webhook_deliveries", ignore_result=True)
def prune_webhook_deliveries() -> int:
    """Beat, daily: forget finished deliveries (and their attempts) past the retention."""
    from datetime import timedelta

    from django.utils import timezone

    from marketplace.models import WebhookDelivery

    days = int(getattr(settings, "TACK_WEBHOOK_RETENTION_DAYS", 30))
    old = WebhookDelivery.objects.filter(created_at__lt=timezone.now() - timedelta(days=days))
    deleted, _by_model = old.exclude(status=WebhookDelivery.Status.PENDING).delete()
    return deleted


@shared_task(name="marketplace.clear_expired_oauth_tokens", ignore_result=True)
def clear_expired_oauth_tokens() -> None:
    """Beat, daily: drop expired OAuth access tokens, refresh tokens and authorization codes
    (django-oauth-toolkit's own cleanup; their installation bindings go with them)."""
    from oauth2_provider.models import clear_expired

    clear_expired()
