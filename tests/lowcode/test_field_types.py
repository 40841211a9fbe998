"""Every field type: what it accepts, how it stores it, what it refuses and why."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from lowcode.actions import do_create_record
from lowcode.registries import field_type_registry

CHOICES = {"choices": [{"id": "pass", "label": "Pass"}, {"id": "fail", "label": "Fail"}]}


def one(make_form, definition):
    return make_form([{"key": "f", "label": "F", **definition}])


def stored(owner, form, value):
    record, _created = do_create_record(owner, form, {"f": value})
    return record.data.get("f")


def refused(owner, form, value, path="f"):
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, {"f": value})
    assert caught.value.code == "invalid_record"
    errors = caught.value.fields
    matching = [p for p in errors if p == path or p.startswith((f"{path}.", f"{path}["))]
    assert matching, errors
    return errors[matching[0]]


def test_every_issue_type_is_registered():
    wanted = {
        "text",
        "long_text",
        "number",
        "money",
        "date",
        "datetime",
        "single_select",
        "multi_select",
        "checkbox",
        "member",
        "department",
        "attachment",
        "image",
        "phone",
        "email",
        "serial",
        "scanned_code",
        "sub_table",
        "relation",
        "computed",
        "created_by",
        "created_at",
    }
    assert wanted <= set(field_type_registry.names())


@pytest.mark.parametrize(
    ("definition", "good", "expected", "bad"),
    [
        ({"type": "text", "options": {"max_length": 5}}, "  abc ", "abc", "toolong"),
        ({"type": "text", "options": {"pattern": "^B[0-9]+$"}}, "B12", "B12", "X12"),
        ({"type": "text"}, "x", "x", 12),
        ({"type": "long_text"}, "line 1\nline 2\n", "line 1\nline 2", ["x"]),
        ({"type": "number", "options": {"decimals": 1}}, 4.26, 4.3, "hot"),
        ({"type": "number", "options": {"min": 0, "max": 10}}, 10, 10, 11),
        ({"type": "number"}, 3.0, 3, True),
        ({"type": "number"}, 10**15, 10**15, 10**15 + 1),  # whole numbers kept as given
        ({"type": "number"}, -42, -42, -(10**15) - 1),
        ({"type": "number", "options": {"decimals": 2}}, 7, 7, "7 kg"),
        (
            {"type": "money"},
            {"amount": 1250},
            {"amount": 1250, "currency": "CNY"},
            {"amount": 12.5},
        ),
        (
            {"type": "money", "options": {"currency": "USD"}},
            {"amount": 5, "currency": "USD"},
            {"amount": 5, "currency": "USD"},
            {"amount": 5, "currency": "EUR"},
        ),
        ({"type": "date"}, "2026-11-23", "2026-11-23", "23/11/2026"),
        (
            {"type": "datetime"},
            "2026-11-23T09:30:00+08:00",
            "2026-11-23T01:30:00Z",
            "yesterday",
        ),
        # Already in the stored form (what connectors send): kept, yet still range-checked.
        (
            {"type": "datetime"},
            "2026-11-23T01:30:00Z",
            "2026-11-23T01:30:00Z",
            "2026-13-23T01:30:00Z",
        ),
        (
            {"type": "datetime"},
            "2026-02-28T23:59:59Z",
            "2026-02-28T23:59:59Z",
            "2026-02-30T10:00:00Z",
        ),
        (
            {"type": "datetime"},
            "2026-11-23T01:30:00.5Z",
            "2026-11-23T01:30:00Z",
            "2026-11-23T25:00:00Z",
        ),
        ({"type": "single_select", "options": CHOICES}, "pass", "pass", "maybe"),
        ({"type": "multi_select", "options": CHOICES}, ["pass", "fail"], ["pass", "fail"], ["x"]),
        ({"type": "multi_select", "options": CHOICES}, ["pass"], ["pass"], ["pass", "pass"]),
        ({"type": "checkbox"}, True, True, "yes"),
        ({"type": "phone"}, "+86 (10) 1234-5678", "+861012345678", "call me"),
        ({"type": "email"}, "Li.Wei@Example.COM", "Li.Wei@example.com", "not-an-address"),
        ({"type": "scanned_code"}, " 6901234567892 ", "6901234567892", 5),
        (
            {"type": "scanned_code", "options": {"symbology": "ean13"}},
            "6901234567892",
            "6901234567892",
            "6901234567891",
        ),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) and "type" in v else None,
)
def test_value_is_normalised_or_refused(make_form, owner, definition, good, expected, bad):
    form = one(make_form, definition)
    assert stored(owner, form, good) == expected
    assert refused(owner, form, bad)


def test_empty_values_are_not_stored_and_required_is_enforced(make_form, owner):
    form = make_form(
        [
            {"key": "a", "type": "text", "label": "A", "required": True},
            {"key": "b", "type": "multi_select", "label": "B", "options": CHOICES},
        ]
    )
    record, _ = do_create_record(owner, form, {"a": "x", "b": []})
    assert record.data == {"a": "x"}
    for blank in ("", "   ", None):
        with pytest.raises(ValidationFailed) as caught:
            do_create_record(owner, form, {"a": blank})
        assert caught.value.fields == {"a": ["This field is required."]}


def test_unknown_fields_and_non_objects_are_refused(make_form, owner):
    form = one(make_form, {"type": "text"})
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, {"f": "x", "nope": 1})
    assert caught.value.fields == {"nope": ["Unknown field."]}
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, ["f"])
    assert "data" in caught.value.fields


def test_member_and_department_must_belong_to_the_organisation(make_form, owner, member, outsider):
    from core.actions import do_create_department

    form = make_form(
        [
            {"key": "who", "type": "member", "label": "Who"},
            {"key": "team", "type": "department", "label": "Team", "options": {"multiple": True}},
        ]
    )
    quality = do_create_department(owner, name="Quality")
    record, _ = do_create_record(owner, form, {"who": member.pk, "team": [quality.pk]})
    assert record.data == {"who": member.pk, "team": [quality.pk]}
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, {"who": outsider.pk, "team": [quality.pk, 10**9]})
    assert set(caught.value.fields) == {"who", "team"}


def test_attachment_and_image_take_unsent_uploads_of_this_org(make_form, owner, outsider):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from im.actions import do_upload_attachment

    form = make_form(
        [
            {"key": "files", "type": "attachment", "label": "Files", "options": {"max_files": 2}},
            {"key": "photo", "type": "image", "label": "Photo"},
        ]
    )
    pdf = do_upload_attachment(owner, SimpleUploadedFile("r.pdf", b"%PDF-1.4", "application/pdf"))
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    png = do_upload_attachment(owner, SimpleUploadedFile("p.png", buffer.getvalue(), "image/png"))
    theirs = do_upload_attachment(outsider, SimpleUploadedFile("t.pdf", b"%PDF", "application/pdf"))
    record, _ = do_create_record(owner, form, {"files": [pdf.pk], "photo": [png.pk]})
    assert record.data == {"files": [pdf.pk], "photo": [png.pk]}
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, {"files": [theirs.pk], "photo": [pdf.pk]})
    assert set(caught.value.fields) == {"files", "photo"}  # foreign file; a PDF is no image
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, {"files": [pdf.pk, png.pk, theirs.pk]})
    assert caught.value.fields["files"] == ["At most 2 items."]


def test_relation_points_at_live_records_of_the_target_form(make_form, owner):
    batches = make_form([{"key": "code", "type": "text", "label": "Code"}], name="Batches")
    target, _ = do_create_record(owner, batches, {"code": "B1"})
    other = make_form([{"key": "x", "type": "text", "label": "X"}], name="Other")
    stranger, _ = do_create_record(owner, other, {"x": "1"})
    form = make_form(
        [{"key": "batch", "type": "relation", "label": "Batch", "options": {"form": batches.pk}}]
    )
    record, _ = do_create_record(owner, form, {"batch": target.pk})
    assert record.data == {"batch": target.pk}
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, {"batch": stranger.pk})
    assert "batch" in caught.value.fields


def test_serial_number_is_assigned_and_read_only(make_form, owner):
    form = one(make_form, {"type": "serial", "options": {"prefix": "INS-", "digits": 4}})
    first, _ = do_create_record(owner, form, {})
    second, _ = do_create_record(owner, form, {})
    assert (first.data["f"], second.data["f"]) == ("INS-0001", "INS-0002")
    assert refused(owner, form, "INS-9999") == ["This field is filled in automatically."]


def test_computed_field_uses_arithmetic_over_number_fields(make_form, owner):
    form = make_form(
        [
            {"key": "price", "type": "money", "label": "Price"},
            {"key": "qty", "type": "number", "label": "Qty"},
            {
                "key": "total",
                "type": "computed",
                "label": "Total",
                "options": {"expression": "price * qty / 100", "decimals": 2},
            },
        ]
    )
    record, _ = do_create_record(owner, form, {"price": {"amount": 1999}, "qty": 3})
    assert record.data["total"] == 59.97
    record, _ = do_create_record(owner, form, {"qty": 3})
    assert "total" not in record.data  # a missing input leaves the result empty
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, {"qty": 1, "total": 5})
    assert caught.value.fields == {"total": ["This field is filled in automatically."]}


def test_sub_table_rows_are_checked_per_cell(make_form, owner):
    columns = [
        {"key": "item", "type": "text", "label": "Item", "required": True},
        {"key": "qty", "type": "number", "label": "Qty", "options": {"min": 1}},
    ]
    form = one(make_form, {"type": "sub_table", "options": {"columns": columns, "max_rows": 3}})
    assert stored(owner, form, [{"item": " milk ", "qty": 2}]) == [{"item": "milk", "qty": 2}]
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, {"f": [{"item": "a"}, {"qty": 0}]})
    assert caught.value.fields == {
        "f[1].qty": ["Must be at least 1."],
        "f[1].item": ["This field is required."],
    }
    assert refused(owner, form, [{"item": "a"}] * 4) == ["At most 3 items."]
    assert refused(owner, form, [{"item": "a", "colour": "red"}], path="f[0].colour")


def test_created_by_and_created_at_read_from_the_record(make_form, owner):
    from lowcode.selectors import records_query

    form = make_form(
        [
            {"key": "x", "type": "text", "label": "X"},
            {"key": "by", "type": "created_by", "label": "By"},
            {"key": "at", "type": "created_at", "label": "At"},
        ]
    )
    record, _ = do_create_record(owner, form, {"x": "1"})
    assert record.data == {"x": "1"}
    page = records_query(owner, form, filters=[{"field": "by", "op": "eq", "value": owner.pk}])
    assert [r.pk for r in page.records] == [record.pk]
    page = records_query(
        owner, form, filters=[{"field": "at", "op": "gte", "value": "2999-01-01T00:00:00Z"}]
    )
    assert page.records == []


def test_display_text_for_tables_and_cards():
    money = field_type_registry.get("money")
    assert money.display({}, {"amount": 1250000, "currency": "CNY"}) == "12,500.00 CNY"
    select = field_type_registry.get("single_select")
    assert select.display(CHOICES, "fail") == "Fail"
    multi = field_type_registry.get("multi_select")
    assert multi.display(CHOICES, ["pass", "fail"]) == "Pass, Fail"
    number = field_type_registry.get("number")
    assert number.display({"decimals": 1, "unit": "°C"}, 4.0) == "4.0 °C"


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("number", "1,234.5", 1234.5),
        ("money", "1,234.50", {"amount": 123450, "currency": "CNY"}),
        ("money", "12 USD", {"amount": 1200, "currency": "USD"}),
        ("checkbox", "是", True),
        ("checkbox", "no", False),
        ("single_select", "FAIL", "fail"),
        ("multi_select", "Pass; fail", ["pass", "fail"]),
        ("member", "#12", 12),
    ],
)
def test_text_from_files_and_query_strings_parses(kind, text, value):
    options = CHOICES if "select" in kind else {}
    assert field_type_registry.get(kind).parse_text(options, text) == value


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        ({"key": "Bad Key", "type": "text", "label": "X"}, "fields[0].key"),
        ({"key": "x", "type": "nope", "label": "X"}, "fields[0].type"),
        ({"key": "x", "type": "text", "label": ""}, "fields[0].label"),
        ({"key": "x", "type": "long_text", "label": "X", "indexed": True}, "fields[0].indexed"),
        ({"key": "x", "type": "single_select", "label": "X"}, "fields[0].options"),
        (
            {"key": "x", "type": "number", "label": "X", "options": {"min": 5, "max": 1}},
            "fields[0].options",
        ),
        (
            {"key": "x", "type": "text", "label": "X", "options": {"pattern": "("}},
            "fields[0].options",
        ),
        ({"key": "x", "type": "serial", "label": "X", "required": True}, "fields[0].required"),
        (
            {
                "key": "x",
                "type": "sub_table",
                "label": "X",
                "options": {
                    "columns": [
                        {"key": "r", "type": "relation", "label": "R", "options": {"form": 1}}
                    ]
                },
            },
            "fields[0].options",
        ),
    ],
)
def test_bad_field_definitions_are_refused_per_field(owner, definition, path):
    from lowcode.actions import do_create_app, do_create_form

    app = do_create_app(owner, name="App")
    with pytest.raises(ValidationFailed) as caught:
        do_create_form(owner, app, name="F", fields=[definition])
    assert path in caught.value.fields, caught.value.fields
