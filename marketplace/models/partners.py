"""Partners: the software vendors who publish apps and are paid their share."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Partner(models.Model):
    """A partner company. Platform-level (not owned by an organisation)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    website = models.URLField(blank=True)
    contact_name = models.CharField(max_length=120, blank=True)
    contact_email = models.EmailField()
    support_email = models.EmailField(blank=True)
    # Bank details for payouts, encrypted (``core.crypto``, purpose "partner-payout");
    # the API shows only the last four characters of the account.
    payout_details = models.TextField(blank=True)
    payout_currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class PartnerMember(models.Model):
    """A person who works in a partner's console."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        DEVELOPER = "developer", _("Developer")
        FINANCE = "finance", _("Finance")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.DEVELOPER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["partner", "user"], name="partner_member_unique"),
        ]

    def __str__(self) -> str:
        return f"partner member {self.pk} (partner {self.partner_id}, user {self.user_id})"
