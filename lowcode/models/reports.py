"""Reports: group-by aggregates over a form's records, shown on the app dashboard."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Membership, Organization
from lowcode.models.apps import App, Form


class Report(models.Model):
    class Chart(models.TextChoices):
        BAR = "bar", _("Bar")
        LINE = "line", _("Line")
        PIE = "pie", _("Pie")
        TABLE = "table", _("Table only")

    class Aggregate(models.TextChoices):
        COUNT = "count", _("Count")
        SUM = "sum", _("Sum")
        AVG = "avg", _("Average")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="reports")
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="reports")
    name = models.CharField(max_length=80)
    chart = models.CharField(max_length=8, choices=Chart.choices, default=Chart.BAR)
    group_by = models.CharField(max_length=40)
    # For dates: "day", "week", "month"; blank for other fields.
    date_bucket = models.CharField(max_length=8, blank=True)
    aggregate = models.CharField(max_length=8, choices=Aggregate.choices, default=Aggregate.COUNT)
    value_field = models.CharField(max_length=40, blank=True)
    filters = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["position", "id"]

    def __str__(self) -> str:
        return self.name
