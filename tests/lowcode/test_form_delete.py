"""Deleting a form: refused while it has records, and never leaving records without a form.

Records reference their form without a database-level foreign key (``Record``'s comment):
an insert holds the form row from the moment it reserves its numbers, and a deletion
locks the row before it looks for records, so the two wait for each other.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from core.errors import Conflict, NotFound
from lowcode.actions import do_create_record, do_delete_form
from lowcode.models import Form, Record

FIELDS = [{"key": "title", "label": "Title", "type": "text"}]


@pytest.mark.django_db
def test_a_form_without_records_is_deleted_and_one_with_records_is_refused(owner, make_form):
    empty = make_form(FIELDS, name="Empty")
    do_delete_form(owner, empty)
    assert not Form.objects.filter(pk=empty.pk).exists()

    used = make_form(FIELDS, name="Used")
    do_create_record(owner, used, {"title": "One"})
    with pytest.raises(Conflict) as refused:
        do_delete_form(owner, used)
    assert refused.value.code == "form_has_records"
    assert Form.objects.filter(pk=used.pk).exists()


def test_the_records_table_has_no_database_foreign_keys_to_org_form_or_version():
    checked = {
        f.name: f.db_constraint for f in Record._meta.get_fields() if getattr(f, "many_to_one", 0)
    }
    assert checked["org"] is checked["form"] is checked["version"] is False
    assert checked["created_by"] is True  # the rest keep theirs


def _in_thread(target, *args):
    """Run ``target(*args)`` in its own thread and database connection: (thread, outcome)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = target(*args)
        except Exception as exc:  # handed to the test
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks between two connections"
)


def _record_in_flight(owner, form):
    """A record added in a transaction left open (holding the form's row) until
    ``release`` is set: (its thread, release)."""
    added, release = threading.Event(), threading.Event()

    def add() -> None:
        with transaction.atomic():
            do_create_record(owner, form, {"title": "In flight"})
            added.set()
            release.wait(10)

    adder, _outcome = _in_thread(add)
    assert added.wait(10)
    return adder, release


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_deletion_waits_for_a_record_being_added_and_then_refuses(owner, make_form):
    form = make_form(FIELDS)
    adder, release = _record_in_flight(owner, form)
    deleter, deleted = _in_thread(do_delete_form, owner, form)
    deleter.join(0.5)
    assert deleter.is_alive()  # waiting for the record's transaction, not deciding without it
    release.set()
    adder.join(10)
    deleter.join(10)
    assert isinstance(deleted.get("error"), Conflict)
    assert Form.objects.filter(pk=form.pk).exists()
    assert Record.objects.filter(form_id=form.pk).count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_record_added_while_its_form_is_deleted_is_refused_not_orphaned(owner, make_form):
    form = make_form(FIELDS)
    form_id = form.pk
    seen_by_adder = Form.objects.select_related("published_version").get(pk=form_id)
    with transaction.atomic():
        do_delete_form(owner, form)
        adder, added = _in_thread(do_create_record, owner, seen_by_adder, {"title": "Too late"})
        adder.join(0.5)
        assert adder.is_alive(), added  # waiting for the deletion to commit or roll back
    adder.join(10)
    assert isinstance(added.get("error"), NotFound)
    assert not Form.objects.filter(pk=form_id).exists()
    assert not Record.objects.filter(form_id=form_id).exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_deleting_an_organisation_waits_for_a_record_being_added_and_then_refuses(owner, make_form):
    """The admin refuses to delete an organisation whose forms have records (their form
    versions are protected); one being added while it deletes is waited for and seen."""
    from django.contrib.admin.sites import site
    from django.db.models import ProtectedError
    from django.http import HttpRequest

    from core.models import Organization

    form = make_form(FIELDS)
    org_id, form_id = owner.org_id, form.pk
    adder, release = _record_in_flight(owner, form)
    admin = site._registry[Organization]
    deleter, deleted = _in_thread(
        admin.delete_model, HttpRequest(), Organization.objects.get(pk=org_id)
    )
    deleter.join(0.5)
    assert deleter.is_alive()  # waiting for the record's transaction
    release.set()
    adder.join(10)
    deleter.join(10)
    assert isinstance(deleted.get("error"), ProtectedError)
    assert Organization.objects.filter(pk=org_id).exists()
    assert Form.objects.filter(pk=form_id).exists()
    assert Record.objects.filter(form_id=form_id).count() == 1
