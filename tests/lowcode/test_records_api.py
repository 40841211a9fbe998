"""The records API: create (idempotent), read, update with history, bin, filters and pages."""

from __future__ import annotations

import json

import pytest

from lowcode.actions import do_create_record, do_update_app

CHOICES = {"choices": [{"id": "pass", "label": "Pass"}, {"id": "fail", "label": "Fail"}]}
FIELDS = [
    {"key": "batch", "type": "text", "label": "Batch", "required": True, "indexed": True},
    {"key": "temp", "type": "number", "label": "Temperature", "indexed": True},
    {"key": "result", "type": "single_select", "label": "Result", "options": CHOICES},
    {"key": "tags", "type": "multi_select", "label": "Tags", "options": CHOICES},
    {"key": "cost", "type": "money", "label": "Cost"},
    {"key": "ok", "type": "checkbox", "label": "OK"},
    {"key": "seen", "type": "datetime", "label": "Seen"},
    {"key": "at", "type": "created_at", "label": "Created"},
]


@pytest.fixture
def form(make_form):
    return make_form(FIELDS)


def url(org, path=""):
    return f"/api/v1/orgs/{org.pk}/lowcode/{path}"


def test_create_is_idempotent_and_validates_per_field(form, org, member, api):
    client = api(member)
    body = {"form": form.pk, "data": {"batch": "B7", "temp": 4.5}, "idempotency_key": "k-1"}
    first = client.post(url(org, "records/"), body, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["data"] == {"batch": "B7", "temp": 4.5}
    assert first.json()["version"] == 1
    retry = client.post(url(org, "records/"), body, format="json")
    assert retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    bad = client.post(
        url(org, "records/"),
        {"form": form.pk, "data": {"temp": "warm", "colour": "red"}},
        format="json",
    )
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "invalid_record"
    assert error["fields"] == {
        "batch": ["This field is required."],
        "temp": ["Expected a number."],
        "colour": ["Unknown field."],
    }
    assert form.records.count() == 1  # nothing half-written


def test_update_keeps_history_and_bin_restores(form, org, owner, member, api):
    client = api(member)
    record = client.post(
        url(org, "records/"), {"form": form.pk, "data": {"batch": "B1", "temp": 4}}, format="json"
    ).json()
    changed = client.patch(
        url(org, f"records/{record['id']}/"), {"data": {"temp": 6, "ok": True}}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["data"] == {"batch": "B1", "temp": 6, "ok": True}
    history = client.get(url(org, f"records/{record['id']}/history/")).json()
    assert [h["kind"] for h in history] == ["created", "updated"]
    assert history[1]["changes"] == {"ok": [None, True], "temp": [4, 6]}
    assert history[1]["actor_id"] == member.pk
    assert client.delete(url(org, f"records/{record['id']}/")).status_code == 204
    assert client.get(url(org, f"records/{record['id']}/")).status_code == 404
    listed = api(owner).get(url(org, "records/"), {"form": form.pk, "deleted": "1"}).json()
    assert [r["id"] for r in listed["results"]] == [record["id"]]
    restored = client.post(url(org, f"records/{record['id']}/restore/"))
    assert restored.status_code == 200 and restored.json()["deleted_at"] is None
    kinds = [h["kind"] for h in client.get(url(org, f"records/{record['id']}/history/")).json()]
    assert kinds == ["created", "updated", "deleted", "restored"]


def test_members_see_their_own_records_and_view_all_sees_every_one(
    form, org, owner, member, add_member, api
):
    colleague = add_member(org, "member")
    mine, _ = do_create_record(member, form, {"batch": "mine"})
    do_create_record(colleague, form, {"batch": "theirs"})
    listed = api(member).get(url(org, "records/"), {"form": form.pk}).json()["results"]
    assert [r["data"]["batch"] for r in listed] == ["mine"]
    theirs = form.records.get(data__batch="theirs")
    assert api(member).get(url(org, f"records/{theirs.pk}/")).status_code == 404
    assert (
        api(member)
        .patch(url(org, f"records/{theirs.pk}/"), {"data": {}}, format="json")
        .status_code
        == 404
    )
    assert len(api(owner).get(url(org, "records/"), {"form": form.pk}).json()["results"]) == 2
    do_update_app(
        owner,
        form.app,
        permissions={"view_all": {"roles": [], "members": [member.pk], "departments": []}},
    )
    assert len(api(member).get(url(org, "records/"), {"form": form.pk}).json()["results"]) == 2
    # Seeing everything is not editing everything.
    response = api(member).patch(
        url(org, f"records/{theirs.pk}/"), {"data": {"temp": 1}}, format="json"
    )
    assert response.status_code == 403
    assert mine.pk


def test_unpublished_apps_are_invisible_to_non_managers(form, org, owner, member, api):
    do_update_app(owner, form.app, is_published=False)
    assert api(member).get(url(org, f"apps/{form.app_id}/")).status_code == 404
    assert api(member).get(url(org, "records/"), {"form": form.pk}).status_code == 404
    assert form.app_id not in [a["id"] for a in api(member).get(url(org, "apps/")).json()]
    assert api(owner).get(url(org, f"apps/{form.app_id}/")).json()["my_levels"] == [
        "manage",
        "submit",
        "view_all",
    ]


def test_guests_cannot_submit_by_default(form, org, guest, api):
    response = api(guest).post(
        url(org, "records/"), {"form": form.pk, "data": {"batch": "x"}}, format="json"
    )
    assert response.status_code == 404


def _seed(owner, form):
    rows = [
        {"batch": "B1", "temp": 2, "result": "pass", "tags": ["pass"], "cost": {"amount": 100}},
        {"batch": "B1", "temp": 9, "result": "fail", "tags": ["fail", "pass"], "ok": True},
        {"batch": "B2", "temp": 5.5, "result": "pass", "cost": {"amount": 900}},
        {"batch": "C3", "result": "fail"},
    ]
    return [do_create_record(owner, form, row)[0] for row in rows]


@pytest.mark.parametrize(
    ("condition", "batches"),
    [
        ({"field": "batch", "op": "eq", "value": "B1"}, ["B1", "B1"]),
        ({"field": "batch", "op": "contains", "value": "b"}, ["B1", "B1", "B2"]),
        ({"field": "batch", "op": "in", "value": ["B2", "C3"]}, ["B2", "C3"]),
        ({"field": "temp", "op": "range", "value": [3, 10]}, ["B1", "B2"]),
        ({"field": "temp", "op": "range", "value": [None, 5.5]}, ["B1", "B2"]),
        ({"field": "temp", "op": "gte", "value": "9"}, ["B1"]),
        ({"field": "temp", "op": "empty"}, ["C3"]),
        ({"field": "temp", "op": "not_empty"}, ["B1", "B1", "B2"]),
        ({"field": "result", "op": "eq", "value": "fail"}, ["B1", "C3"]),
        ({"field": "tags", "op": "contains", "value": ["fail"]}, ["B1"]),
        ({"field": "cost", "op": "range", "value": [500, None]}, ["B2"]),
        ({"field": "ok", "op": "eq", "value": False}, ["B1", "B2", "C3"]),
        ({"field": "number", "op": "in", "value": [1, 4]}, ["B1", "C3"]),
    ],
)
def test_filters(form, org, owner, api, condition, batches):
    _seed(owner, form)
    response = api(owner).get(
        url(org, "records/"), {"form": form.pk, "filter": json.dumps([condition]), "sort": "number"}
    )
    assert response.status_code == 200, response.content
    assert [r["data"]["batch"] for r in response.json()["results"]] == batches


@pytest.mark.parametrize(
    ("filter_param", "field"),
    [
        ("not json", "filter"),
        (json.dumps({"field": "batch"}), "filter"),
        (json.dumps([{"field": "nope", "op": "eq", "value": 1}]), "filter[0].field"),
        (json.dumps([{"field": "result", "op": "gte", "value": "pass"}]), "filter[0].op"),
        (json.dumps([{"field": "temp", "op": "eq", "value": "warm"}]), "filter[0].value"),
        (json.dumps([{"field": "temp", "op": "range", "value": [1]}]), "filter[0].value"),
        (
            json.dumps([{"field": "tags", "op": "contains", "value": ["bad choice!"]}]),
            "filter[0].value",
        ),
        # Shaped like dates but impossible: a 400, not an exception from the date parser.
        (
            json.dumps([{"field": "seen", "op": "gte", "value": "2026-13-01T00:00:00Z"}]),
            "filter[0].value",
        ),
        (
            json.dumps([{"field": "seen", "op": "lte", "value": "2026-02-30T10:00:00+08:00"}]),
            "filter[0].value",
        ),
        (json.dumps([{"field": "at", "op": "gte", "value": "2026-02-30"}]), "filter[0].value"),
        (
            json.dumps([{"field": "at", "op": "lte", "value": "2026-11-23T24:30:00Z"}]),
            "filter[0].value",
        ),
    ],
)
def test_bad_filters_are_400(form, org, owner, api, filter_param, field):
    response = api(owner).get(url(org, "records/"), {"form": form.pk, "filter": filter_param})
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_sorted_keyset_pages_visit_every_record_once(form, org, owner, api):
    records = _seed(owner, form) + _seed(owner, form)
    for sort in ("temp", "-temp", "batch", "-number", "cost", ""):
        seen, cursor = [], None
        while True:
            params = {"form": form.pk, "sort": sort, "limit": 3}
            if cursor:
                params["cursor"] = cursor
            body = api(owner).get(url(org, "records/"), params).json()
            seen += [r["id"] for r in body["results"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(r.pk for r in records), sort
        assert len(seen) == len(set(seen))
    temps = [
        r["data"].get("temp")
        for r in api(owner)
        .get(url(org, "records/"), {"form": form.pk, "sort": "temp"})
        .json()["results"]
    ]
    assert temps == [2, 2, 5.5, 5.5, 9, 9, None, None]  # empty values last


def test_bad_cursor_sort_and_limit_are_400(form, org, owner, api):
    for params in (
        {"cursor": "!!!"},
        {"sort": "nope"},
        {"sort": "tags"},
        {"limit": "0"},
        {"limit": "x"},
    ):
        response = api(owner).get(url(org, "records/"), {"form": form.pk, **params})
        assert response.status_code == 400, (params, response.content)
    assert api(owner).get(url(org, "records/")).status_code == 400  # form is required


def test_lookup_runs_by_one_value(form, org, owner, member, api):
    _seed(owner, form)
    created = api(owner).post(
        url(org, "lookups/"),
        {"form": form.pk, "name": "Batch lookup", "input_field": "batch", "columns": ["temp"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    lookup_id = created.json()["id"]
    found = api(owner).get(url(org, f"lookups/{lookup_id}/run/"), {"q": " B1 "}).json()
    assert sorted(r["data"]["temp"] for r in found["results"]) == [2, 9]
    assert api(owner).get(url(org, f"lookups/{lookup_id}/run/"), {"q": ""}).json()["results"] == []
    # Lookups read everyone's records: view_all level.
    assert api(member).get(url(org, f"lookups/{lookup_id}/run/"), {"q": "B1"}).status_code == 403
    bad = api(owner).post(
        url(org, "lookups/"),
        {"form": form.pk, "name": "x", "input_field": "nope"},
        format="json",
    )
    assert bad.status_code == 400 and "input_field" in bad.json()["error"]["fields"]


def test_design_through_the_api(org, owner, member, api):
    client = api(owner)
    app = client.post(url(org, "apps/"), {"name": "Dairy"}, format="json").json()
    form = client.post(
        url(org, "forms/"),
        {"app": app["id"], "name": "Inspection", "fields": FIELDS},
        format="json",
    ).json()
    assert form["has_unpublished_changes"] is True
    published = client.post(url(org, f"forms/{form['id']}/publish/"))
    assert published.status_code == 201 and published.json()["number"] == 1
    assert client.post(url(org, f"forms/{form['id']}/publish/")).status_code == 200
    assert (
        client.patch(
            url(org, f"apps/{app['id']}/"), {"is_published": True}, format="json"
        ).status_code
        == 200
    )
    bad = client.patch(
        url(org, f"forms/{form['id']}/"),
        {"fields": [{"key": "x", "type": "number", "label": "X", "options": {"min": "low"}}]},
        format="json",
    )
    assert bad.status_code == 400 and "fields[0].options.min" in bad.json()["error"]["fields"]
    assert api(member).post(url(org, f"forms/{form['id']}/publish/")).status_code == 403
    types = client.get(url(org, "field-types/")).json()
    assert {"text", "money", "computed", "sub_table"} <= {t["type"] for t in types}
    versions = client.get(url(org, f"forms/{form['id']}/versions/")).json()
    assert [v["number"] for v in versions] == [1]


def test_record_files_open_for_whoever_sees_the_record(
    make_form, org, owner, member, outsider, api
):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from im.actions import do_upload_attachment

    form = make_form([{"key": "photo", "type": "image", "label": "Photo"}])
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    photo = do_upload_attachment(
        member, SimpleUploadedFile("p.png", buffer.getvalue(), "image/png")
    )
    other = do_upload_attachment(
        member, SimpleUploadedFile("q.png", buffer.getvalue(), "image/png")
    )
    record, _ = do_create_record(member, form, {"photo": [photo.pk]})
    path = f"records/{record.pk}/files/{photo.pk}/"
    response = api(owner).get(url(org, path))  # sees all records; did not upload the file
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert api(owner).get(url(org, f"records/{record.pk}/files/{other.pk}/")).status_code == 404
    assert api(outsider).get(url(org, path)).status_code == 404


def test_idor_a_file_can_only_go_into_a_record_by_its_uploader_and_only_once(
    make_form, org, owner, member, api
):
    """Naming someone else's file id in a record of your own must not expose the file."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from im.actions import do_upload_attachment

    secret = do_upload_attachment(
        owner, SimpleUploadedFile("salary.txt", b"TOP SECRET", "text/plain")
    )
    hr = make_form([{"key": "f", "type": "attachment", "label": "F"}], name="HR")
    hr_record, _ = do_create_record(owner, hr, {"f": [secret.pk]})
    mine = make_form([{"key": "f", "type": "attachment", "label": "F"}], name="Mine", actor=member)
    steal = api(member).post(
        url(org, "records/"), {"form": mine.pk, "data": {"f": [secret.pk]}}, format="json"
    )
    assert steal.status_code == 400 and "f" in steal.json()["error"]["fields"]
    # Not even the uploader can put the same file into a second record.
    again = api(owner).post(
        url(org, "records/"), {"form": hr.pk, "data": {"f": [secret.pk]}}, format="json"
    )
    assert again.status_code == 400
    # The record that holds it keeps it through edits by anyone allowed to edit.
    kept = api(owner).patch(
        url(org, f"records/{hr_record.pk}/"), {"data": {"f": [secret.pk]}}, format="json"
    )
    assert kept.status_code == 200
    dropped = api(owner).patch(
        url(org, f"records/{hr_record.pk}/"), {"data": {"f": []}}, format="json"
    )
    assert dropped.status_code == 200
    assert api(owner).get(url(org, f"records/{hr_record.pk}/files/{secret.pk}/")).status_code == 404
