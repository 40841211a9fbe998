"""``manage.py demo`` builds the food-safety and expense-claim apps, once."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from lowcode.access import app_levels
from lowcode.models import (
    App,
    ApprovalFlow,
    ApprovalInstance,
    ApprovalTask,
    Form,
    LookupPage,
    Record,
    Report,
)
from lowcode.reports import report_data
from lowcode.selectors import run_lookup

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    def run() -> str:
        out = io.StringIO()
        call_command("demo", "-v", "2", stdout=out, stderr=io.StringIO())
        return out.getvalue()

    return run


def _counts() -> dict[str, int]:
    from lowcode.models import ApprovalStep, RecordChange

    return {
        "apps": App.objects.count(),
        "forms": Form.objects.count(),
        "records": Record.objects.count(),
        "changes": RecordChange.objects.count(),
        "lookups": LookupPage.objects.count(),
        "reports": Report.objects.count(),
        "flows": ApprovalFlow.objects.count(),
        "approvals": ApprovalInstance.objects.count(),
        "steps": ApprovalStep.objects.count(),
        "tasks": ApprovalTask.objects.count(),
    }


def test_demo_builds_both_apps_once_and_says_where_to_go(demo):
    started = time.monotonic()
    output = demo()
    elapsed = time.monotonic() - started
    assert elapsed < 45, elapsed
    food = App.objects.get(name="Food safety traceability")
    expense = App.objects.get(name="Expense claim")
    assert food.is_published and expense.is_published
    assert f"Low-code: /o/{food.org_id}/apps/" in output
    before = _counts()
    demo()
    assert _counts() == before


def test_food_safety_app_has_checkpoints_records_lookup_and_reports(demo):
    demo()
    app = App.objects.get(name="Food safety traceability")
    form = app.forms.get(name="Inspection")
    assert form.qr_field == "checkpoint"
    fields = {f["key"]: f for f in form.published_version.fields}
    choices = fields["checkpoint"]["options"]["choices"]
    assert len(choices) == 13
    assert choices[0]["label"] == "Raw milk reception" and choices[-1]["label"] == "Dispatch"
    assert fields["batch"]["indexed"] and fields["temperature"]["options"]["unit"] == "°C"
    assert {f["type"] for f in fields.values()} >= {
        "single_select",
        "text",
        "number",
        "member",
        "long_text",
        "image",
        "datetime",
    }
    records = Record.objects.filter(form=form)
    assert records.count() >= 1000
    batches = set(records.values_list("data__batch", flat=True))
    assert 60 <= len(batches) <= 100
    assert records.filter(data__result="fail").count() >= 10
    assert records.filter(data__result="pass").count() > records.count() * 0.8
    # History: spread over the last two months, by several inspectors.
    dates = {r.created_at.date() for r in records.only("created_at")}
    assert len(dates) >= 50
    assert records.values("created_by").distinct().count() >= 3

    owner = app.created_by
    lookup = LookupPage.objects.get(app=app, name="Batch lookup")
    batch = records.order_by("-id").first().data["batch"]
    page = run_lookup(owner, lookup, batch)
    found = page.records
    assert len(found) >= 13
    assert {r.data["batch"] for r in found} == {batch}
    assert found[0].data["inspected_at"] <= found[-1].data["inspected_at"]  # checkpoint order

    reports = {r.name: r for r in Report.objects.filter(app=app)}
    assert {r.chart for r in reports.values()} == {"bar", "line", "pie"}
    per_checkpoint = report_data(owner, reports["Inspections per checkpoint"])
    assert len(per_checkpoint["rows"]) == 13
    assert per_checkpoint["total"] == records.count()
    failures = report_data(owner, reports["Failures by day"])
    assert failures["total"] == records.filter(data__result="fail").count()
    temperature = report_data(owner, reports["Average temperature per checkpoint"])
    by_label = {r["label"]: r["value"] for r in temperature["rows"]}
    assert 70 < by_label["Pasteurisation"] < 76
    assert 2 < by_label["Raw milk reception"] < 7


def test_expense_claims_go_through_the_two_level_approval(demo):
    demo()
    app = App.objects.get(name="Expense claim")
    form = app.forms.get(name="Expense claim")
    fields = {f["key"]: f for f in form.published_version.fields}
    assert fields["amount"]["type"] == "money"
    assert fields["amount"]["options"]["currency"] == "CNY"
    assert fields["claimant"]["type"] == "created_by"
    flow = ApprovalFlow.objects.get(form=form)
    first, second = flow.definition["nodes"]
    assert first["approvers"] == {"kind": "manager"}
    assert second["condition"] == {"field": "amount", "op": "gt", "value": 1_000_000}
    assert flow.definition["cc"]["kind"] == "members"

    instances = ApprovalInstance.objects.filter(record__form=form)
    states = set(instances.values_list("state", flat=True))
    assert states >= {"pending", "approved", "rejected"}
    # A large approved claim went through both levels, a small one through one.
    big = instances.get(record__data__amount__amount=1_560_000)
    assert big.state == "approved"
    assert big.tasks.filter(state="approved").values("node_index").distinct().count() == 2
    small = instances.get(record__data__amount__amount=56_000)
    assert small.state == "approved"
    assert small.steps.filter(action="skip", node_index=1).exists()
    assert small.tasks.count() == 1
    waiting = instances.get(record__data__amount__amount=1_280_000)
    assert waiting.state == "pending" and waiting.current_node == 1
    # The demo admin has a claim to approve.
    admin = app.created_by
    assert ApprovalTask.objects.filter(approver=admin, state="pending").exists()
    assert "view_all" in app_levels(admin, app)
    totals = report_data(admin, Report.objects.get(app=app, name="Amount by category"))
    assert totals["unit"] == "CNY"
    assert (
        totals["total"]
        == sum(r.data["amount"]["amount"] for r in Record.objects.filter(form=form)) / 100
    )
