"""Apps, forms and form versions: what customers' staff design."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Membership, Organization


def default_permissions() -> dict[str, Any]:
    """Who may do what in an app. Each level lists roles, member ids and department ids.

    ``manage`` implies ``view_all``, which implies ``submit``. Org admins and the app's
    creator always manage.
    """
    return {
        "submit": {"roles": ["owner", "admin", "member"], "members": [], "departments": []},
        "view_all": {"roles": ["owner", "admin"], "members": [], "departments": []},
        "manage": {"roles": ["owner", "admin"], "members": [], "departments": []},
    }


class App(models.Model):
    """A low-code app: forms, permissions and a published state. One business system."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="lowcode_apps")
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=500, blank=True)
    icon = models.CharField(max_length=8, blank=True, help_text=_("An emoji."))
    color = models.CharField(max_length=7, default="#1f6feb")
    permissions = models.JSONField(default=default_permissions)
    is_published = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["org", "name"])]

    def __str__(self) -> str:
        return self.name


class Form(models.Model):
    """A form of an app. The draft is edited freely; publishing freezes it as a version."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="forms")
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=500, blank=True)
    # The draft: a list of field definitions (see lowcode.fields) and layout hints.
    draft_fields = models.JSONField(default=list)
    draft_layout = models.JSONField(default=dict, blank=True)
    published_version = models.ForeignKey(
        "FormVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Every field key ever published, with its storage kind: keys are never reused for
    # data of another shape, so old records always read back.
    key_history = models.JSONField(default=dict, blank=True)
    # Record numbers ("#123", serial-number fields) come from this counter.
    next_number = models.PositiveBigIntegerField(default=1)
    # QR entry: an optional field whose every option gets its own entry code.
    qr_field = models.CharField(max_length=40, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class FormVersion(models.Model):
    """A published, immutable form definition. Records keep the version they were written with."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    fields = models.JSONField()
    layout = models.JSONField(default=dict, blank=True)
    # Derived from ``fields`` by the field types, stored so clients need not derive them.
    schema = models.JSONField()
    ui_schema = models.JSONField()
    published_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["form", "number"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "form", "number"], name="lowcode_form_version_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.form_id} v{self.number}"


class LookupPage(models.Model):
    """A saved query a member runs by typing one value ("batch number" -> inspections)."""

    class Match(models.TextChoices):
        EQUALS = "eq", _("Equals")
        CONTAINS = "contains", _("Contains")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="lookups")
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="lookups")
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    input_field = models.CharField(max_length=40)
    match = models.CharField(max_length=10, choices=Match.choices, default=Match.EQUALS)
    columns = models.JSONField(default=list, blank=True)
    sort = models.CharField(max_length=41, blank=True)
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]

    def __str__(self) -> str:
        return self.name
