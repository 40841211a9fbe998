"""CSV/XLSX import: field conversion, per-row error report, file checks, progress."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from core.errors import PayloadTooLarge, ValidationFailed
from lowcode import imports
from lowcode.models import ImportJob, Record

CHOICES = [{"id": "pass", "label": "Pass"}, {"id": "fail", "label": "Fail"}]
TAGS = [{"id": "urgent", "label": "Urgent"}, {"id": "rework", "label": "Rework"}]
FIELDS = [
    {"key": "batch", "type": "text", "label": "Batch number", "required": True},
    {"key": "qty", "type": "number", "label": "Quantity"},
    {"key": "price", "type": "money", "label": "Price", "options": {"currency": "CNY"}},
    {"key": "day", "type": "date", "label": "Inspection date"},
    {"key": "result", "type": "single_select", "label": "Result", "options": {"choices": CHOICES}},
    {"key": "tags", "type": "multi_select", "label": "Tags", "options": {"choices": TAGS}},
    {"key": "ok", "type": "checkbox", "label": "Checked"},
    {"key": "inspector", "type": "member", "label": "Inspector"},
    {"key": "note", "type": "text", "label": "备注"},
    {"key": "serial", "type": "serial", "label": "No.", "options": {"prefix": "INS-"}},
]


@pytest.fixture
def form(make_form):
    return make_form(FIELDS)


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def start(actor, form, name, content, capture):
    with capture(execute=True):
        job = imports.do_start_import(actor, form, upload(name, content))
    job.refresh_from_db()
    return job


def post(api, who, form, name, content, capture):
    with capture(execute=True):
        return api(who).post(
            f"/api/v1/orgs/{form.org_id}/lowcode/imports/",
            {"form": form.pk, "file": upload(name, content)},
            format="multipart",
        )


def records(form):
    return {r.data["batch"]: r for r in Record.objects.filter(form=form)}


def test_csv_import_converts_every_common_field_type(
    api, owner, form, django_capture_on_commit_callbacks
):
    content = (
        "Batch number,QUANTITY,price,Inspection date,Result,Tags,Checked,inspector,备注\n"
        f'B1,"1,200","1,234.50",2026-11-23,pass,"Urgent, Rework",yes,{owner.pk},好\n'
        f"B2,7.5,99,2026/1/5,FAIL,rework,是,#{owner.pk},\n"
        "B3,,,,,,no,,\n"
    ).encode()
    response = post(
        api, owner, form, "inspections.csv", content, django_capture_on_commit_callbacks
    )
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "pending"  # queued after commit (inline when embedded)
    body = (
        api(owner)
        .get(f"/api/v1/orgs/{form.org_id}/lowcode/imports/{response.json()['id']}/")
        .json()
    )
    assert body["state"] == "done"
    assert (body["created_count"], body["error_count"], body["errors"]) == (3, 0, [])
    assert body["processed_rows"] == body["total_rows"] == 3
    got = records(form)
    assert got["B1"].data == {
        "batch": "B1",
        "qty": 1200,
        "price": {"amount": 123450, "currency": "CNY"},
        "day": "2026-11-23",
        "result": "pass",
        "tags": ["urgent", "rework"],
        "ok": True,
        "inspector": owner.pk,
        "note": "好",
        "serial": got["B1"].data["serial"],
    }
    assert got["B1"].data["serial"].startswith("INS-")
    assert got["B1"].source == Record.Source.IMPORT
    assert got["B1"].created_by == owner
    assert got["B2"].data["qty"] == 7.5
    assert got["B2"].data["price"] == {"amount": 9900, "currency": "CNY"}
    assert got["B2"].data["day"] == "2026-01-05"
    assert got["B2"].data["result"] == "fail"
    assert got["B2"].data["ok"] is True
    assert got["B2"].data["inspector"] == owner.pk
    assert got["B3"].data.get("ok") in (None, False)
    assert "qty" not in got["B3"].data


def test_bad_rows_are_reported_with_file_row_numbers_and_good_rows_imported(
    owner, form, django_capture_on_commit_callbacks
):
    content = (
        b"Batch number,Quantity,Inspection date,Result,Inspector\n"  # row 1
        b"G1,1,2026-11-01,Pass,\n"  # row 2: good
        b"X1,abc,2026-11-01,Pass,\n"  # row 3: not a number
        b"\n"  # row 4: blank, skipped
        b",5,2026-11-01,Pass,\n"  # row 5: batch is required
        b"X2,5,2026-13-45,Maybe,\n"  # row 6: bad date and unknown choice
        b"X3,5,2026-11-01,Pass,999999\n"  # row 7: unknown member
        b"G2,2,2026-11-02,Fail,\n"  # row 8: good
    )
    job = start(owner, form, "mixed.csv", content, django_capture_on_commit_callbacks)
    assert job.state == ImportJob.State.DONE
    assert job.created_count == 2
    assert job.error_count == 4
    assert job.processed_rows == 6
    by_row = {e["row"]: e["fields"] for e in job.errors}
    assert set(by_row) == {3, 5, 6, 7}
    assert list(by_row[3]) == ["qty"]
    assert list(by_row[5]) == ["batch"]
    assert set(by_row[6]) == {"day", "result"}
    assert list(by_row[7]) == ["inspector"]
    assert set(records(form)) == {"G1", "G2"}


def test_unknown_columns_are_reported_not_silently_dropped(
    owner, form, django_capture_on_commit_callbacks
):
    content = b"Batch number,Colour,No.\nB1,red,INS-9\n"
    job = start(owner, form, "extra.csv", content, django_capture_on_commit_callbacks)
    assert job.state == ImportJob.State.DONE
    assert job.created_count == 1
    assert "Colour" in job.message
    assert "No." in job.message  # a serial number is filled in automatically


def test_header_matching_no_field_is_400_and_writes_nothing(
    api, owner, form, django_capture_on_commit_callbacks
):
    content = b"colour,size\nred,XL\n"
    response = post(api, owner, form, "nothing.csv", content, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_matching_columns"
    assert not ImportJob.objects.exists()
    assert not Record.objects.filter(form=form).exists()


def test_file_over_the_limit_is_413(api, owner, form, settings, django_capture_on_commit_callbacks):
    settings.LOWCODE_IMPORT_MAX_BYTES = 50
    content = b"Batch number\n" + b"B\n" * 40
    response = post(api, owner, form, "big.csv", content, django_capture_on_commit_callbacks)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not ImportJob.objects.exists()
    with pytest.raises(PayloadTooLarge):
        imports.do_start_import(owner, form, upload("big.csv", content))


def test_too_many_rows_is_413_before_anything_is_written(
    api, owner, form, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    content = b"Batch number\n" + b"B\n" * 4
    response = post(api, owner, form, "rows.csv", content, django_capture_on_commit_callbacks)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_rows"
    assert not ImportJob.objects.exists()
    job = start(
        owner, form, "rows.csv", b"Batch number\n" + b"B\n" * 3, django_capture_on_commit_callbacks
    )
    assert job.created_count == 3


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("data.txt", b"Batch number\nB1\n"),  # extension
        ("data.xlsx", b"Batch number\nB1\n"),  # says xlsx, is text
        ("data.csv", b"PK\x03\x04rest-of-a-zip"),  # says csv, is a zip
        ("data.csv", b"Batch\x00number\n"),  # binary
        ("broken.xlsx", b"PK\x03\x04not really a workbook"),
    ],
)
def test_wrong_file_type_is_400(
    api, owner, form, name, content, django_capture_on_commit_callbacks
):
    response = post(api, owner, form, name, content, django_capture_on_commit_callbacks)
    assert response.status_code == 400, response.content
    assert "file" in response.json()["error"]["fields"]
    assert not ImportJob.objects.exists()


def test_gb18030_csv_from_chinese_excel(owner, make_form, django_capture_on_commit_callbacks):
    form = make_form(
        [
            {"key": "batch", "type": "text", "label": "批次号", "required": True},
            {"key": "place", "type": "text", "label": "地点"},
        ]
    )
    content = "批次号,地点\r\nA-1,北京\r\nA-2,上海\r\n".encode("gb18030")
    job = start(owner, form, "导出.csv", content, django_capture_on_commit_callbacks)
    assert (job.state, job.created_count, job.error_count) == ("done", 2, 0)
    assert {r.data["place"] for r in Record.objects.filter(form=form)} == {"北京", "上海"}
    assert job.file_name == "导出.csv"


def test_utf8_bom_and_semicolons(owner, form, django_capture_on_commit_callbacks):
    content = "\ufeffBatch number;Quantity\nS1;3\n".encode()
    job = start(owner, form, "semi.csv", content, django_capture_on_commit_callbacks)
    assert (job.created_count, job.error_count) == (1, 0)
    assert Record.objects.get(form=form).data["qty"] == 3


def xlsx_bytes(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_import_with_native_cell_types(owner, form, django_capture_on_commit_callbacks):
    content = xlsx_bytes(
        [
            [
                "batch",
                "Quantity",
                "Price",
                "Inspection date",
                "Result",
                "Checked",
                "Inspector",
                "备注",
            ],
            ["X1", 1200, 1234.5, datetime(2026, 11, 23, 0, 0), "Pass", True, owner.pk, 13800138000],
            ["X2", "1,000", "56,000.50 CNY", "2026-11-24", "fail", "否", None, "文本"],
            ["X3", "lots", None, None, None, None, None, None],
            [None, None, None, None, None, None, None, None],
            ["X4", 4, None, None, None, False, None, None],
        ]
    )
    job = start(owner, form, "sheet.xlsx", content, django_capture_on_commit_callbacks)
    assert job.state == "done", job.message
    assert job.created_count == 3
    assert job.errors == [{"row": 4, "fields": {"qty": ["Expected a number."]}}]
    got = records(form)
    assert got["X1"].data["qty"] == 1200
    assert got["X1"].data["price"] == {"amount": 123450, "currency": "CNY"}
    assert got["X1"].data["day"] == "2026-11-23"
    assert got["X1"].data["ok"] is True
    assert got["X1"].data["inspector"] == owner.pk
    assert got["X1"].data["note"] == "13800138000"
    assert got["X2"].data["qty"] == 1000
    assert got["X2"].data["price"] == {"amount": 5600050, "currency": "CNY"}
    assert got["X2"].data["result"] == "fail"
    assert "ok" not in got["X2"].data or got["X2"].data["ok"] is False


def test_job_progress_moves_per_chunk(owner, form, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    seen: list[tuple[int, int, int]] = []
    original = imports._import_chunk

    def spy(job, *args):
        original(job, *args)
        stored = ImportJob.objects.get(pk=job.pk)
        seen.append((stored.processed_rows, stored.created_count, stored.total_rows))
        assert stored.state == ImportJob.State.RUNNING

    monkeypatch.setattr(imports, "_import_chunk", spy)
    content = ("Batch number,Quantity\n" + "".join(f"B{i},{i}\n" for i in range(5))).encode()
    job = start(owner, form, "five.csv", content, django_capture_on_commit_callbacks)
    assert seen == [(2, 2, 5), (4, 4, 5), (5, 5, 5)]
    assert job.state == "done" and job.finished_at is not None and job.started_at is not None
    assert not job.file  # the uploaded copy is gone once the import ended


def test_only_the_first_thousand_errors_are_stored_but_all_counted(
    owner, form, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "MAX_STORED_ERRORS", 3)
    content = ("Batch number,Quantity\n" + "B,x\n" * 5 + "G,1\n").encode()
    job = start(owner, form, "errors.csv", content, django_capture_on_commit_callbacks)
    assert job.error_count == 5
    assert [e["row"] for e in job.errors] == [2, 3, 4]
    assert job.created_count == 1


def test_same_file_twice_imports_twice(owner, form, django_capture_on_commit_callbacks):
    content = b"Batch number\nR1\n"
    start(owner, form, "again.csv", content, django_capture_on_commit_callbacks)
    start(owner, form, "again.csv", content, django_capture_on_commit_callbacks)
    assert Record.objects.filter(form=form, data__batch="R1").count() == 2


def test_job_fails_cleanly_when_the_importer_lost_access(
    owner, add_member, org, make_form, django_capture_on_commit_callbacks
):
    admin = add_member(org, "admin")
    form = make_form(FIELDS, actor=owner)
    content = b"Batch number\nL1\n"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = imports.do_start_import(admin, form, upload("late.csv", content))
    admin.role = "member"
    admin.save(update_fields=["role"])
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert job.message
    assert not Record.objects.filter(form=form).exists()


def test_submit_level_member_cannot_import(api, member, form, django_capture_on_commit_callbacks):
    response = post(
        api, member, form, "x.csv", b"Batch number\nB\n", django_capture_on_commit_callbacks
    )
    assert response.status_code == 403
    assert not ImportJob.objects.exists()
    with pytest.raises(Exception) as info:
        imports.do_start_import(member, form, upload("x.csv", b"Batch number\nB\n"))
    assert getattr(info.value, "status", None) == 403


def test_get_and_list_jobs(api, owner, form, django_capture_on_commit_callbacks):
    created = post(
        api, owner, form, "a.csv", b"Batch number\nB1\n", django_capture_on_commit_callbacks
    ).json()
    client = api(owner)
    one = client.get(f"/api/v1/orgs/{form.org_id}/lowcode/imports/{created['id']}/")
    assert one.status_code == 200
    assert set(one.json()) == {
        "id",
        "form_id",
        "file_name",
        "state",
        "total_rows",
        "processed_rows",
        "created_count",
        "error_count",
        "errors",
        "message",
        "created_at",
        "finished_at",
    }
    assert one.json()["form_id"] == form.pk
    listed = client.get(f"/api/v1/orgs/{form.org_id}/lowcode/imports/?form={form.pk}")
    assert [j["id"] for j in listed.json()] == [created["id"]]


def test_other_org_gets_404(api, owner, outsider, form, django_capture_on_commit_callbacks):
    created = post(
        api, owner, form, "a.csv", b"Batch number\nB1\n", django_capture_on_commit_callbacks
    ).json()
    client = api(outsider)
    base = f"/api/v1/orgs/{form.org_id}/lowcode/imports/"
    assert client.get(f"{base}{created['id']}/").status_code == 404
    assert client.get(f"{base}?form={form.pk}").status_code == 404
    # Through their own organisation: the form and the job do not exist there.
    theirs = f"/api/v1/orgs/{outsider.org_id}/lowcode/imports/"
    assert client.get(f"{theirs}{created['id']}/").status_code == 404
    assert client.get(f"{theirs}?form={form.pk}").status_code == 404
    response = post(
        api, outsider, form, "b.csv", b"Batch number\nB2\n", django_capture_on_commit_callbacks
    )
    assert response.status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            theirs,
            {"form": form.pk, "file": upload("c.csv", b"Batch number\nB3\n")},
            format="multipart",
        )
    assert response.status_code == 404
    assert Record.objects.filter(form=form).count() == 1


def test_map_header_prefers_keys_and_reports_duplicates():
    fields = [
        {"key": "a", "type": "text", "label": "b"},
        {"key": "b", "type": "text", "label": "Bee"},
    ]
    mapping = imports.map_header(fields, ["B", "Bee", "  "])
    assert {i: d["key"] for i, d in mapping.columns.items()} == {0: "b"}
    assert mapping.unknown == ["Bee"]  # b is already filled by column 1
    with pytest.raises(ValidationFailed):
        imports.map_header(fields, ["x", None])


def test_import_partial_renders_with_only_the_form(rf, form):
    from django.template.loader import render_to_string

    html = render_to_string(
        "lowcode/partials/import_dialog.html", {"form": form}, request=rf.get("/")
    )
    assert f'data-api="/api/v1/orgs/{form.org_id}/lowcode/"' in html
    assert f'data-form="{form.pk}"' in html
    assert "csrfmiddlewaretoken" in html
    assert "lowcode/import.js" in html
    assert "<progress" in html


# --- one bad cell or row never ends the import --------------------------------------------


def money_form(make_form):
    return make_form(
        [
            {"key": "batch", "type": "text", "label": "Batch"},
            {"key": "cost", "type": "money", "label": "Cost"},
        ]
    )


@pytest.mark.parametrize("bad", ["Infinity", "sNaN", "-inf"])
def test_an_unreadable_money_cell_is_that_rows_error(
    make_form, owner, bad, django_capture_on_commit_callbacks
):
    form = money_form(make_form)
    content = f"batch,cost\nB1,1.00\nB2,{bad}\nB3,3.00\n".encode()
    job = start(owner, form, "money.csv", content, django_capture_on_commit_callbacks)
    assert (job.state, job.created_count, job.error_count) == ("done", 2, 1), job.message
    assert [e["row"] for e in job.errors] == [3]
    assert [key.split(".")[0] for key in job.errors[0]["fields"]] == ["cost"]
    assert {
        r.data["batch"]: r.data["cost"]["amount"] for r in Record.objects.filter(form=form)
    } == {
        "B1": 100,
        "B3": 300,
    }


def test_a_cell_no_field_type_expected_fails_only_its_cell(
    owner, form, monkeypatch, django_capture_on_commit_callbacks
):
    original = imports.cell_value

    def fragile(definition, ftype, raw):
        if raw == "kaput":
            raise OverflowError("cannot convert Infinity to integer")
        return original(definition, ftype, raw)

    monkeypatch.setattr(imports, "cell_value", fragile)
    content = b"Batch number,Quantity,Price\nB1,1,1.00\nB2,kaput,2.00\nB3,3,3.00\n"
    job = start(owner, form, "kaput.csv", content, django_capture_on_commit_callbacks)
    assert (job.state, job.created_count, job.error_count) == ("done", 2, 1), job.message
    assert job.errors == [{"row": 3, "fields": {"qty": ["This value could not be read."]}}]
    assert set(records(form)) == {"B1", "B3"}


def test_a_nul_character_fails_only_its_cell(owner, form, django_capture_on_commit_callbacks):
    content = b"Batch number,Quantity\nB1,1\nB\x002,2\nB3,3\n"
    job = start(owner, form, "nul.csv", content, django_capture_on_commit_callbacks)
    assert (job.state, job.created_count, job.error_count) == ("done", 2, 1), job.message
    assert job.errors == [
        {"row": 3, "fields": {"batch": ["Text may not contain control characters."]}}
    ]
    assert set(records(form)) == {"B1", "B3"}


def test_a_nul_character_in_the_header_is_dropped(owner, form, django_capture_on_commit_callbacks):
    content = b"Batch number,Col\x00our\nB1,red\n"
    job = start(owner, form, "nul.csv", content, django_capture_on_commit_callbacks)
    assert (job.state, job.created_count) == ("done", 1)
    assert "Colour" in job.message


def test_a_row_that_breaks_validation_is_reported_alone(
    owner, form, monkeypatch, django_capture_on_commit_callbacks
):
    original = imports.do_bulk_create_records

    def fragile(actor, form, rows, **kwargs):
        if any(row.get("batch") == "BOOM" for row in rows):
            raise RuntimeError("a bug in some field type")
        return original(actor, form, rows, **kwargs)

    monkeypatch.setattr(imports, "do_bulk_create_records", fragile)
    content = b"Batch number,Quantity\nB1,1\nBOOM,2\nB3,x\nB4,4\n"
    job = start(owner, form, "boom.csv", content, django_capture_on_commit_callbacks)
    assert (job.state, job.created_count, job.error_count) == ("done", 2, 2), job.message
    by_row = {e["row"]: e["fields"] for e in job.errors}
    assert by_row == {3: {"data": ["This row could not be imported."]}, 4: by_row[4]}
    assert list(by_row[4]) == ["qty"]  # the ordinary validation error is still reported
    assert set(records(form)) == {"B1", "B4"}


def test_a_database_failure_still_fails_the_job(
    owner, form, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(imports, "do_bulk_create_records", down)
    job = start(owner, form, "down.csv", b"Batch number\nB1\n", django_capture_on_commit_callbacks)
    assert job.state == ImportJob.State.FAILED
    assert "internal error" in job.message
    assert job.created_count == 0


# --- cells over the csv module's limit ----------------------------------------------------


def test_a_csv_cell_over_the_field_limit_is_400_at_upload(
    api, owner, form, django_capture_on_commit_callbacks
):
    content = ("Batch number,Quantity\nB1,1\n" + '"' + "x" * 200_000 + '",2\n').encode()
    response = post(api, owner, form, "huge.csv", content, django_capture_on_commit_callbacks)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "cell_too_long"
    assert "Row 3" in error["message"]
    assert "file" in error["fields"]
    assert not ImportJob.objects.exists()


def test_a_csv_cell_over_the_field_limit_fails_a_queued_job_cleanly(
    owner, form, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = imports.do_start_import(owner, form, upload("late.csv", b"Batch number\nB1\n"))
    huge = ("Batch number\nB1\n" + "x" * 200_000 + "\n").encode()
    with job.file.open("wb") as handle:  # the stored file changed after the upload check
        handle.write(huge)
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert "Row 3" in job.message and "characters" in job.message


def test_rows_read_before_the_row_limit_are_imported(
    owner, form, monkeypatch, django_capture_on_commit_callbacks
):
    content = b"Batch number\nB1\nB2\nB3\nB4\n"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = imports.do_start_import(owner, form, upload("long.csv", content))
    monkeypatch.setattr(imports, "MAX_ROWS", 2)  # as if the workbook's size info had lied
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert "after 2 rows" in job.message
    assert job.created_count == 2
    assert set(records(form)) == {"B1", "B2"}


# --- jobs whose worker died ---------------------------------------------------------------


def running_job(form, owner, *, silent_for, **counts):
    from datetime import timedelta

    from django.utils import timezone

    last = timezone.now() - silent_for
    return ImportJob.objects.create(
        org_id=form.org_id,
        form=form,
        created_by=owner,
        file_name="big.csv",
        state=ImportJob.State.RUNNING,
        started_at=last - timedelta(minutes=5),
        heartbeat_at=last,
        message="Columns that match no field were not imported: Colour.",
        **counts,
    )


def test_a_running_job_without_progress_for_ten_minutes_is_shown_failed(api, owner, form):
    from datetime import timedelta

    stale = running_job(form, owner, silent_for=timedelta(minutes=11), created_count=4_000)
    alive = running_job(form, owner, silent_for=timedelta(minutes=9), created_count=2_000)
    base = f"/api/v1/orgs/{form.org_id}/lowcode/imports/"
    body = api(owner).get(f"{base}{stale.pk}/").json()
    assert body["state"] == "failed"
    assert body["message"].startswith(
        "The import stopped; 4,000 rows were imported. Import the rest again."
    )
    assert "Colour" in body["message"]
    assert body["finished_at"] is not None
    stale.refresh_from_db()
    assert stale.state == ImportJob.State.FAILED  # stored, not only shown
    assert api(owner).get(f"{base}{alive.pk}/").json()["state"] == "running"
    listed = {j["id"]: j["state"] for j in api(owner).get(f"{base}?form={form.pk}").json()}
    assert listed == {stale.pk: "failed", alive.pk: "running"}
    # An old job from before the heartbeat existed: its start time counts.
    ImportJob.objects.filter(pk=alive.pk).update(heartbeat_at=None, started_at=stale.started_at)
    assert api(owner).get(f"{base}{alive.pk}/").json()["state"] == "failed"


def test_the_worker_moves_the_heartbeat_after_every_chunk(
    owner, form, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    beats = []
    original = imports._import_chunk

    def spy(job, *args):
        original(job, *args)
        beats.append(ImportJob.objects.get(pk=job.pk).heartbeat_at)

    monkeypatch.setattr(imports, "_import_chunk", spy)
    content = ("Batch number\n" + "".join(f"B{i}\n" for i in range(5))).encode()
    start(owner, form, "five.csv", content, django_capture_on_commit_callbacks)
    assert len(beats) == 3 and all(beats) and beats == sorted(beats)


def test_a_worker_that_was_declared_stopped_stops(
    owner, form, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    original = imports._import_chunk
    calls = []

    def slow(job, *args):
        calls.append(1)
        if len(calls) == 2:  # meanwhile, someone read the job and found it silent
            ImportJob.objects.filter(pk=job.pk).update(
                state=ImportJob.State.FAILED, message="The import stopped; 2 rows ..."
            )
        original(job, *args)

    monkeypatch.setattr(imports, "_import_chunk", slow)
    content = ("Batch number\n" + "".join(f"B{i}\n" for i in range(5))).encode()
    job = start(owner, form, "five.csv", content, django_capture_on_commit_callbacks)
    assert len(calls) == 2  # the third chunk was not imported
    assert job.state == ImportJob.State.FAILED
    assert job.created_count == 4
    assert job.message.startswith("The import stopped; 4 rows were imported.")
    assert Record.objects.filter(form=form).count() == 4
    assert not job.file
