"""Tables of the activity and DAG metrics (they belong to the ``core`` app)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DagDefinition(models.Model):
    """A version of the DAG rule. Changing a threshold adds a version; old rows keep theirs.

    The active-share threshold is a fraction (``numerator / denominator``) so "one third" is
    exact: an organisation qualifies when ``active * denominator >= members * numerator``.
    """

    version = models.PositiveIntegerField(unique=True)
    share_numerator = models.PositiveIntegerField(default=1)
    share_denominator = models.PositiveIntegerField(default=3)
    min_systems = models.PositiveIntegerField(default=6)
    min_usage_minutes = models.PositiveIntegerField(
        default=0, help_text=_("Minutes of use a member needs to count as active (0: any use).")
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-version"]

    def __str__(self) -> str:
        return (
            f"DAG v{self.version}: {self.share_numerator}/{self.share_denominator} active, "
            f"{self.min_systems}+ systems"
        )


class ActivityDaily(models.Model):
    """One row per member per active day (the embedded mode's store; Redis in production).

    ``member_id`` is a plain integer, not a foreign key, so history survives removals.
    ``minutes`` counts the distinct minutes in which the member was seen (per process).
    """

    org = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    member_id = models.BigIntegerField()
    user_id = models.BigIntegerField()
    minutes = models.PositiveIntegerField(default=1)

    class Meta:
        ordering: ClassVar[list[str]] = ["day", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "day", "member_id"], name="activity_daily_once"),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["day", "org"])]

    def __str__(self) -> str:
        return f"member {self.member_id} active {self.day}"


class SystemDaily(models.Model):
    """A business system (or a ``data:`` use marker) used by an organisation on a day."""

    org = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    system = models.CharField(max_length=80)

    class Meta:
        ordering: ClassVar[list[str]] = ["day", "system"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "day", "system"], name="system_daily_once"),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["day", "org"])]

    def __str__(self) -> str:
        return f"{self.system} used {self.day}"


class MemberLapse(models.Model):
    """A membership that stopped being active: removed (row deleted) or suspended.

    Lets the rollup count a member who left on a day as a member of that day, and leave out
    a member suspended before it, also when a past day is recomputed.
    """

    class Reason(models.TextChoices):
        REMOVED = "removed", _("Removed")
        SUSPENDED = "suspended", _("Suspended")

    org = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="+")
    member_id = models.BigIntegerField()
    user_id = models.BigIntegerField()
    is_app = models.BooleanField(default=False)
    joined_at = models.DateTimeField()
    ended_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=10, choices=Reason.choices)
    reactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["org", "member_id"]),
            models.Index(fields=["ended_at"]),
        ]

    def __str__(self) -> str:
        return f"member {self.member_id} {self.reason} {self.ended_at:%Y-%m-%d}"


class DailyOrgRollup(models.Model):
    """An organisation's day: members, active members, systems used, DAG and deep flags."""

    org = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    members = models.PositiveIntegerField(default=0)
    active = models.PositiveIntegerField(default=0)
    systems_used = models.PositiveIntegerField(default=0)
    systems = models.JSONField(default=list, blank=True)
    is_dag = models.BooleanField(default=False)
    is_deep = models.BooleanField(default=False)
    deep_connections = models.JSONField(default=list, blank=True)
    definition_version = models.PositiveIntegerField()
    size_bucket = models.CharField(max_length=20, blank=True)
    edition = models.CharField(max_length=20, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["day", "org_id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "day"], name="daily_org_rollup_once"),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["day", "is_dag"])]

    def __str__(self) -> str:
        return f"org {self.org_id} {self.day}: {self.active}/{self.members}, {self.systems_used}"

    @property
    def active_share(self) -> float:
        return self.active / self.members if self.members else 0.0


class PlatformDaily(models.Model):
    """The platform's day: DAG count, DAU, MAU, deeply integrated count and breakdowns."""

    day = models.DateField(unique=True)
    dag_count = models.PositiveIntegerField(default=0)
    deep_count = models.PositiveIntegerField(default=0)
    dau = models.PositiveIntegerField(default=0)
    mau = models.PositiveIntegerField(default=0)
    orgs = models.PositiveIntegerField(default=0)
    active_orgs = models.PositiveIntegerField(default=0)
    #: ``{"size": {bucket: {"orgs", "dag", "deep", "dau"}}, "edition": {...}}``
    breakdown = models.JSONField(default=dict, blank=True)
    definition_version = models.PositiveIntegerField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.dag_count} DAG"
