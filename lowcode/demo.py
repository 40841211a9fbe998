"""Low-code demo data: a food-safety traceability app and an expense-claim app.

*Food safety traceability*: 13 checkpoints from raw-milk reception to dispatch (one QR
code each), an inspection form, 1,200 inspections of about 80 batches over the last
60 days (loaded like an import, in bulk), a batch lookup and a dashboard.

*Expense claim*: a claim form with a two-level approval: the claimant's department
manager, then the finance manager only above 10,000.00 CNY, finance in copy. A few
claims go through the real approval actions, so some are pending, approved or rejected.

Every part is looked up by name first, so running the demo again adds nothing.
"""

from __future__ import annotations

import random
from datetime import UTC, timedelta
from typing import Any

from django.db.models import BigIntegerField, DateTimeField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from core.demo import DemoContext, demo_step
from core.models import Membership
from lowcode.actions import (
    do_bulk_create_records,
    do_create_app,
    do_create_form,
    do_create_record,
    do_publish_form,
    do_save_lookup,
    do_update_app,
    do_update_form,
)
from lowcode.approvals import do_approve, do_reject, do_save_flow
from lowcode.models import App, ApprovalInstance, ApprovalTask, Form, LookupPage, Record, Report
from lowcode.reports import do_save_report

FOOD_APP = "Food safety traceability"
EXPENSE_APP = "Expense claim"
DOMAIN = "northfield-dairy.example"

# (id, label, temperature °C (mean, spread, upper limit or None), pH (mean, spread) or None)
CHECKPOINTS: list[tuple[str, str, tuple[float, float, float | None, float | None], Any]] = [
    ("cp01", "Raw milk reception", (4.2, 0.8, None, 7.0), (6.70, 0.05)),
    ("cp02", "Raw milk cold storage", (3.4, 0.5, None, 6.0), (6.68, 0.05)),
    ("cp03", "Separation & standardisation", (52.0, 1.5, 48.0, 58.0), None),
    ("cp04", "Homogenisation", (63.0, 1.5, 58.0, 70.0), None),
    ("cp05", "Pasteurisation", (73.2, 0.5, 72.0, None), None),
    ("cp06", "Cooling", (4.0, 0.6, None, 6.0), None),
    ("cp07", "Fermentation", (43.0, 0.5, 41.0, 45.0), (4.55, 0.07)),
    ("cp08", "Filling", (4.8, 0.6, None, 7.0), None),
    ("cp09", "Capping & sealing", (5.0, 0.6, None, 7.0), None),
    ("cp10", "Labelling & date coding", (5.5, 0.7, None, 8.0), None),
    ("cp11", "Metal detection", (5.5, 0.7, None, 8.0), None),
    ("cp12", "Finished goods cold storage", (3.6, 0.5, None, 6.0), (4.50, 0.06)),
    ("cp13", "Dispatch", (4.4, 0.7, None, 7.0), None),
]
RESULTS = [
    {"id": "pass", "label": "Pass", "color": "#1a7f4b"},
    {"id": "fail", "label": "Fail", "color": "#c92a2a"},
    {"id": "hold", "label": "Hold", "color": "#a15c00"},
]
PRODUCTS = ["Whole milk 1 L", "Greek yoghurt 500 g", "Skimmed milk 1 L", "Plain yoghurt 150 g"]
FAILURE_NOTES = [
    "Out of range; line stopped, maintenance called.",
    "Re-checked after adjustment.",
    "Logger excursion; product quarantined pending lab result.",
    "Supervisor informed; corrective action CA-{n} opened.",
]
INSPECTORS = ["liu.yang", "emma.walsh", "chen.hao", "zhang.min", "tom.becker", "peter.novak"]
RECORD_TARGET = 1200
BATCHES = 80
DAYS = 60

INSPECTION_FIELDS: list[dict[str, Any]] = [
    {
        "key": "inspection_no",
        "type": "serial",
        "label": "Inspection no.",
        "options": {"prefix": "INS-", "digits": 6},
    },
    {
        "key": "checkpoint",
        "type": "single_select",
        "label": "Checkpoint",
        "required": True,
        "indexed": True,
        "options": {"choices": [{"id": c[0], "label": c[1]} for c in CHECKPOINTS]},
    },
    {
        "key": "batch",
        "type": "text",
        "label": "Batch number",
        "required": True,
        "indexed": True,
        "placeholder": "NF-20261104-01",
        "help": "Printed on the batch label; scan or type it.",
        "width": "half",
    },
    {
        "key": "product",
        "type": "single_select",
        "label": "Product",
        "width": "half",
        "options": {"choices": [{"id": f"p{i + 1}", "label": p} for i, p in enumerate(PRODUCTS)]},
    },
    {
        "key": "temperature",
        "type": "number",
        "label": "Temperature",
        "width": "half",
        "options": {"decimals": 1, "unit": "°C", "min": -30, "max": 150},
    },
    {
        "key": "ph",
        "type": "number",
        "label": "pH",
        "width": "half",
        "options": {"decimals": 2, "min": 0, "max": 14},
    },
    {
        "key": "result",
        "type": "single_select",
        "label": "Result",
        "required": True,
        "indexed": True,
        "options": {"choices": RESULTS},
    },
    {"key": "inspector", "type": "member", "label": "Inspector", "width": "half"},
    {
        "key": "inspected_at",
        "type": "datetime",
        "label": "Inspected at",
        "required": True,
        "indexed": True,
        "width": "half",
    },
    {"key": "notes", "type": "long_text", "label": "Notes"},
    {"key": "photo", "type": "image", "label": "Photo", "options": {"max_files": 4}},
]

CATEGORIES = [
    ("travel", "Travel"),
    ("accommodation", "Accommodation"),
    ("meals", "Meals"),
    ("client", "Client entertainment"),
    ("training", "Training"),
    ("office", "Office supplies"),
]
CLAIM_FIELDS: list[dict[str, Any]] = [
    {
        "key": "claim_no",
        "type": "serial",
        "label": "Claim no.",
        "options": {"prefix": "EXP-", "digits": 5},
    },
    {"key": "claimant", "type": "created_by", "label": "Claimant"},
    {
        "key": "department",
        "type": "department",
        "label": "Department",
        "required": True,
        "width": "half",
    },
    {
        "key": "category",
        "type": "single_select",
        "label": "Category",
        "required": True,
        "width": "half",
        "options": {"choices": [{"id": i, "label": label} for i, label in CATEGORIES]},
    },
    {
        "key": "amount",
        "type": "money",
        "label": "Amount",
        "required": True,
        "indexed": True,
        "width": "half",
        "options": {"currency": "CNY", "min": 1},
        "help": "Claims above 10,000.00 CNY are also approved by Finance.",
    },
    {
        "key": "spent_on",
        "type": "date",
        "label": "Date of expense",
        "required": True,
        "width": "half",
    },
    {"key": "description", "type": "long_text", "label": "Description", "required": True},
    {"key": "receipt", "type": "attachment", "label": "Receipts", "options": {"max_files": 10}},
]
# (claimant, category, amount in fen, days ago, description, outcome)
CLAIMS: list[tuple[str, str, int, int, str, str]] = [
    ("emma.walsh", "travel", 128_000, 3, "Train to the Jinan supplier audit and back.", "pending"),
    (
        "lucy.bennett",
        "client",
        345_000,
        12,
        "Dinner with Hema buyers after the promotion review.",
        "approved",
    ),
    (
        "peter.novak",
        "training",
        1_280_000,
        9,
        "HACCP advanced course, two operators.",
        "manager_approved",
    ),
    ("xu.ming", "meals", 86_000, 15, "Team meals during the cold-chain audit week.", "rejected"),
    ("tom.becker", "office", 56_000, 20, "Pipettes and sample bags for the lab.", "approved"),
    (
        "zhao.lei",
        "accommodation",
        1_560_000,
        25,
        "Hotel for the tanker drivers during the snowstorm closure.",
        "approved",
    ),
    ("wang.fang", "travel", 412_000, 2, "Flights to the Shanghai dairy expo.", "pending"),
    ("grace.murphy", "training", 98_000, 1, "First-aid refresher course.", "pending"),
]


def _member(ctx: DemoContext, local: str) -> Membership:
    return ctx.members.get(f"{local}@{DOMAIN}") or ctx.owner


def _app(ctx: DemoContext, name: str, **settings: Any) -> tuple[App, bool]:
    app = App.objects.filter(org=ctx.org, name=name, archived_at__isnull=True).first()
    if app is not None:
        return app, False
    return do_create_app(ctx.owner, name=name, **settings), True


def _form(
    ctx: DemoContext, app: App, name: str, fields: list[dict[str, Any]], description: str
) -> Form:
    form = Form.objects.filter(org=ctx.org, app=app, name=name).first()
    if form is None:
        form = do_create_form(ctx.owner, app, name=name, description=description, fields=fields)
    if form.published_version is None:
        do_publish_form(ctx.owner, form)
        form.refresh_from_db()
    if not app.is_published:
        do_update_app(ctx.owner, app, is_published=True)
    return form


def _report(ctx: DemoContext, app: App, form: Form, name: str, **settings: Any) -> None:
    if not Report.objects.filter(org=ctx.org, app=app, name=name).exists():
        do_save_report(ctx.owner, app, form, name=name, **settings)


# --- Food safety traceability --------------------------------------------------------


def _inspection_rows(ctx: DemoContext) -> list[dict[str, Any]]:
    rng = random.Random(20261104)  # noqa: S311  (reproducible demo data, not security)
    inspectors = [_member(ctx, local) for local in INSPECTORS]
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    rows: list[dict[str, Any]] = []
    corrective = 100
    per_batch = RECORD_TARGET // BATCHES  # 15: the 13 checkpoints and re-checks
    for batch_index in range(BATCHES):
        started = now - timedelta(days=DAYS) + timedelta(hours=batch_index * DAYS * 24 / BATCHES)
        started = started.replace(hour=5 + batch_index % 3)
        batch = f"NF-{started:%Y%m%d}-{batch_index % 3 + 1:02d}"
        product = f"p{rng.randint(1, len(PRODUCTS))}"
        inspections: list[tuple[int, bool]] = [(i, False) for i in range(len(CHECKPOINTS))]
        # Two re-checks per batch, at random checkpoints (after a failure when there is one).
        extra = per_batch - len(CHECKPOINTS)
        for _ in range(extra):
            inspections.append((rng.randrange(len(CHECKPOINTS)), True))
        inspections.sort()
        for order, (index, recheck) in enumerate(inspections):
            cp_id, _label, (mean, spread, low, high), ph = CHECKPOINTS[index]
            at = started + timedelta(minutes=35 * order + rng.randint(0, 20))
            temperature = round(rng.gauss(mean, spread), 1)
            roll = rng.random()
            result = "pass"
            note = ""
            if not recheck and roll < 0.05:  # a failure: out of range
                result = "fail"
                if high is not None:
                    temperature = round(high + rng.uniform(0.3, 2.5), 1)
                elif low is not None:
                    temperature = round(low - rng.uniform(0.3, 1.5), 1)
                corrective += 1
                note = rng.choice(FAILURE_NOTES).format(n=corrective)
            elif not recheck and roll < 0.08:
                result = "hold"
                note = "Held for a lab result before release."
            elif recheck:
                note = "Re-check."
            data: dict[str, Any] = {
                "checkpoint": cp_id,
                "batch": batch,
                "product": product,
                "temperature": temperature,
                "result": result,
                "inspector": rng.choice(inspectors).pk,
                "inspected_at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            if ph is not None:
                data["ph"] = round(rng.gauss(*ph), 2)
            if note:
                data["notes"] = note
            rows.append(data)
    return rows


@demo_step("lowcode.food-safety", order=200)
def food_safety(ctx: DemoContext) -> None:
    app, created = _app(
        ctx,
        FOOD_APP,
        description="Inspections at the 13 checkpoints from milk reception to dispatch; "
        "scan a checkpoint's QR code to record one, look a batch up in seconds.",
        icon="🥛",
        color="#0f766e",
        permissions={
            "submit": {"roles": ["owner", "admin", "member"]},
            "view_all": {
                "roles": ["owner", "admin"],
                "departments": [
                    ctx.departments[name].pk
                    for name in ("Quality & Food Safety", "Lab", "Inspection", "Production")
                    if name in ctx.departments
                ],
                "members": [_member(ctx, "priya.nair").pk]
                if f"priya.nair@{DOMAIN}" in ctx.members
                else [],
            },
            "manage": {"roles": ["owner", "admin"], "members": [_member(ctx, "li.wei").pk]},
        },
    )
    form = _form(
        ctx,
        app,
        "Inspection",
        INSPECTION_FIELDS,
        "One checkpoint inspection of one batch. Failures stop the line until re-checked.",
    )
    if form.qr_field != "checkpoint":
        do_update_form(ctx.owner, form, qr_field="checkpoint")
    if not Record.objects.filter(org=ctx.org, form=form).exists():
        rows = _inspection_rows(ctx)
        result = do_bulk_create_records(ctx.owner, form, rows)
        if result.errors:
            raise RuntimeError(f"Demo inspections did not validate: {result.errors}")
        # Loaded as history: each record dated when it was inspected, by its inspector.
        # One UPDATE computing both from the record's own data (fast on SQLite and PG).
        inspected_at = Cast(KeyTextTransform("inspected_at", "data"), DateTimeField())
        inspector = Cast(KeyTextTransform("inspector", "data"), BigIntegerField())
        Record.objects.filter(org=ctx.org, form=form).update(
            created_at=inspected_at,
            updated_at=inspected_at,
            created_by=inspector,
            updated_by=inspector,
        )
        ctx.log(f"Low-code: {result.created} inspections")
    if not LookupPage.objects.filter(org=ctx.org, app=app, name="Batch lookup").exists():
        lookup = do_save_lookup(
            ctx.owner,
            form,
            name="Batch lookup",
            description="Type or scan a batch number: every checkpoint it went through.",
            input_field="batch",
            columns=[
                "inspected_at",
                "checkpoint",
                "result",
                "temperature",
                "ph",
                "inspector",
                "notes",
            ],
        )
        # Checkpoint order: the oldest inspection first (no action sets a lookup's sort).
        LookupPage.objects.filter(pk=lookup.pk).update(sort="inspected_at")
    _report(ctx, app, form, "Inspections per checkpoint", chart="bar", group_by="checkpoint")
    _report(
        ctx,
        app,
        form,
        "Failures by day",
        chart="line",
        group_by="inspected_at",
        date_bucket="day",
        filters=[{"field": "result", "op": "eq", "value": "fail"}],
    )
    _report(ctx, app, form, "Results", chart="pie", group_by="result")
    _report(
        ctx,
        app,
        form,
        "Average temperature per checkpoint",
        chart="bar",
        group_by="checkpoint",
        aggregate="avg",
        value_field="temperature",
    )
    ctx.extra["lowcode.food_app"] = app
    if created:
        ctx.log(f"Low-code: created the {FOOD_APP} app")


# --- Expense claim ------------------------------------------------------------------------


def _department_of(ctx: DemoContext, member: Membership) -> int | None:
    link = member.department_links.order_by("id").first()
    return int(link.department_id) if link is not None else None


def _act(instance: ApprovalInstance, *, reject: str = "") -> None:
    task = (
        instance.tasks.filter(state=ApprovalTask.State.PENDING).select_related("approver").first()
    )
    if task is None:
        return
    if reject:
        do_reject(task.approver, instance, reject)
    else:
        do_approve(task.approver, instance, "OK")


@demo_step("lowcode.expense-claim", order=210)
def expense_claim(ctx: DemoContext) -> None:
    finance_manager = _member(ctx, "robert.king")
    accountant = _member(ctx, "guo.xin")
    app, created = _app(
        ctx,
        EXPENSE_APP,
        description="Claim expenses; your manager approves, Finance too above 10,000 CNY.",
        icon="💴",
        color="#7c3aed",
        permissions={
            "submit": {"roles": ["owner", "admin", "member"]},
            "view_all": {
                "roles": ["owner", "admin"],
                "departments": [ctx.departments["Finance"].pk]
                if "Finance" in ctx.departments
                else [],
            },
            "manage": {"roles": ["owner", "admin"], "members": [finance_manager.pk]},
        },
    )
    form = _form(ctx, app, "Expense claim", CLAIM_FIELDS, "One claim per trip or purchase.")
    if not form.approval_flows.exists():
        do_save_flow(
            ctx.owner,
            form,
            {
                "nodes": [
                    {
                        "id": "manager",
                        "name": "Department manager",
                        "approvers": {"kind": "manager"},
                        "time_limit_hours": 48,
                    },
                    {
                        "id": "finance",
                        "name": "Finance (above 10,000 CNY)",
                        "approvers": {"kind": "members", "members": [finance_manager.pk]},
                        "condition": {"field": "amount", "op": "gt", "value": 1_000_000},
                        "time_limit_hours": 72,
                    },
                ],
                "cc": {"kind": "members", "members": [accountant.pk]},
            },
        )
    today = timezone.localdate()
    for index, (local, category, amount, days_ago, description, outcome) in enumerate(CLAIMS):
        claimant = _member(ctx, local)
        if claimant.status != Membership.Status.ACTIVE:
            continue
        data: dict[str, Any] = {
            "category": category,
            "amount": {"amount": amount, "currency": "CNY"},
            "spent_on": (today - timedelta(days=days_ago + 2)).isoformat(),
            "description": description,
        }
        department = _department_of(ctx, claimant)
        if department is not None:
            data["department"] = department
        record, new = do_create_record(claimant, form, data, idempotency_key=f"demo-claim-{index}")
        if not new:
            continue
        instance = ApprovalInstance.objects.filter(org=ctx.org, record=record).first()
        if instance is None:
            continue
        if outcome == "rejected":
            _act(instance, reject="Please split it per trip and attach the receipts.")
        elif outcome in ("approved", "manager_approved"):
            _act(instance)
            if outcome == "approved":
                instance.refresh_from_db()
                if instance.state == ApprovalInstance.State.PENDING:
                    _act(instance)
    _report(
        ctx,
        app,
        form,
        "Amount by category",
        chart="bar",
        group_by="category",
        aggregate="sum",
        value_field="amount",
    )
    _report(ctx, app, form, "Claims by department", chart="pie", group_by="department")
    if created:
        ctx.log(f"Low-code: created the {EXPENSE_APP} app")
    ctx.log(f"Low-code: /o/{ctx.org.pk}/apps/ (dashboards: /o/{ctx.org.pk}/apps/<id>/dashboard/)")
    ctx.extra.setdefault("links", []).append(("Low-code apps", f"/o/{ctx.org.pk}/apps/"))
