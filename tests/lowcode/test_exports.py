"""CSV/XLSX export: labels, displayed values, filters, visibility, limits, isolation."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from core.actions import do_create_department
from lowcode import exports
from lowcode.actions import do_create_record
from lowcode.models import Record

CHOICES = [{"id": "pass", "label": "Pass"}, {"id": "fail", "label": "不合格"}]
FIELDS = [
    {"key": "batch", "type": "text", "label": "Batch number", "required": True},
    {"key": "qty", "type": "number", "label": "Quantity"},
    {"key": "price", "type": "money", "label": "Price"},
    {"key": "result", "type": "single_select", "label": "Result", "options": {"choices": CHOICES}},
    {"key": "ok", "type": "checkbox", "label": "Checked"},
    {"key": "inspector", "type": "member", "label": "Inspector"},
    {"key": "team", "type": "department", "label": "Team"},
]


@pytest.fixture
def form(make_form):
    return make_form(FIELDS)


def export_url(form, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/orgs/{form.org_id}/lowcode/forms/{form.pk}/export/?{query}"


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def filled(form, owner, member):
    team = do_create_department(owner, name="质检一组")
    do_create_record(
        owner,
        form,
        {
            "batch": "B1",
            "qty": 1500,
            "price": {"amount": 1250000},
            "result": "pass",
            "ok": True,
            "inspector": member.pk,
            "team": team.pk,
        },
    )
    do_create_record(owner, form, {"batch": "=HYPERLINK(1)", "result": "fail"})
    do_create_record(member, form, {"batch": "M1", "qty": 3})
    return team


def test_csv_export_has_labels_and_displayed_values(api, owner, member, form, filled):
    response = api(owner).get(export_url(form, **{"as": "csv"}))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment")
    assert "Inspection" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == [
        "#",
        "Batch number",
        "Quantity",
        "Price",
        "Result",
        "Checked",
        "Inspector",
        "Team",
        "Created by",
        "Created at",
    ]
    by_batch = {row[1]: row for row in rows[1:]}
    assert set(by_batch) == {"B1", "'=HYPERLINK(1)", "M1"}
    b1 = by_batch["B1"]
    assert b1[2:8] == [
        "1,500",
        "12,500.00 CNY",
        "Pass",
        "Yes",
        member.user.display_name,
        "质检一组",
    ]
    assert b1[8] == owner.user.display_name
    assert len(b1[9]) == len("2026-11-23 09:30")
    assert by_batch["'=HYPERLINK(1)"][4] == "不合格"  # formula text is defused
    assert by_batch["M1"][8] == member.user.display_name
    # Newest first, like the record list.
    assert [row[1] for row in rows[1:]] == ["M1", "'=HYPERLINK(1)", "B1"]


def test_export_honours_filter_and_sort(api, owner, form, filled):
    flt = json.dumps([{"field": "result", "op": "eq", "value": "pass"}])
    rows = read_csv(api(owner).get(export_url(form, filter=flt)))
    assert [row[1] for row in rows[1:]] == ["B1"]
    rows = read_csv(api(owner).get(export_url(form, sort="batch")))
    assert [row[1] for row in rows[1:]] == ["'=HYPERLINK(1)", "B1", "M1"]
    bad = api(owner).get(export_url(form, filter="[{]"))
    assert bad.status_code == 400
    unknown = api(owner).get(export_url(form, filter=json.dumps([{"field": "nope", "value": 1}])))
    assert unknown.status_code == 400


def test_format_query_parameter_works_too(api, owner, form, filled):
    response = api(owner).get(export_url(form, format="xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"] == exports.CONTENT_TYPES["xlsx"]
    assert api(owner).get(export_url(form, **{"as": "pdf"})).status_code == 400


def test_xlsx_export_opens_in_openpyxl(api, owner, member, form, filled):
    response = api(owner).get(export_url(form, **{"as": "xlsx"}))
    assert response.status_code == 200
    assert response["Content-Type"] == exports.CONTENT_TYPES["xlsx"]
    assert ".xlsx" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    assert rows[0][:4] == ["#", "Batch number", "Quantity", "Price"]
    by_batch = {row[1]: row for row in rows[1:]}
    assert by_batch["B1"][2] == 1500  # numbers stay numbers
    assert by_batch["B1"][3] == "12,500.00 CNY"
    assert by_batch["B1"][6] == member.user.display_name
    assert by_batch["'=HYPERLINK(1)"][4] == "不合格"
    flt = json.dumps([{"field": "qty", "op": "gte", "value": 2}])
    filtered = api(owner).get(export_url(form, **{"as": "xlsx", "filter": flt}))
    sheet = load_workbook(io.BytesIO(b"".join(filtered.streaming_content))).worksheets[0]
    assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["M1", "B1"]


def test_submit_level_member_exports_only_their_own_records(api, member, form, filled):
    rows = read_csv(api(member).get(export_url(form)))
    assert [row[1] for row in rows[1:]] == ["M1"]


def test_export_pages_through_records_without_n_plus_one(owner, member, form, monkeypatch):
    monkeypatch.setattr(exports, "MAX_PAGE", 2)
    monkeypatch.setattr("lowcode.exports.records_query", _small_pages(exports.records_query))
    for i in range(7):
        do_create_record(owner, form, {"batch": f"P{i}", "inspector": member.pk})
    export = exports.check_export(owner, form)
    with CaptureQueriesContext(connection) as queries:
        text = exports.csv_text(export)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r[1] for r in rows[1:]] == [f"P{i}" for i in reversed(range(7))]
    assert all(r[6] == member.user.display_name for r in rows[1:])
    # 4 pages of 2: one name query per page (not one per record), few queries in all.
    name_queries = [q for q in queries if "user__display_name" in q["sql"]]
    assert len(name_queries) == 4
    assert len(queries) <= 4 * 3


def _small_pages(original):
    def query(*args, **kwargs):
        kwargs["limit"] = 2
        return original(*args, **kwargs)

    return query


def test_too_many_records_is_a_clear_400(api, owner, form, filled, monkeypatch):
    monkeypatch.setattr(exports, "MAX_EXPORT_ROWS", 2)
    response = api(owner).get(export_url(form))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "export_too_large"
    assert "2" in response.json()["error"]["message"]


def test_public_submissions_show_as_public_link(owner, form):
    do_create_record(None, form, {"batch": "PUB"}, source=Record.Source.PUBLIC)
    rows = list(exports.rows(exports.check_export(owner, form)))
    assert rows[1][1] == "PUB"
    assert rows[1][8] == "Public link"


def test_other_org_gets_404(api, outsider, form, filled):
    assert api(outsider).get(export_url(form)).status_code == 404
    theirs = f"/api/v1/orgs/{outsider.org_id}/lowcode/forms/{form.pk}/export/"
    assert api(outsider).get(theirs).status_code == 404


def test_under_asgi_the_file_streams_as_an_async_iterator():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from django.core.handlers.asgi import ASGIRequest

    from lowcode.api.entry_views import stream_for

    chunks = [b"a", b"b", b"c"]
    plain = SimpleNamespace(_request=object())
    assert list(stream_for(plain, iter(chunks))) == chunks
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    asgi = SimpleNamespace(_request=ASGIRequest(scope, io.BytesIO()))
    streamed = stream_for(asgi, iter(chunks))
    assert hasattr(streamed, "__anext__")

    async def collect():
        return [part async for part in streamed]

    # In a thread of its own: Playwright's sync API (the e2e tests) keeps a loop running
    # in the main thread for the rest of the session.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, collect()).result() == chunks


def xlsx_rows(response) -> list[list]:
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(body)).worksheets[0]
    return [list(row) for row in sheet.iter_rows()]


def test_xlsx_export_drops_characters_a_workbook_cannot_hold(api, owner, form):
    # Stored before text fields refused control characters: it must still export whole.
    records = [do_create_record(owner, form, {"batch": f"C{i}"})[0] for i in range(3)]
    Record.objects.filter(pk=records[0].pk).update(data={"batch": "a\x0bb\x1fc"})
    Record.objects.filter(pk=records[1].pk).update(data={"batch": "\x0b=HYPERLINK(1)"})
    version = form.published_version
    version.fields = [
        {**f, "label": f"Qty\x1f{f['label']}"} if f["key"] == "qty" else f for f in version.fields
    ]
    version.save(update_fields=["fields"])
    rows = xlsx_rows(api(owner).get(export_url(form, **{"as": "xlsx"})))
    assert rows[0][2].value == "QtyQuantity"
    batches = {row[1].value: row[1] for row in rows[1:]}
    assert set(batches) == {"abc", "'=HYPERLINK(1)", "C2"}
    # What a control character hid is still no formula once the character is gone.
    assert batches["'=HYPERLINK(1)"].data_type == "s"
    csv_rows = read_csv(api(owner).get(export_url(form)))
    assert {row[1] for row in csv_rows[1:]} == {"abc", "'=HYPERLINK(1)", "C2"}


def test_formula_in_a_field_label_is_defused_in_the_header(api, owner, make_form):
    label = '=HYPERLINK("http://evil.test","Click")'
    form = make_form([{"key": "a", "type": "text", "label": label}, *FIELDS[1:3]])
    do_create_record(owner, form, {"a": "x"})
    header = xlsx_rows(api(owner).get(export_url(form, **{"as": "xlsx"})))[0]
    assert header[1].value == "'" + label
    assert header[1].data_type == "s"  # not "f": no live formula
    assert read_csv(api(owner).get(export_url(form)))[0][1] == "'" + label
