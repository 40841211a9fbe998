"""Records: the data people enter, in one JSON column, with their change history."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Membership, Organization
from lowcode.models.apps import Form, FormVersion


class Record(models.Model):
    """One submission of a form. ``data`` maps field keys to stored values (JSONB on PG).

    Empty values are never stored (a missing key *is* the empty value), so "is empty"
    filters and partial expression indexes stay simple.
    """

    class Source(models.TextChoices):
        WEB = "web", _("Web")
        API = "api", _("API")
        IMPORT = "import", _("Import")
        PUBLIC = "public", _("Public link")
        CONNECTOR = "connector", _("Connector")

    # No single-column indexes on org and form: see "Indexes" in Meta.
    # No database-level foreign keys on org, form and version (``db_constraint=False``):
    # PostgreSQL checks each of them for every inserted row at commit, which cost a bulk
    # load (a sync, an import) a fifth of its time. The references stay whole without them:
    # Django's CASCADE and PROTECT never relied on the database; every insert first
    # reserves its numbers with an UPDATE of the form row (``actions._allocate_numbers``,
    # which fails if the form is gone) and holds that row lock until it commits; and
    # deleting a form locks the row first (``actions.do_delete_form``), so the two wait for
    # each other instead of leaving records without a form; deleting an organisation (in
    # the admin) locks its forms' rows the same way. A form's version belongs to it and goes
    # only with it.
    org = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    form = models.ForeignKey(
        Form, on_delete=models.CASCADE, related_name="records", db_index=False, db_constraint=False
    )
    version = models.ForeignKey(
        FormVersion, on_delete=models.PROTECT, related_name="records", db_constraint=False
    )
    number = models.PositiveBigIntegerField()
    data = models.JSONField(default=dict)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    created_by = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # a partial index in Meta
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # a partial index in Meta
    )
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # a partial index in Meta
    )
    idempotency_key = models.CharField(max_length=80, blank=True)
    # Approval state, copied from the approval instance for filtering; blank without a flow.
    approval_state = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "form", "number"], name="lowcode_record_unique_number"
            ),
            models.UniqueConstraint(
                fields=["org", "form", "created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="lowcode_record_unique_idempotency_key",
            ),
        ]
        # Indexes: every index costs each inserted row (a connector sync writes thousands a
        # second), so each one here serves a query, and none repeats another's prefix.
        # * ``org``: no single-column index; ``lowcode_record_unique_number`` starts with
        #   org_id and serves the organisation's cascade and every org-scoped query.
        # * ``form``: no single-column index; ``lowcode_rec_form_id`` (form_id, id) starts with
        #   it and serves list pages (keyset on id), exports, reports and the form's cascade.
        # * ``version``: kept (Django's automatic index). Deleting a form version (with its
        #   form) runs the PROTECT check and PostgreSQL's foreign-key check on version_id;
        #   no other index starts with it.
        # * ``created_by``/``updated_by``/``deleted_by``: removing a member deletes the
        #   Membership (``core.actions.do_remove_member``), so Django sets these to NULL
        #   (``WHERE created_by_id IN (...)``) and PostgreSQL checks the foreign key per
        #   deleted row: both need an index, or member removal scans every record. The
        #   indexes are partial (``IS NOT NULL``): both lookups are equalities, which imply
        #   NOT NULL, so they still use them, while records without an author (connector,
        #   import and public-link records; rows never updated or deleted by a person) add
        #   no entry. "Only my records" visibility (created_by = me) uses the same index.
        # * ``data``: no index over all of it (migration 0006 dropped the GIN index of
        #   0002: a GIN entry per key of every inserted record, for the list filters
        #   alone). Fields marked indexed get their own partial index per form
        #   (``lowcode.indexes``): B-tree, or GIN for list-valued fields.
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["form", "id"], name="lowcode_rec_form_id"),
            models.Index(
                fields=["created_by"],
                condition=Q(created_by__isnull=False),
                name="lowcode_rec_created_by",
            ),
            models.Index(
                fields=["updated_by"],
                condition=Q(updated_by__isnull=False),
                name="lowcode_rec_updated_by",
            ),
            models.Index(
                fields=["deleted_by"],
                condition=Q(deleted_by__isnull=False),
                name="lowcode_rec_deleted_by",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number}"


class RecordChange(models.Model):
    """Who changed a record, when, and what: ``changes`` maps a key to ``[old, new]``.

    The creation itself is not a row: the record holds who created it, when and with
    which version, and the history API starts with it (``selectors.record_history``).
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATED = "updated", _("Updated")
        DELETED = "deleted", _("Deleted")
        RESTORED = "restored", _("Restored")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    changes = models.JSONField(default=dict, blank=True)
    version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["record", "id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.record_id}"


class RecordFile(models.Model):
    """A file (an uploaded ``im.Attachment``) held by an attachment or image field.

    A file belongs to at most one record: only its uploader can put it in a record, and
    only once, so nobody can read a file by naming its id in a record of their own. Who
    may see the record may download its files.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="files")
    attachment = models.ForeignKey("im.Attachment", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "attachment"], name="lowcode_file_in_one_record")
        ]

    def __str__(self) -> str:
        return f"file {self.attachment_id} of record {self.record_id}"
