"""Apps (listings), their reviewed versions, and installations in organisations."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Membership, Organization
from marketplace.models.partners import Partner


class App(models.Model):
    """One app in the catalogue, identified by its reverse-DNS id (``com.acme.crm``).

    What the catalogue shows comes from the published version's manifest; ``name``,
    ``categories`` and ``search_text`` are copied from it on publish for listing and search.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="apps")
    app_id = models.CharField(max_length=120, unique=True)
    name = models.CharField(max_length=80)
    summary = models.CharField(max_length=200, blank=True)
    categories = models.JSONField(default=list, blank=True)
    search_text = models.TextField(blank=True)
    icon = models.ImageField(upload_to="app-icons/", blank=True)
    published_version = models.ForeignKey(
        "marketplace.AppVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The OAuth 2.0 client (django-oauth-toolkit Application) the app authenticates as.
    oauth_application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="marketplace_app",
    )
    # Standard Webhooks signing secret ("whsec_" + base64), encrypted (``core.crypto``,
    # purpose "app-webhook"); shown to the partner once, when created or rotated.
    webhook_secret = models.TextField(blank=True)
    is_listed = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]

    def __str__(self) -> str:
        return self.app_id


class AppVersion(models.Model):
    """A version of an app's manifest, and where it is in review.

    draft → submitted → approved | rejected (with a reason) → published. A version that
    asks for scopes the published version did not have goes through review again
    (every version is reviewed; ``new_scopes`` tells the reviewer what is new).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        PUBLISHED = "published", _("Published")
        RETIRED = "retired", _("Replaced by a newer version")

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=40)
    manifest = models.JSONField()
    scopes = models.JSONField(default=list)
    new_scopes = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    review_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["app", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["app", "version"], name="app_version_unique"),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["status", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.app_id} {self.version}"


class Installation(models.Model):
    """One app installed in one organisation, with the scopes an admin consented to.

    ``app_member`` is the app's own account in the organisation (a ``User`` with
    ``is_app``): client-credentials tokens act as it, and cards it posts come from it.
    Uninstalling revokes every token and stops webhooks; the row stays for the audit trail.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Installed")
        UNINSTALLED = "uninstalled", _("Uninstalled")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="installations")
    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="installations")
    version = models.ForeignKey(AppVersion, on_delete=models.PROTECT, related_name="+")
    granted_scopes = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    app_member = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    installed_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    installed_at = models.DateTimeField(default=timezone.now)
    uninstalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "app"],
                condition=Q(status="active"),
                name="installation_one_active_per_org",
            ),
        ]

    def __str__(self) -> str:
        return f"installation {self.pk} (app {self.app_id}, org {self.org_id})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE
