"""Event webhooks to apps (deliveries and their attempts) and cool-app chat bindings.

A ``WebhookDelivery`` is one event for one installation: it is created pending, sent by a
Celery worker, retried on the schedule ``TACK_WEBHOOK_RETRY_SCHEDULE`` while the app does
not answer 2xx, and ends delivered, failed (retries spent: the dead letter, which a
partner may replay) or cancelled (the app was uninstalled). Every attempt is kept as a
``WebhookAttempt`` for the delivery log.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Membership, Organization
from marketplace.models.apps import App, Installation


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="webhook_deliveries")
    # The Standard Webhooks ``webhook-id``: the same on every attempt and on replays, so
    # the receiver can drop a message it has already processed.
    message_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker's lease on a pending delivery (``claim`` is its token): another worker (or
    # the beat sweep) leaves it alone until the lease runs out.
    claim = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    replays = models.PositiveIntegerField(default=0)
    # Attempts made before the current round of retries (creation: 0; a replay: all so far).
    round_start = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "installation", "message_id"], name="webhook_delivery_unique"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["app", "-id"], name="webhook_delivery_app"),
            models.Index(fields=["org", "installation", "-id"], name="webhook_delivery_inst"),
        ]

    def __str__(self) -> str:
        return f"webhook delivery {self.pk} ({self.event_type}, {self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what was answered, how fast, or what went wrong."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(default=timezone.now)
    url = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    # The start of the answer, for the partner's debugging (never the request's secrets).
    response_body = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["delivery", "id"], name="webhook_attempt_delivery"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class CoolAppBinding(models.Model):
    """An installed app added to a group chat: its bot there posts the app's cards, and
    clicks on them reach the app signed. Removing the app (or uninstalling it) deactivates
    the binding and its bot."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="cool_app_bindings"
    )
    conversation = models.ForeignKey(
        "im.Conversation", on_delete=models.CASCADE, related_name="cool_app_bindings"
    )
    bot = models.ForeignKey("im.Bot", on_delete=models.CASCADE, related_name="cool_app_bindings")
    # Which of the manifest's card definitions (``cards[].id``): its callback URL gets clicks.
    card_id = models.CharField(max_length=40, blank=True)
    added_by = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "installation", "conversation"],
                condition=Q(is_active=True),
                name="cool_app_one_active_per_chat",
            ),
            models.UniqueConstraint(fields=["org", "bot"], name="cool_app_one_per_bot"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["org", "conversation", "is_active"], name="cool_app_chat"),
        ]

    def __str__(self) -> str:
        return f"cool app {self.installation_id} in conversation {self.conversation_id}"
