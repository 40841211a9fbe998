"""Reports: group-by aggregates computed in the database, their API and the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.actions import do_create_department
from lowcode.actions import do_bulk_create_records, do_publish_form, do_update_app, do_update_form
from lowcode.models import Record, Report
from lowcode.reports import OTHER, TOP_GROUPS, do_save_report, report_data

pytestmark = pytest.mark.django_db

CHOICES = [
    {"id": "pass", "label": "Pass", "color": "#1a7f4b"},
    {"id": "fail", "label": "Fail"},
    {"id": "hold", "label": "On hold"},
]
FIELDS = [
    {"key": "batch", "type": "text", "label": "Batch", "indexed": True},
    {"key": "result", "type": "single_select", "label": "Result", "options": {"choices": CHOICES}},
    {
        "key": "temp",
        "type": "number",
        "label": "Temperature",
        "options": {"decimals": 1, "unit": "°C"},
    },
    {"key": "cost", "type": "money", "label": "Cost", "options": {"currency": "CNY"}},
    {"key": "day", "type": "date", "label": "Day"},
    {"key": "at", "type": "datetime", "label": "Inspected at"},
    {"key": "inspector", "type": "member", "label": "Inspector"},
    {"key": "dept", "type": "department", "label": "Department"},
    {"key": "ok", "type": "checkbox", "label": "Signed off"},
    {"key": "notes", "type": "long_text", "label": "Notes"},
    {"key": "double", "type": "computed", "label": "Double", "options": {"expression": "temp * 2"}},
]


@pytest.fixture
def form(make_form, owner):
    form = make_form(FIELDS)
    rows = [
        {
            "batch": "B1",
            "result": "pass",
            "temp": 4.0,
            "cost": {"amount": 1050},
            "day": "2026-11-02",
            "at": "2026-11-02T08:00:00Z",
            "inspector": owner.pk,
            "ok": True,
        },
        {
            "batch": "B1",
            "result": "fail",
            "temp": 8.5,
            "cost": {"amount": 250},
            "day": "2026-11-03",
            "at": "2026-11-03T08:00:00Z",
            "inspector": owner.pk,
        },
        {
            "batch": "B2",
            "result": "pass",
            "temp": 3.5,
            "cost": {"amount": 700},
            "day": "2026-11-10",
            "at": "2026-11-10T08:00:00Z",
        },
        {"batch": "B2", "result": "pass", "day": "2026-12-01", "at": "2026-12-01T08:00:00Z"},
        {"batch": "B3"},
    ]
    result = do_bulk_create_records(owner, form, rows)
    assert result.created == 5, result.errors
    return form


def save(owner, form, **settings):
    settings.setdefault("name", "Report")
    return do_save_report(owner, form.app, form, **settings)


def by_group(data):
    return {row["group"]: row["value"] for row in data["rows"]}


# --- aggregations ------------------------------------------------------------------------


def test_count_per_choice_is_labelled_in_the_choices_order(owner, form):
    data = report_data(owner, save(owner, form, group_by="result"))
    assert [(r["group"], r["label"], r["value"]) for r in data["rows"]] == [
        ("pass", "Pass", 3),
        ("fail", "Fail", 1),
        (None, "(empty)", 1),
    ]
    assert data["total"] == 5
    assert data["record_count"] == 5
    # The designer's choice colours go to the chart.
    assert data["rows"][0]["color"] == "#1a7f4b"
    assert "color" not in data["rows"][1]
    assert [c["label"] for c in data["columns"]] == ["Result", "Records"]


def test_sum_and_average_of_a_number_per_group(owner, form):
    total = report_data(
        owner, save(owner, form, group_by="batch", aggregate="sum", value_field="temp")
    )
    assert by_group(total) == {"B1": 12.5, "B2": 3.5, "B3": 0}
    assert total["total"] == 16
    average = report_data(
        owner, save(owner, form, group_by="batch", aggregate="avg", value_field="temp")
    )
    # B2 has one value out of two records: the average is over the values, not the records.
    assert by_group(average) == {"B1": 6.25, "B2": 3.5, "B3": None}
    assert average["total"] == pytest.approx(16 / 3, abs=0.01)
    assert average["unit"] == "°C"
    assert average["columns"][1]["label"] == "Average Temperature"


def test_money_is_summed_in_minor_units_and_shown_in_major_units(owner, form):
    data = report_data(
        owner, save(owner, form, group_by="result", aggregate="sum", value_field="cost")
    )
    assert by_group(data) == {"pass": 17.5, "fail": 2.5, None: 0}
    assert data["total"] == 20
    assert (data["unit"], data["decimals"]) == ("CNY", 2)
    average = report_data(
        owner, save(owner, form, group_by="result", aggregate="avg", value_field="cost")
    )
    assert by_group(average)["pass"] == 8.75


def test_computed_fields_can_be_summed(owner, form):
    data = report_data(
        owner, save(owner, form, group_by="batch", aggregate="sum", value_field="double")
    )
    assert by_group(data) == {"B1": 25, "B2": 7, "B3": 0}


def test_date_field_buckets_by_day_week_and_month(owner, form):
    day = report_data(owner, save(owner, form, group_by="day", date_bucket="day"))
    groups = [r["group"] for r in day["rows"]]
    # Every day from the first to the last is there (empty ones count 0); no date goes last.
    assert groups[0] == "2026-11-02"
    assert groups[-2:] == ["2026-12-01", None]
    assert len(groups) == 30 + 1
    assert by_group(day)["2026-11-03"] == 1
    assert by_group(day)["2026-11-04"] == 0
    week = report_data(owner, save(owner, form, group_by="day", date_bucket="week"))
    # 2026-11-02 is a Monday: the 2nd and the 3rd share a week.
    assert by_group(week) == {
        "2026-11-02": 2,
        "2026-11-09": 1,
        "2026-11-16": 0,
        "2026-11-23": 0,
        "2026-11-30": 1,
        None: 1,
    }
    assert week["rows"][0]["label"] == "Week of 2026-11-02"
    month = report_data(owner, save(owner, form, group_by="at", date_bucket="month"))
    assert [(r["group"], r["value"]) for r in month["rows"]] == [
        ("2026-11", 3),
        ("2026-12", 1),
        (None, 1),
    ]
    average = report_data(
        owner,
        save(owner, form, group_by="at", date_bucket="day", aggregate="avg", value_field="temp"),
    )
    assert by_group(average)["2026-11-02"] == 4
    assert by_group(average)["2026-11-04"] is None  # no values: no average, not zero


def test_time_buckets_beyond_the_limit_are_added_up_as_earlier(owner, make_form):
    from lowcode.reports import TIME_BUCKETS

    form = make_form([{"key": "day", "type": "date", "label": "Day"}], name="Days")
    start = timezone.now().date() - timedelta(days=TIME_BUCKETS + 4)
    rows = [{"day": (start + timedelta(days=i)).isoformat()} for i in range(TIME_BUCKETS + 5)]
    do_bulk_create_records(owner, form, rows)
    data = report_data(owner, save(owner, form, group_by="day", date_bucket="day"))
    assert len(data["rows"]) == TIME_BUCKETS + 1
    assert data["rows"][0] == {"group": OTHER, "label": "Earlier", "value": 5}
    assert data["rows"][-1]["group"] == rows[-1]["day"]


def test_created_at_buckets_in_the_database(owner, form):
    now = timezone.now()
    Record.objects.filter(form=form, data__batch="B1").update(created_at=now - timedelta(days=40))
    data = report_data(owner, save(owner, form, group_by="created_at", date_bucket="month"))
    earlier = timezone.localtime(now - timedelta(days=40)).strftime("%Y-%m")
    current = timezone.localtime(now).strftime("%Y-%m")
    assert {k: v for k, v in by_group(data).items() if v} == {earlier: 2, current: 3}
    assert data["rows"][0]["group"] == earlier  # oldest first
    days = report_data(owner, save(owner, form, group_by="created_at", date_bucket="day"))
    assert sum(by_group(days).values()) == 5


def test_members_departments_and_checkboxes_get_readable_labels(owner, member, form):
    data = report_data(owner, save(owner, form, group_by="inspector"))
    assert {r["label"]: r["value"] for r in data["rows"]} == {
        owner.user.display_name: 2,
        "(empty)": 3,
    }
    assert by_group(data)[owner.pk] == 2
    lab = do_create_department(owner, name="Lab")
    do_bulk_create_records(owner, form, [{"batch": "B9", "dept": lab.pk}])
    data = report_data(owner, save(owner, form, group_by="dept"))
    assert {r["label"]: r["value"] for r in data["rows"]} == {"Lab": 1, "(empty)": 5}
    signed = report_data(owner, save(owner, form, group_by="ok"))
    assert {r["label"]: r["value"] for r in signed["rows"]} == {"Yes": 1, "No": 5}
    creators = report_data(owner, save(owner, form, group_by="created_by"))
    assert by_group(creators) == {owner.pk: 6}


def test_filters_use_the_record_filter_format(owner, form):
    report = save(
        owner, form, group_by="batch", filters=[{"field": "result", "op": "eq", "value": "pass"}]
    )
    assert by_group(report_data(owner, report)) == {"B1": 1, "B2": 2}
    report = save(
        owner, form, group_by="batch", filters=[{"field": "temp", "op": "gte", "value": 4}]
    )
    assert by_group(report_data(owner, report)) == {"B1": 2}


def test_deleted_records_are_left_out(owner, form):
    Record.objects.filter(form=form, data__batch="B3").update(deleted_at=timezone.now())
    data = report_data(owner, save(owner, form, group_by="batch"))
    assert by_group(data) == {"B1": 2, "B2": 2}


def test_groups_beyond_the_top_fifty_are_added_up_as_other(owner, make_form):
    form = make_form(
        [
            {"key": "code", "type": "text", "label": "Code"},
            {"key": "n", "type": "number", "label": "N"},
        ],
        name="Many",
    )
    rows = [{"code": f"C{i:03d}", "n": 1} for i in range(TOP_GROUPS + 10)]
    rows += [{"code": "C000", "n": 5}]
    do_bulk_create_records(owner, form, rows)
    data = report_data(owner, save(owner, form, group_by="code"))
    assert len(data["rows"]) == TOP_GROUPS + 1
    assert data["rows"][0] == {"group": "C000", "label": "C000", "value": 2}
    assert data["rows"][-1] == {"group": OTHER, "label": "Other", "value": 10}
    assert data["total"] == TOP_GROUPS + 11
    average = report_data(
        owner, save(owner, form, group_by="code", aggregate="avg", value_field="n")
    )
    assert average["rows"][0] == {"group": "C000", "label": "C000", "value": 3}
    assert average["rows"][-1]["value"] == 1


def test_the_query_is_one_aggregate_not_one_per_record(owner, form, django_assert_max_num_queries):
    report = save(owner, form, group_by="inspector", aggregate="avg", value_field="temp")
    report = Report.objects.select_related("app", "form__published_version").get(pk=report.pk)
    with django_assert_max_num_queries(4):
        report_data(owner, report)


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"name": "  "}, "name"),
        ({"chart": "donut"}, "chart"),
        ({"group_by": "nope"}, "group_by"),
        ({"group_by": "notes"}, "group_by"),
        ({"group_by": "temp"}, "group_by"),
        ({"group_by": "day", "date_bucket": "year"}, "date_bucket"),
        ({"group_by": "batch", "date_bucket": "day"}, "date_bucket"),
        ({"aggregate": "median"}, "aggregate"),
        ({"aggregate": "sum"}, "value_field"),
        ({"aggregate": "avg", "value_field": "batch"}, "value_field"),
        ({"aggregate": "count", "value_field": "temp"}, "value_field"),
        ({"filters": [{"field": "zzz", "op": "eq", "value": 1}]}, "filters[0].field"),
        ({"filters": [{"field": "temp", "op": "contains", "value": 1}]}, "filters[0].op"),
        ({"filters": [{"field": "temp", "op": "eq", "value": "warm"}]}, "filters[0].value"),
        ({"filters": {"field": "temp"}}, "filters"),
    ],
)
def test_invalid_settings_answer_400_on_the_field(api, owner, form, settings, field):
    body = {"app": form.app_id, "form": form.pk, "name": "R", "group_by": "result", **settings}
    response = api(owner).post(f"/api/v1/orgs/{owner.org_id}/lowcode/reports/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Report.objects.exists()


def test_a_form_of_another_app_is_refused(api, owner, form, make_form):
    other = make_form([{"key": "x", "type": "text", "label": "X"}], name="Other")
    body = {"app": form.app_id, "form": other.pk, "name": "R", "group_by": "x"}
    response = api(owner).post(f"/api/v1/orgs/{owner.org_id}/lowcode/reports/", body, format="json")
    assert response.status_code == 400
    assert "form" in response.json()["error"]["fields"]


def test_date_fields_default_to_days(owner, form):
    assert save(owner, form, group_by="created_at").date_bucket == "day"


# --- API and permissions --------------------------------------------------------------------


def test_api_create_read_update_data_delete(api, owner, form):
    client = api(owner)
    base = f"/api/v1/orgs/{owner.org_id}/lowcode/reports/"
    body = {
        "app": form.app_id,
        "form": form.pk,
        "name": "Per result",
        "group_by": "result",
        "chart": "pie",
    }
    created = client.post(base, body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["chart"] == "pie"
    listed = client.get(base, {"app": form.app_id})
    assert [r["id"] for r in listed.json()] == [pk]
    body.update(name="Temperature", aggregate="avg", value_field="temp", chart="bar")
    updated = client.put(f"{base}{pk}/", body, format="json")
    assert updated.status_code == 200, updated.content
    assert (updated.json()["name"], updated.json()["aggregate"]) == ("Temperature", "avg")
    data = client.get(f"{base}{pk}/data/")
    assert data.status_code == 200
    assert {r["label"]: r["value"] for r in data.json()["rows"]}["Pass"] == 3.75
    assert client.delete(f"{base}{pk}/").status_code == 204
    assert client.get(f"{base}{pk}/").status_code == 404


def test_preview_computes_a_report_without_saving_it(api, owner, member, form):
    base = f"/api/v1/orgs/{owner.org_id}/lowcode/reports/preview/"
    body = {
        "app": form.app_id,
        "form": form.pk,
        "group_by": "batch",
        "aggregate": "sum",
        "value_field": "cost",
    }
    response = api(owner).post(base, body, format="json")
    assert response.status_code == 200, response.content
    assert {r["label"]: r["value"] for r in response.json()["rows"]} == {"B1": 13, "B2": 7, "B3": 0}
    assert not Report.objects.exists()
    bad = api(owner).post(base, {**body, "value_field": "batch"}, format="json")
    assert bad.status_code == 400
    assert "value_field" in bad.json()["error"]["fields"]
    assert api(member).post(base, body, format="json").status_code == 403


def test_submitters_cannot_read_reports_and_view_all_cannot_change_them(api, owner, member, form):
    report = save(owner, form, group_by="result")
    base = f"/api/v1/orgs/{owner.org_id}/lowcode/reports/"
    submitter = api(member)
    assert submitter.get(f"{base}{report.pk}/data/").status_code == 403
    assert submitter.get(base, {"app": form.app_id}).status_code == 403
    permissions = {"view_all": {"roles": ["member"]}}
    do_update_app(owner, form.app, permissions={**form.app.permissions, **permissions})
    assert submitter.get(f"{base}{report.pk}/data/").status_code == 200
    body = {"app": form.app_id, "form": form.pk, "name": "Mine", "group_by": "batch"}
    assert submitter.post(base, body, format="json").status_code == 403
    assert submitter.put(f"{base}{report.pk}/", body, format="json").status_code == 403
    assert submitter.delete(f"{base}{report.pk}/").status_code == 403
    assert Report.objects.get(pk=report.pk).name == "Report"


def test_another_organisations_report_is_404(api, owner, outsider, form):
    report = save(owner, form, group_by="result")
    base = f"/api/v1/orgs/{outsider.org_id}/lowcode/reports/"
    client = api(outsider)
    assert client.get(f"{base}{report.pk}/").status_code == 404
    assert client.get(f"{base}{report.pk}/data/").status_code == 404
    assert client.get(base, {"app": form.app_id}).status_code == 404
    body = {"app": form.app_id, "form": form.pk, "name": "Steal", "group_by": "batch"}
    assert client.post(base, body, format="json").status_code == 404
    assert client.delete(f"{base}{report.pk}/").status_code == 404
    assert Report.objects.filter(pk=report.pk).exists()


def test_removing_a_field_a_report_uses_blocks_publishing(owner, form):
    save(owner, form, name="Cost by batch", group_by="batch", aggregate="sum", value_field="cost")
    save(
        owner,
        form,
        name="Filtered",
        group_by="batch",
        filters=[{"field": "ok", "op": "eq", "value": True}],
    )
    for key, report_name in (
        ("cost", "Cost by batch"),
        ("ok", "Filtered"),
        ("batch", "Cost by batch"),
    ):
        do_update_form(owner, form, fields=[f for f in FIELDS if f["key"] != key])
        with pytest.raises(Exception) as raised:
            do_publish_form(owner, form)
        assert raised.value.code == "field_in_use"  # type: ignore[attr-defined]
        assert any(
            report_name in message and key in message for message in raised.value.fields["fields"]
        )  # type: ignore[attr-defined]
    do_update_form(owner, form, fields=[f for f in FIELDS if f["key"] != "notes"])
    _version, created = do_publish_form(owner, form)
    assert created


def test_a_report_on_a_field_no_longer_published_explains_itself(api, owner, form):
    report = save(owner, form, group_by="batch")
    Report.objects.filter(pk=report.pk).update(group_by="gone")
    response = api(owner).get(f"/api/v1/orgs/{owner.org_id}/lowcode/reports/{report.pk}/data/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "report_field_missing"


# --- dashboard page ------------------------------------------------------------------------


def _browser(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def test_dashboard_page_lists_the_reports(owner, form):
    save(owner, form, name="Results share", group_by="result", chart="pie")
    response = _browser(owner).get(f"/o/{owner.org_id}/apps/{form.app_id}/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Results share" in html
    assert "vendor/chart-4.6.1.umd.min.js" in html
    assert "lowcode/dashboard.js" in html
    assert "dashboard-config" in html
    assert "<script>" not in html  # configuration goes through json_script only
    assert "https://" not in html.replace("https://www.chartjs.org", "")


def test_dashboard_shows_an_empty_state_without_reports(owner, form):
    response = _browser(owner).get(f"/o/{owner.org_id}/apps/{form.app_id}/dashboard/")
    assert response.status_code == 200
    assert "No reports yet" in response.content.decode()


def test_dashboard_of_another_organisation_is_404(owner, outsider, form):
    assert (
        _browser(outsider).get(f"/o/{owner.org_id}/apps/{form.app_id}/dashboard/").status_code
        == 404
    )
    response = _browser(outsider).get(f"/o/{outsider.org_id}/apps/{form.app_id}/dashboard/")
    assert response.status_code == 404


def test_dashboard_needs_view_all(owner, member, form):
    response = _browser(member).get(f"/o/{owner.org_id}/apps/{form.app_id}/dashboard/")
    assert response.status_code == 403
