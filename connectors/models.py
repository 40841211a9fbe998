"""Connections to external systems, where their streams land, and the runs that move them."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Membership, Organization


class Connection(models.Model):
    """One configured external system of an organisation (a Tryton server, a database…).

    ``config`` holds the non-secret settings; the fields the connector's spec marks secret
    live encrypted in ``secrets`` and are never returned by the API.
    """

    class Schedule(models.TextChoices):
        MANUAL = "manual", _("Only when asked")
        INTERVAL = "interval", _("Every few minutes")
        CRON = "cron", _("On a cron schedule")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=80)
    type = models.CharField(max_length=80)
    config = models.JSONField(default=dict, blank=True)
    secrets = models.TextField(blank=True)
    schedule = models.CharField(max_length=10, choices=Schedule.choices, default=Schedule.MANUAL)
    interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["enabled", "next_sync_at"], name="connectors_due"),
        ]

    def __str__(self) -> str:
        return self.name


class Destination(models.Model):
    """Where one stream of a connection goes: a low-code form and/or chat cards."""

    class CardOn(models.TextChoices):
        NEVER = "never", _("Never")
        CREATED = "created", _("New records")
        CHANGED = "changed", _("New and changed records")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="destinations"
    )
    stream = models.CharField(max_length=100)
    form = models.ForeignKey(
        "lowcode.Form", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # {form field key: stream field name}
    mapping = models.JSONField(default=dict, blank=True)
    conversation = models.ForeignKey(
        "im.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    card_on = models.CharField(max_length=8, choices=CardOn.choices, default=CardOn.NEVER)
    # "New sale order {number} from {party_name}, {total_amount} {currency_code}"
    card_title = models.CharField(max_length=200, blank=True)
    card_fields = models.JSONField(default=list, blank=True)  # stream field names to show
    bot = models.ForeignKey(
        "im.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["connection", "stream", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "connection", "stream"], name="connectors_one_destination_per_stream"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.stream}"


class StreamState(models.Model):
    """The checkpoint of one destination's stream: what ``read`` resumes from."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="states")
    state = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "destination"], name="connectors_one_state")
        ]

    def __str__(self) -> str:
        return f"state of {self.destination_id}"


class SyncRun(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        RETRYING = "retrying", _("Waiting to retry")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Sync now")
        PUSH = "push", _("Pushed")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    full_refresh = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    read_count = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    # {"stream": {"read": n, "done": bool}}, for the progress bar
    progress = models.JSONField(default=dict, blank=True)
    # The first record errors: [{"stream", "external_id", "fields"}]
    record_errors = models.JSONField(default=list, blank=True)
    error_kind = models.CharField(max_length=10, blank=True)
    error_message = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # One live run per connection: a second "sync now" joins the first.
            models.UniqueConstraint(
                fields=["org", "connection"],
                condition=Q(state__in=["queued", "running", "retrying"]),
                name="connectors_one_live_run",
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.state})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class SyncedRecord(models.Model):
    """Which low-code record holds which external record (the upsert key)."""

    # org and destination have no single-column index: see Meta.
    # No database-level foreign keys (``db_constraint=False``): a sync inserts one link per
    # new record, and PostgreSQL checks every foreign key of every inserted row at commit
    # (three per link, as many again as the records themselves cost). The references stay
    # whole without them: Django's CASCADE removes the links (it never relied on the
    # database for that), the sync writes links only for records it created in the same
    # transaction, and it holds the destination row (``FOR KEY SHARE``, once per page,
    # ``sync._hold_destination``) while deleting a destination locks it first
    # (``actions.lock_for_delete``), which is what the per-row checks protected.
    org = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    destination = models.ForeignKey(
        Destination,
        on_delete=models.CASCADE,
        related_name="synced",
        db_index=False,
        db_constraint=False,
    )
    external_id = models.CharField(max_length=200)
    record = models.ForeignKey(
        "lowcode.Record", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    data_hash = models.CharField(max_length=64)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Indexes (a sync inserts one link per new record, so each index costs every row):
        # * ``connectors_synced_once`` (destination, org, external_id) is the upsert key the
        #   sync probes (``sync._known_links``: all three columns), and, as its prefix,
        #   serves what filters on destination alone: the destination's cascade and
        #   PostgreSQL's foreign-key check when a destination is deleted, and the
        #   deep-integration metric (``core.metrics.rollup.deep_connections``). It leads
        #   with destination, not org, so no separate destination index is needed.
        # * ``org``: no index. Nothing reads links by organisation alone; only deleting an
        #   organisation does, once (one scan, among the many that deletion makes).
        # * ``record``: kept (Django's automatic index). Deleting records cascades to their
        #   links, and ``core.metrics.systems`` reads a record's links.
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["destination", "org", "external_id"], name="connectors_synced_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.destination_id}:{self.external_id}"


class Scenario(models.Model):
    """One REST endpoint an organisation defines by chaining connector actions.

    ``steps``: ``[{"id": "customer", "connection": 3, "action": "find_party",
    "params": {"name": "{{input.customer}}"}}, ...]``; a later step reads earlier results as
    ``{{steps.customer.id}}``. ``output`` maps response keys to such templates.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scenarios")
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=500, blank=True)
    input_schema = models.JSONField(default=dict, blank=True)
    steps = models.JSONField(default=list)
    output = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.PositiveIntegerField(default=15)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["slug"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "slug"], name="connectors_scenario_slug")
        ]

    def __str__(self) -> str:
        return self.slug


class ScenarioToken(models.Model):
    """A token that can run one scenario and nothing else (only its hash is stored)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "token_hash"], name="connectors_scenario_token")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["token_hash"], name="connectors_scenario_token_hash")
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.scenario_id})"


class ScenarioRun(models.Model):
    """One call of a scenario: who, how long, the outcome (inputs and results are not kept:
    they may hold personal data; the step outcomes are)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="runs")
    member = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.ForeignKey(
        ScenarioToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ok = models.BooleanField(default=False)
    steps = models.JSONField(default=list)  # [{"id", "ok", "ms", "error"}]
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]

    def __str__(self) -> str:
        return f"{self.scenario_id} at {self.at:%Y-%m-%d %H:%M}"
