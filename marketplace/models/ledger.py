"""The revenue-share ledger: double entry, integer minor units, immutable.

Sign convention: a leg's ``amount`` is positive for a debit and negative for a credit;
the legs of every transaction sum to zero per currency. The database enforces it
(triggers in migration ``0006_ledger_guards``): legs are written first, then the header,
whose insert is refused unless its legs exist (at least two) and balance; legs cannot be
added to a written transaction, and nothing is ever updated or deleted (a correction is
a new, reversing transaction).

These are platform-level tables (the platform's books, not an organisation's data).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.models.apps import App
from marketplace.models.partners import Partner


class LedgerAccount(models.Model):
    class Kind(models.TextChoices):
        CASH = "cash", _("Platform cash (clearing)")
        COMMISSION = "commission", _("Platform commission revenue")
        PLATFORM_REVENUE = "platform_revenue", _("Platform subscription revenue")
        PARTNER_PAYABLE = "partner_payable", _("Partner payable")
        PAYOUTS = "payouts", _("Payouts sent")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    code = models.CharField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return self.code


class LedgerTransaction(models.Model):
    class Kind(models.TextChoices):
        SALE = "sale", _("App sale")
        REFUND = "refund", _("App refund")
        EDITION_SALE = "edition_sale", _("Edition sale")
        EDITION_REFUND = "edition_refund", _("Edition refund")
        PAYOUT = "payout", _("Payout")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=120, unique=True)
    # Indexed by ``ledger_txn_partner_idx`` (partner, booked_at).
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    app = models.ForeignKey(
        App, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Where the money came from (ids in the organisation-owned billing tables).
    org_id_ref = models.BigIntegerField(null=True, blank=True)
    # No database constraint: the books outlive an organisation's deletion.
    payment = models.ForeignKey(
        "marketplace.Payment",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    refund = models.ForeignKey(
        "marketplace.Refund",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    memo = models.CharField(max_length=200, blank=True)
    booked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["booked_at", "id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["partner", "booked_at"], name="ledger_txn_partner_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"


class LedgerEntry(models.Model):
    """One leg: a signed amount on one account, with the commission rate it was booked at."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    # Indexed by ``ledger_entry_account_idx`` (account, booked_at).
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    booked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["account", "booked_at"], name="ledger_entry_account_idx")
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.account_id}"


class CommissionRate(models.Model):
    """The platform's share of an app's sales from ``effective_from`` on.

    No partner and no app: the default. The most specific rate in force wins (app, then
    partner, then default); among those, the latest ``effective_from``.
    """

    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="commission_rates"
    )
    app = models.ForeignKey(
        App, null=True, blank=True, on_delete=models.CASCADE, related_name="commission_rates"
    )
    rate = models.DecimalField(max_digits=7, decimal_places=6)
    effective_from = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-effective_from", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=1), name="commission_rate_between_0_and_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rate} from {self.effective_from:%Y-%m-%d}"


class Payout(models.Model):
    """Money sent to a partner: moves partner payable to payouts."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="payouts")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=120, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    transaction = models.ForeignKey(
        LedgerTransaction, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"payout {self.pk} ({self.amount} {self.currency})"


class PartnerStatement(models.Model):
    """A partner's month in one currency, computed from the ledger (idempotently)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="statements")
    month = models.DateField()
    currency = models.CharField(max_length=3)
    gross = models.BigIntegerField(default=0)
    fees = models.BigIntegerField(default=0)
    refunds = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0)
    payouts = models.BigIntegerField(default=0)
    opening_balance = models.BigIntegerField(default=0)
    closing_balance = models.BigIntegerField(default=0)
    generated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-month", "currency"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["partner", "month", "currency"], name="partner_statement_unique_month"
            ),
        ]

    def __str__(self) -> str:
        return f"statement {self.partner_id} {self.month:%Y-%m} {self.currency}"
