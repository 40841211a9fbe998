"""Bad input from the review: every case is a clear 4xx and nothing is half-written."""

from __future__ import annotations

import base64
import json

import pytest

from core.errors import Conflict, ValidationFailed
from lowcode.actions import (
    do_create_app,
    do_create_form,
    do_create_record,
    do_publish_form,
    do_update_form,
)

CHOICES = {"choices": [{"id": "a", "label": "A"}]}
FIELDS = [
    {"key": "batch", "type": "text", "label": "Batch", "indexed": True},
    {"key": "temp", "type": "number", "label": "Temperature"},
    {"key": "cost", "type": "money", "label": "Cost"},
    {"key": "ok", "type": "checkbox", "label": "OK"},
    {"key": "day", "type": "date", "label": "Day"},
]


@pytest.fixture
def form(make_form):
    return make_form(FIELDS)


def url(org, path=""):
    return f"/api/v1/orgs/{org.pk}/lowcode/{path}"


def cursor(value, pk=1):
    raw = json.dumps([value, pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "cost", "op": "eq", "value": "Infinity"},
        {"field": "cost", "op": "eq", "value": "sNaN"},
        {"field": "cost", "op": "gte", "value": 10**30},
        {"field": "temp", "op": "gte", "value": 10**30},
        {"field": "created_at", "op": "gte", "value": "garbage"},
        {"field": "updated_at", "op": "gte", "value": "garbage"},
        {"field": "created_by", "op": "eq", "value": "x"},
        {"field": "created_by", "op": "eq", "value": 10**30},
        {"field": "number", "op": "eq", "value": "abc"},
        {"field": "batch", "op": "eq", "value": "a\u0000b"},
        {"field": "day", "op": "eq", "value": "yesterday"},
    ],
    ids=str,
)
def test_bad_filter_values_are_400(form, org, owner, api, condition):
    response = api(owner).get(
        url(org, "records/"), {"form": form.pk, "filter": json.dumps([condition])}
    )
    assert response.status_code == 400, response.content
    assert "filter[0].value" in response.json()["error"]["fields"]


@pytest.mark.parametrize("raw", ['[{"field": "temp", "op": "eq", "value": NaN}]', "[Infinity]"])
def test_nan_and_infinity_are_not_json(form, org, owner, api, raw):
    response = api(owner).get(url(org, "records/"), {"form": form.pk, "filter": raw})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("sort", "value"),
    [
        ("temp", {"x": 1}),
        ("temp", [1, 2]),
        ("number", "abc"),
        ("created_at", "not a date"),
        ("updated_at", 5),
        ("batch", 12),
        ("", "unexpected"),
    ],
)
def test_cursors_with_the_wrong_value_type_are_400(form, org, owner, api, sort, value):
    do_create_record(owner, form, {"batch": "B1", "temp": 3})
    response = api(owner).get(
        url(org, "records/"), {"form": form.pk, "sort": sort, "cursor": cursor(value)}
    )
    assert response.status_code == 400, response.content
    assert "cursor" in response.json()["error"]["fields"]


def test_checkbox_fields_cannot_be_sorted(form, org, owner, api):
    response = api(owner).get(url(org, "records/"), {"form": form.pk, "sort": "ok"})
    assert response.status_code == 400 and "sort" in response.json()["error"]["fields"]


def test_control_characters_are_refused_per_field(form, owner):
    with pytest.raises(ValidationFailed) as caught:
        do_create_record(owner, form, {"batch": "a\u0000b", "temp": 1})
    assert caught.value.fields == {"batch": ["Text may not contain control characters."]}
    assert not form.records.exists()
    record, _ = do_create_record(owner, form, {"batch": "tab\tand\nnewline"})
    assert record.data["batch"] == "tab\tand\nnewline"


def test_money_text_that_is_not_a_finite_amount_is_a_field_error(make_form, owner):
    from lowcode.registries import field_type_registry

    money = field_type_registry.get("money")
    for text in ("Infinity", "-inf", "sNaN", "NaN", "1e400"):
        assert not isinstance(money.parse_text({}, text)["amount"], int), text


def test_indexed_text_is_capped_so_the_index_can_hold_it(owner):
    app = do_create_app(owner, name="App")
    long_indexed = {
        "key": "code",
        "type": "text",
        "label": "Code",
        "indexed": True,
        "options": {"max_length": 1000},
    }
    with pytest.raises(ValidationFailed) as caught:
        do_create_form(owner, app, name="F", fields=[long_indexed])
    assert "fields[0].options.max_length" in caught.value.fields
    do_create_form(owner, app, name="F", fields=[{**long_indexed, "indexed": False}])


@pytest.mark.parametrize(
    ("before", "after", "allowed"),
    [
        ("text", "date", False),
        ("text", "phone", False),
        ("text", "long_text", True),
        ("phone", "text", True),
        ("number", "computed", True),
        ("date", "text", True),
        ("date", "datetime", False),
        ("single_select", "text", True),  # choice ids read as text
    ],
)
def test_a_key_keeps_values_its_new_type_can_read(owner, before, after, allowed):
    def definition(kind):
        options = {}
        if kind == "single_select":
            options = {"choices": CHOICES["choices"]}
        if kind == "computed":
            options = {"expression": "n * 2"}
        fields = [
            {"key": "v", "type": kind, "label": "V", **({"options": options} if options else {})}
        ]
        if kind == "computed":
            fields.append({"key": "n", "type": "number", "label": "N"})
        return fields

    app = do_create_app(owner, name="App")
    form = do_create_form(owner, app, name="F", fields=definition(before))
    do_publish_form(owner, form)
    do_update_form(owner, form, fields=definition(after))
    if allowed:
        assert do_publish_form(owner, form)[1]
    else:
        with pytest.raises(Conflict) as caught:
            do_publish_form(owner, form)
        assert caught.value.code == "would_orphan_data"


def test_relations_only_to_forms_the_designer_can_see(make_form, owner, member):
    hidden = make_form([{"key": "x", "type": "text", "label": "X"}], name="Payroll")
    from lowcode.actions import do_update_app

    do_update_app(
        owner,
        hidden.app,
        permissions={"submit": {"roles": [], "members": [], "departments": []}},
    )
    app = do_create_app(member, name="Mine")
    relation = {"key": "r", "type": "relation", "label": "R", "options": {"form": hidden.pk}}
    with pytest.raises(ValidationFailed):
        do_create_form(member, app, name="F", fields=[relation])
    with pytest.raises(ValidationFailed):
        do_create_form(member, app, name="F", fields=[{**relation, "options": {"form": 2**63}}])


def test_deeply_nested_json_bodies_are_400(form, org, owner, api):
    nested = "[" * 50_000 + "]" * 50_000
    body = f'{{"form": {form.pk}, "data": {nested}}}'
    response = api(owner).post(url(org, "records/"), body, content_type="application/json")
    assert response.status_code == 400
    assert not form.records.exists()
