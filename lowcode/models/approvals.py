"""Approval flows: a definition per form, an instance per record, tasks per approver."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Membership, Organization
from lowcode.models.apps import Form
from lowcode.models.records import Record


class ApprovalFlow(models.Model):
    """The approval flow of a form: ordered nodes, each with approvers, a mode, a condition.

    ``definition`` is validated by ``lowcode.approvals`` against its JSON Schema.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="approval_flows")
    definition = models.JSONField(default=dict)
    is_enabled = models.BooleanField(default=True)
    updated_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "form"], name="lowcode_one_flow_per_form")
        ]

    def __str__(self) -> str:
        return f"flow of form {self.form_id}"


class ApprovalInstance(models.Model):
    """One record going through its form's flow (the flow is snapshotted at submission)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="approvals")
    flow = models.ForeignKey(
        ApprovalFlow, null=True, on_delete=models.SET_NULL, related_name="instances"
    )
    definition = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    current_node = models.PositiveIntegerField(default=0)
    submitter = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "record"], name="lowcode_one_approval_per_record"
            )
        ]

    def __str__(self) -> str:
        return f"approval of record {self.record_id}"


class ApprovalTask(models.Model):
    """One approver's part in one node."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting")  # a later approver of a sequential node
        PENDING = "pending", _("To do")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        TRANSFERRED = "transferred", _("Transferred")
        CANCELLED = "cancelled", _("Cancelled")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    instance = models.ForeignKey(ApprovalInstance, on_delete=models.CASCADE, related_name="tasks")
    node_index = models.PositiveIntegerField()
    position = models.PositiveIntegerField(default=0)
    approver = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    reminder_count = models.PositiveIntegerField(default=0)
    acted_at = models.DateTimeField(null=True, blank=True)
    comment = models.CharField(max_length=1000, blank=True)
    card_message_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["instance", "node_index", "position", "id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["org", "approver", "state"], name="lowcode_task_inbox"),
        ]

    def __str__(self) -> str:
        return f"task {self.pk} ({self.state})"


class ApprovalStep(models.Model):
    """The history: who did what, when, with which comment."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    instance = models.ForeignKey(ApprovalInstance, on_delete=models.CASCADE, related_name="steps")
    actor = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20)
    node_index = models.PositiveIntegerField(null=True, blank=True)
    comment = models.CharField(max_length=1000, blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["instance", "id"]

    def __str__(self) -> str:
        return f"{self.action} on {self.instance_id}"


class ApprovalCc(models.Model):
    """A member kept informed of an approval (carbon copy)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    instance = models.ForeignKey(ApprovalInstance, on_delete=models.CASCADE, related_name="ccs")
    member = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    node_index = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "instance", "member"], name="lowcode_cc_once_per_member"
            )
        ]

    def __str__(self) -> str:
        return f"cc {self.member_id} on {self.instance_id}"
