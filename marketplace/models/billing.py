"""Billing: subscriptions to editions and app plans, invoices, payments, refunds.

Money is always an integer number of minor units (fen, cents) with an ISO 4217 currency;
never a float. Every table here belongs to one organisation (non-null ``org``).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Membership, Organization
from marketplace.models.apps import App, Installation


class EditionQuote(models.Model):
    """A negotiated price for an Exclusive or Proprietary edition, entered by an operator."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="edition_quotes")
    edition = models.CharField(max_length=20, choices=Organization.Edition.choices)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="CNY")
    interval = models.CharField(max_length=5, default="year")
    member_limit = models.PositiveIntegerField(default=500)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]

    def __str__(self) -> str:
        return f"quote {self.pk} ({self.edition}, org {self.org_id})"


class Subscription(models.Model):
    """An organisation's subscription to an edition of Tack or to an app's plan.

    The plan's terms are copied in when subscribing (the manifest may change later).
    ``next_billing_date`` is when the next period's invoice is due; the billing job
    invoices every subscription whose date has come, then moves the period on.
    """

    class Kind(models.TextChoices):
        EDITION = "edition", _("Edition")
        APP = "app", _("App")

    class Status(models.TextChoices):
        TRIALING = "trialing", _("Trial")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        CANCELED = "canceled", _("Canceled")

    class PlanType(models.TextChoices):
        FREE = "free", _("Free")
        FLAT = "flat", _("Flat price")
        PER_SEAT = "per_seat", _("Per seat")

    class Interval(models.TextChoices):
        MONTH = "month", _("Monthly")
        YEAR = "year", _("Yearly")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="subscriptions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    app = models.ForeignKey(
        App, null=True, blank=True, on_delete=models.PROTECT, related_name="subscriptions"
    )
    installation = models.ForeignKey(
        Installation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edition = models.CharField(max_length=20, blank=True)
    plan_code = models.CharField(max_length=60)
    plan_name = models.CharField(max_length=120, blank=True)
    plan_type = models.CharField(max_length=8, choices=PlanType.choices)
    interval = models.CharField(max_length=5, choices=Interval.choices)
    unit_amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=8, choices=Status.choices)
    trial_end = models.DateField(null=True, blank=True)
    current_period_start = models.DateField()
    current_period_end = models.DateField()
    next_billing_date = models.DateField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    # Unused value of a previous plan (proration), taken off the next invoices.
    credit = models.BigIntegerField(default=0)
    payment_provider = models.CharField(max_length=20, default="manual")
    payment_token = models.CharField(max_length=80, blank=True)
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "app"],
                condition=Q(kind="app") & ~Q(status="canceled"),
                name="subscription_one_live_per_app",
            ),
            models.UniqueConstraint(
                fields=["org"],
                condition=Q(kind="edition") & ~Q(status="canceled"),
                name="subscription_one_live_edition",
            ),
            models.CheckConstraint(
                condition=Q(unit_amount__gte=0) & Q(credit__gte=0),
                name="subscription_amounts_not_negative",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["next_billing_date", "id"], name="subscription_due_idx"),
        ]

    def __str__(self) -> str:
        return f"subscription {self.pk} ({self.plan_code}, org {self.org_id})"


class Invoice(models.Model):
    """What an organisation owes for one period of a subscription (or a plan change).

    ``(org, subscription, period_start)`` is unique for period invoices, and every invoice
    has an idempotency key unique in its organisation: billing the same period twice is
    impossible, whichever way a run is repeated or resumed.
    """

    class Kind(models.TextChoices):
        PERIOD = "period", _("Subscription period")
        PRORATION = "proration", _("Plan change")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")

    # Indexed by the unique (org, idempotency_key).
    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invoices", db_index=False
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="invoices"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERIOD)
    number = models.CharField(max_length=40)
    period_start = models.DateField()
    period_end = models.DateField()
    description = models.CharField(max_length=200, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    subtotal = models.BigIntegerField()
    credit_applied = models.BigIntegerField(default=0)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.OPEN)
    idempotency_key = models.CharField(max_length=120)
    issued_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-period_start", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "subscription", "period_start"],
                condition=Q(kind="period"),
                name="invoice_one_per_period",
            ),
            models.UniqueConstraint(
                fields=["org", "idempotency_key"], name="invoice_idempotency_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(subtotal__gte=0), name="invoice_amount_not_negative"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["status", "id"], name="invoice_status_idx")
        ]

    def __str__(self) -> str:
        return self.number or f"invoice {self.pk}"


class Payment(models.Model):
    """One attempt to collect an invoice through a payment provider.

    ``(org, idempotency_key)`` is unique: a charge retried with the same key finds this row
    and returns it instead of charging again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    # Indexed by the unique (org, idempotency_key).
    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="payments", db_index=False
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=20)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    idempotency_key = models.CharField(max_length=120)
    reference = models.CharField(max_length=120, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    refunded_amount = models.BigIntegerField(default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "idempotency_key"], name="payment_idempotency_key_unique"
            ),
            models.UniqueConstraint(
                fields=["org", "invoice"],
                condition=Q(status="succeeded"),
                name="payment_one_success_per_invoice",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0)
                & Q(refunded_amount__gte=0)
                & Q(refunded_amount__lte=models.F("amount")),
                name="payment_refunds_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"payment {self.pk} ({self.amount} {self.currency})"

    @property
    def refundable(self) -> int:
        return self.amount - self.refunded_amount if self.status == self.Status.SUCCEEDED else 0


class Refund(models.Model):
    """Money given back from a payment (all of it or part)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=120)
    reference = models.CharField(max_length=120, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "idempotency_key"], name="refund_idempotency_key_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"refund {self.pk} ({self.amount} {self.currency})"
