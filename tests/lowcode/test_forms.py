"""Form versions: old records keep their version and their data through every change."""

from __future__ import annotations

import pytest

from core.errors import Conflict, Forbidden, ValidationFailed
from lowcode.actions import (
    do_create_app,
    do_create_form,
    do_create_record,
    do_publish_form,
    do_save_lookup,
    do_update_form,
    do_update_record,
)

FIELDS = [
    {"key": "batch", "type": "text", "label": "Batch", "required": True},
    {"key": "temp", "type": "number", "label": "Temperature"},
]


def test_publishing_freezes_the_draft_as_numbered_versions(owner):
    app = do_create_app(owner, name="Dairy")
    form = do_create_form(owner, app, name="Inspection", fields=FIELDS)
    v1, created = do_publish_form(owner, form)
    assert (v1.number, created) == (1, True)
    assert v1.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert v1.schema["required"] == ["batch"]
    assert v1.schema["properties"]["temp"]["type"] == "number"
    assert v1.ui_schema["ui:order"] == ["batch", "temp"]
    again, created = do_publish_form(owner, form)
    assert (again.pk, created) == (v1.pk, False)  # nothing changed: no new version
    do_update_form(owner, form, fields=[*FIELDS, {"key": "ph", "type": "number", "label": "pH"}])
    v2, created = do_publish_form(owner, form)
    assert (v2.number, created) == (2, True)


def test_records_keep_the_version_they_were_written_with(make_form, owner):
    form = make_form(FIELDS)
    old, _ = do_create_record(owner, form, {"batch": "B1", "temp": 4})
    # Rename a field (label only), remove another, add a third.
    do_update_form(
        owner,
        form,
        fields=[
            {"key": "batch", "type": "text", "label": "Batch number", "required": True},
            {"key": "operator", "type": "text", "label": "Operator"},
        ],
    )
    do_publish_form(owner, form)
    form.refresh_from_db()
    old.refresh_from_db()
    assert old.version.number == 1
    assert old.data == {"batch": "B1", "temp": 4}  # nothing lost
    assert old.version.fields[1]["key"] == "temp"  # still readable with its own version
    new, _ = do_create_record(owner, form, {"batch": "B2", "operator": "Li"})
    assert new.version.number == 2
    with pytest.raises(ValidationFailed):
        do_create_record(owner, form, {"batch": "B3", "temp": 5})  # no longer a field
    # Editing the old record moves it to the current version and keeps the removed value.
    edited = do_update_record(owner, old, {"operator": "Wang"})
    assert edited.version.number == 2
    assert edited.data == {"batch": "B1", "temp": 4, "operator": "Wang"}


def test_a_key_cannot_change_the_shape_of_its_data(make_form, owner):
    form = make_form(FIELDS)
    do_update_form(
        owner,
        form,
        fields=[FIELDS[0], {"key": "temp", "type": "date", "label": "Temperature"}],
    )
    with pytest.raises(Conflict) as caught:
        do_publish_form(owner, form)
    assert caught.value.code == "would_orphan_data"
    assert "fields[1].type" in caught.value.fields
    # Removing it and bringing it back later as text is refused too.
    do_update_form(owner, form, fields=[FIELDS[0]])
    do_publish_form(owner, form)
    do_update_form(owner, form, fields=[FIELDS[0], {"key": "temp", "type": "text", "label": "T"}])
    with pytest.raises(Conflict):
        do_publish_form(owner, form)
    # Same shape, new type (number -> computed is still a number) is fine.
    do_update_form(owner, form, fields=[FIELDS[0], {"key": "temp", "type": "number", "label": "T"}])
    version, created = do_publish_form(owner, form)
    assert created and version.number == 3


def test_removing_a_field_a_lookup_uses_is_refused(make_form, owner):
    form = make_form(FIELDS)
    do_save_lookup(owner, form, name="Batch lookup", input_field="batch", columns=["temp"])
    do_update_form(owner, form, fields=[FIELDS[0]])
    with pytest.raises(Conflict) as caught:
        do_publish_form(owner, form)
    assert caught.value.code == "field_in_use"
    assert "Batch lookup" in caught.value.fields["fields"][0]


def test_empty_and_invalid_drafts_cannot_be_published(owner):
    app = do_create_app(owner, name="App")
    form = do_create_form(owner, app, name="Empty")
    with pytest.raises(ValidationFailed):
        do_publish_form(owner, form)
    with pytest.raises(ValidationFailed) as caught:
        do_update_form(owner, form, fields=[FIELDS[0], FIELDS[0]])
    assert "fields[1].key" in caught.value.fields


def test_records_need_a_published_form(owner):
    app = do_create_app(owner, name="App")
    form = do_create_form(owner, app, name="Draft only", fields=FIELDS)
    with pytest.raises(Conflict) as caught:
        do_create_record(owner, form, {"batch": "B1"})
    assert caught.value.code == "form_not_published"


def test_only_managers_design(make_form, owner, member):
    form = make_form(FIELDS)
    with pytest.raises(Forbidden):
        do_update_form(member, form, name="Mine now")
    with pytest.raises(Forbidden):
        do_publish_form(member, form)


def test_computed_expression_must_reference_number_fields(owner):
    app = do_create_app(owner, name="App")
    bad = [
        *FIELDS,
        {"key": "c", "type": "computed", "label": "C", "options": {"expression": "batch * 2"}},
    ]
    with pytest.raises(ValidationFailed) as caught:
        do_create_form(owner, app, name="F", fields=bad)
    assert "batch is not a number field" in caught.value.fields["fields[2].options"][0]
