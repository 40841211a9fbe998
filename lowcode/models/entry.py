"""Ways data gets in besides the fill page: public links and file imports."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Membership, Organization
from im.models import private_storage
from lowcode.models.apps import Form


class PublicLink(models.Model):
    """A link people outside the organisation can fill in, until it expires or is revoked.

    Only the hash of the token is stored; the link is shown once, when created.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="public_links")
    name = models.CharField(max_length=80, blank=True)
    token_hash = models.CharField(max_length=64)
    prefix = models.CharField(max_length=12)
    prefill = models.JSONField(default=dict, blank=True)
    max_submissions = models.PositiveIntegerField(null=True, blank=True)
    submission_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "token_hash"], name="lowcode_public_link_token")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["token_hash"], name="lowcode_public_link_hash")
        ]

    def __str__(self) -> str:
        return self.name or self.prefix


def import_path(instance: ImportJob, filename: str) -> str:
    suffix = Path(filename).suffix.lower()[:10]
    return f"imports/{instance.org_id}/{uuid.uuid4().hex}{suffix}"


class ImportJob(models.Model):
    """A CSV or XLSX import: progress while it runs, then a per-row error report."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=import_path, storage=private_storage, max_length=200)
    file_name = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # [{"row": 7, "fields": {"temp": ["Expected a number."]}}, ...] (the first 1,000)
    errors = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved by the worker after every chunk: a running job silent for 10 minutes has
    # lost its worker and is shown as failed (lowcode.imports.expire_stale).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]

    def __str__(self) -> str:
        return self.file_name
