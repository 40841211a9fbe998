"""Reports: group-by aggregates over a form's records, for charts and the app dashboard.

A report groups a form's (live) records by one field and computes, per group, the
count of records, or the sum or average of a numeric field. The work happens in the
database with ORM aggregation over the JSON ``data`` column, so it is the same query on
the embedded SQLite and on PostgreSQL:

* the group is ``data->>'key'`` (``KeyTextTransform``), a record column (``created_by``),
  a ``Trunc*`` of ``created_at``, or a substring of an ISO date stored in ``data``;
* the value is ``CAST(data->>'key' AS double precision)`` (``amount`` inside a money
  value), summed and counted per group, so averages of the top groups and of "Other"
  are both exact (sum of values / number of values).

Reports aggregate everyone's records, so reading one needs the ``view_all`` level.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.db import transaction
from django.db.models import Count, DateField, Expression, F, FloatField, Func, Sum
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Substr, TruncDay, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from core.access import as_id
from core.errors import NotFound, ValidationFailed
from core.models import Department, Membership
from lowcode import hooks
from lowcode.access import app_levels, check_app_level
from lowcode.models import App, Form, Record, Report
from lowcode.registries import field_type_registry
from lowcode.selectors import SYSTEM_FIELDS, filter_q, form_fields

#: Groups shown one by one; the rest are added up as "Other".
TOP_GROUPS = 50
#: Time buckets shown (the latest); the earlier ones are added up as "Earlier". More than
#: ``TOP_GROUPS`` so a day-by-day chart covers a quarter.
TIME_BUCKETS = 100
MAX_FILLED_BUCKETS = 2000
MAX_REPORTS_PER_APP = 100
DATE_TYPES = ("date", "datetime", "created_at")
DATE_BUCKETS = ("day", "week", "month")
GROUPABLE_TYPES = (
    "single_select",
    "text",
    "scanned_code",
    "serial",
    "member",
    "department",
    "checkbox",
    "created_by",
    *DATE_TYPES,
)
NUMERIC_TYPES = ("number", "money", "computed")
OTHER = "__other__"

# --- reading ------------------------------------------------------------------------


def access_report(member: Membership, report_id: Any, level: str = "view_all") -> Report:
    """A report of an app the member holds ``level`` in; 404 like a missing one otherwise."""
    report = (
        Report.objects.select_related("app", "form__published_version")
        .filter(org_id=member.org_id, pk=as_id(report_id))
        .first()
    )
    levels = app_levels(member, report.app) if report is not None else set()
    if report is None or not levels:
        raise NotFound(_("Report not found."))
    if level not in levels:
        check_app_level(member, report.app, level)
    return report


def reports_of(app: App) -> list[Report]:
    return list(
        Report.objects.filter(org_id=app.org_id, app=app).select_related("form__published_version")
    )


# --- validation and writes ----------------------------------------------------------


def _fields_by_key(form: Form) -> dict[str, dict[str, Any]]:
    fields = {f["key"]: f for f in form_fields(form)} if form.published_version else {}
    fields["created_at"] = SYSTEM_FIELDS["created_at"]
    fields["created_by"] = SYSTEM_FIELDS["created_by"]
    return fields


def _is_groupable(definition: dict[str, Any]) -> bool:
    if definition["type"] not in GROUPABLE_TYPES:
        return False
    # A multiple member or department field holds a list: no single group per record.
    return not definition.get("options", {}).get("multiple")


def groupable_fields(form: Form) -> list[dict[str, Any]]:
    return [f for f in _fields_by_key(form).values() if _is_groupable(f)]


def numeric_fields(form: Form) -> list[dict[str, Any]]:
    return [f for f in _fields_by_key(form).values() if f["type"] in NUMERIC_TYPES]


def check_report(
    app: App,
    form: Form,
    *,
    name: Any,
    chart: Any,
    group_by: Any,
    date_bucket: Any,
    aggregate: Any,
    value_field: Any,
    filters: Any,
) -> dict[str, Any]:
    """The report's settings, cleaned; every problem is reported under its own field."""
    errors: dict[str, list[str]] = {}
    if form.app_id != app.pk or form.org_id != app.org_id:
        raise ValidationFailed(
            _("Choose a form of this app."), fields={"form": [_("Not a form of this app.")]}
        )
    if form.published_version is None:
        raise ValidationFailed(
            _("Publish the form before reporting on it."), fields={"form": [_("Not published.")]}
        )
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name:
        errors["name"] = [_("Required.")]
    elif len(clean_name) > 80:
        errors["name"] = [_("At most 80 characters.")]
    if chart not in Report.Chart.values:
        errors["chart"] = [
            _("Use one of: %(values)s.") % {"values": ", ".join(Report.Chart.values)}
        ]
    fields = _fields_by_key(form)
    group = fields.get(group_by) if isinstance(group_by, str) else None
    bucket = date_bucket or ""
    if group is None:
        errors["group_by"] = [_("Choose a published field of the form.")]
    elif not _is_groupable(group):
        errors["group_by"] = [_("Records cannot be grouped by this kind of field.")]
    elif group["type"] in DATE_TYPES:
        bucket = bucket or "day"
        if bucket not in DATE_BUCKETS:
            errors["date_bucket"] = [_("Use day, week or month.")]
    elif bucket:
        errors["date_bucket"] = [_("Only dates are grouped by day, week or month.")]
    value_key = value_field or ""
    if aggregate not in Report.Aggregate.values:
        errors["aggregate"] = [_("Use count, sum or avg.")]
    elif aggregate == Report.Aggregate.COUNT:
        if value_key:
            errors["value_field"] = [_("A count needs no value field.")]
    else:
        value = fields.get(value_key) if isinstance(value_key, str) else None
        if value is None or value["type"] not in NUMERIC_TYPES:
            errors["value_field"] = [_("Choose a number, money or computed field.")]
    filters = filters if filters not in (None, "") else []
    try:
        filter_q(form_fields(form), filters)
    except ValidationFailed as exc:
        for path, messages in (exc.fields or {"filter": [exc.message]}).items():
            errors["filters" + path.removeprefix("filter")] = list(messages)
    if errors:
        raise ValidationFailed(_("The report settings are not valid."), fields=errors)
    return {
        "name": clean_name,
        "chart": chart,
        "group_by": group_by,
        "date_bucket": bucket,
        "aggregate": aggregate,
        "value_field": value_key,
        "filters": filters,
    }


@transaction.atomic
def do_save_report(
    actor: Membership,
    app: App,
    form: Form,
    *,
    report: Report | None = None,
    name: str,
    chart: str = Report.Chart.BAR,
    group_by: str,
    date_bucket: str = "",
    aggregate: str = Report.Aggregate.COUNT,
    value_field: str = "",
    filters: Any = None,
) -> Report:
    """Create a report (``report=None``) or replace an existing one's settings."""
    check_app_level(actor, app, "manage")
    if report is not None and report.app_id != app.pk:
        raise NotFound(_("Report not found."))
    settings = check_report(
        app,
        form,
        name=name,
        chart=chart,
        group_by=group_by,
        date_bucket=date_bucket,
        aggregate=aggregate,
        value_field=value_field,
        filters=filters,
    )
    if report is None:
        count = Report.objects.filter(org_id=app.org_id, app=app).count()
        if count >= MAX_REPORTS_PER_APP:
            raise ValidationFailed(
                _("An app may have at most %(n)s reports.") % {"n": MAX_REPORTS_PER_APP},
                fields={"app": [_("Too many reports.")]},
            )
        report = Report(org_id=app.org_id, app=app, created_by=actor, position=count)
    report.form = form
    for attribute, value in settings.items():
        setattr(report, attribute, value)
    report.save()
    return report


def preview_report(
    member: Membership, app: App, form: Form, *, name: str = "", **settings: Any
) -> dict[str, Any]:
    """The data a report with these settings would show, without saving it (the editor)."""
    check_app_level(member, app, "view_all")
    cleaned = check_report(
        app,
        form,
        name=(name or "").strip() or _("Preview"),
        chart=settings.get("chart", Report.Chart.BAR),
        group_by=settings.get("group_by"),
        date_bucket=settings.get("date_bucket", ""),
        aggregate=settings.get("aggregate", Report.Aggregate.COUNT),
        value_field=settings.get("value_field", ""),
        filters=settings.get("filters"),
    )
    return report_data(member, Report(org_id=app.org_id, app=app, form=form, **cleaned))


@transaction.atomic
def do_delete_report(actor: Membership, report: Report) -> None:
    check_app_level(actor, report.app, "manage")
    report.delete()


def _reports_using(form: Form, removed: set[str]) -> list[str]:
    problems = []
    for report in Report.objects.filter(org_id=form.org_id, form=form):
        used = {report.group_by, report.value_field} | {
            f.get("field") for f in report.filters or [] if isinstance(f, dict)
        }
        keys = sorted(k for k in used & removed if isinstance(k, str))
        if keys:
            problems.append(
                _("The report %(name)s uses %(keys)s.")
                % {"name": report.name, "keys": ", ".join(keys)}
            )
    return problems


hooks.FIELD_USAGE_CHECKS.append(_reports_using)

# --- computing ------------------------------------------------------------------------


def _group_expression(definition: dict[str, Any], bucket: str) -> Expression | F:
    kind = definition["type"]
    if kind == "created_at":
        trunc = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}[bucket]
        return trunc("created_at", tzinfo=timezone.get_current_timezone())
    if kind == "created_by":
        return F("created_by_id")
    text = KeyTextTransform(definition["key"], "data")
    if kind in ("date", "datetime"):
        # ISO text: "2026-11-23" or "2026-11-23T08:30:00Z" (UTC), so a prefix is a bucket.
        if bucket == "month":
            return Substr(text, 1, 7)
        day = Substr(text, 1, 10)
        if bucket == "week":
            return TruncWeek(Cast(day, DateField()), output_field=DateField())
        return day
    return text


def _value_expression(definition: dict[str, Any]) -> Func:
    if definition["type"] == "money":
        amount = KeyTextTransform("amount", KeyTransform(definition["key"], "data"))
        return Cast(amount, FloatField())
    return Cast(KeyTextTransform(definition["key"], "data"), FloatField())


def _group_key(definition: dict[str, Any], bucket: str, raw: Any) -> Any:
    """The database's group value as a JSON-friendly key in the field's stored shape."""
    kind = definition["type"]
    if kind == "checkbox":  # an unticked box is stored as absent: it is a "No"
        return raw in (True, 1, "1", "true")
    if raw is None or raw == "":
        return None
    if kind in DATE_TYPES:
        if isinstance(raw, datetime):
            raw = timezone.localtime(raw).date() if timezone.is_aware(raw) else raw.date()
        if isinstance(raw, date):
            return raw.strftime("%Y-%m") if bucket == "month" else raw.isoformat()
        return str(raw)
    if kind in ("member", "department", "created_by"):
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None
    return str(raw)


def _labels(definition: dict[str, Any], bucket: str, keys: list[Any]) -> dict[Any, str]:
    kind = definition["type"]
    ids = [k for k in keys if isinstance(k, int) and not isinstance(k, bool)]
    if kind in ("member", "created_by"):
        names = dict(Membership.objects.filter(pk__in=ids).values_list("pk", "user__display_name"))
        return {k: names.get(k) or _("Former member") for k in keys if k is not None}
    if kind == "department":
        departments = dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))
        return {k: departments.get(k) or _("Deleted department") for k in keys if k is not None}
    if kind in DATE_TYPES:
        if bucket == "week":
            return {k: _("Week of %(date)s") % {"date": k} for k in keys if k is not None}
        return {k: str(k) for k in keys if k is not None}
    ftype = field_type_registry.get(kind)
    options = definition.get("options", {})
    return {k: ftype.display(options, k) for k in keys if k is not None}


def _value_label(report: Report, value: dict[str, Any] | None) -> str:
    if value is None:
        return _("Records")
    label = str(value.get("label") or value["key"])
    if report.aggregate == Report.Aggregate.SUM:
        return _("Sum of %(field)s") % {"field": label}
    return _("Average %(field)s") % {"field": label}


def _unit(value: dict[str, Any] | None) -> str:
    if value is None:
        return ""
    options = value.get("options", {})
    if value["type"] == "money":
        return str(options.get("currency", "CNY"))
    return str(options.get("unit", ""))


def _decimals(report: Report, value: dict[str, Any] | None) -> int:
    if value is None:
        return 0
    if value["type"] == "money":
        return 2
    decimals = int(value.get("options", {}).get("decimals", 2))
    # An average gets one more decimal than the values it averages.
    return min(decimals + 1, 6) if report.aggregate == Report.Aggregate.AVG else decimals


def report_data(member: Membership, report: Report) -> dict[str, Any]:
    """``{"columns", "rows": [{"group", "label", "value"}], "total", ...}`` of a report.

    Up to ``TOP_GROUPS`` groups, the largest first (single-select choices in their own
    order), the rest added up as one "Other" row. Time buckets come in time order, gaps
    filled with zero, the latest ``TIME_BUCKETS`` of them after one "Earlier" row. The
    group "no value" comes last. Money is in major units.
    """
    check_app_level(member, report.app, "view_all")
    form = report.form
    fields = _fields_by_key(form)
    group = fields.get(report.group_by)
    value = fields.get(report.value_field) if report.value_field else None
    if group is None or (report.value_field and value is None):
        raise ValidationFailed(
            _("This report uses a field the form no longer has. Edit the report."),
            code="report_field_missing",
            fields={"group_by" if group is None else "value_field": [_("Unknown field.")]},
        )
    bucket = report.date_bucket or ("day" if group["type"] in DATE_TYPES else "")
    queryset = Record.objects.filter(org_id=report.org_id, form_id=form.pk, deleted_at__isnull=True)
    if report.filters:
        queryset = queryset.filter(filter_q(form_fields(form), report.filters))
    aggregates: dict[str, Any] = {"n": Count("pk")}
    if value is not None:
        expression = _value_expression(value)
        aggregates["vn"] = Count(expression)
        aggregates["vs"] = Sum(expression)
    grouped = (
        queryset.annotate(g=_group_expression(group, bucket))
        .values("g")
        .annotate(**aggregates)
        .order_by()
    )
    merged: dict[Any, dict[str, float]] = {}
    for row in cast("Iterable[dict[str, Any]]", grouped):
        key = _group_key(group, bucket, row["g"])
        into = merged.setdefault(key, {"n": 0, "vn": 0, "vs": 0.0})
        into["n"] += row["n"]
        into["vn"] += row.get("vn") or 0
        into["vs"] += float(row.get("vs") or 0)
    scale = 100 if value is not None and value["type"] == "money" else 1

    def result(parts: dict[str, float]) -> float | None:
        if report.aggregate == Report.Aggregate.COUNT:
            return parts["n"]
        if report.aggregate == Report.Aggregate.SUM:
            return parts["vs"] / scale
        return parts["vs"] / parts["vn"] / scale if parts["vn"] else None

    is_time = group["type"] in DATE_TYPES
    if is_time:
        _fill_gaps(merged, bucket)
        dated = sorted(k for k in merged if k is not None)
        shown, rest = dated[-TIME_BUCKETS:], dated[:-TIME_BUCKETS]
        shown += [None] if None in merged else []
    else:
        keys = sorted(merged, key=lambda k: (-(result(merged[k]) or 0), str(k)))
        shown, rest = keys[:TOP_GROUPS], keys[TOP_GROUPS:]
        if group["type"] == "single_select":  # in the order the designer gave the choices
            choices = group.get("options", {}).get("choices", [])
            order = {choice["id"]: index for index, choice in enumerate(choices)}
            shown.sort(key=lambda k: (k is None, order.get(k, len(order)), str(k)))
    labels = _labels(group, bucket, shown)
    decimals = _decimals(report, value)
    rows: list[dict[str, Any]] = [
        {
            "group": key,
            "label": labels.get(key, "") if key is not None else _("(empty)"),
            "value": _round(result(merged[key]), decimals),
        }
        for key in shown
    ]
    colors = _choice_colors(group)
    for row in rows:
        if row["group"] in colors:
            row["color"] = colors[row["group"]]
    if rest:
        other = {part: sum(merged[k][part] for k in rest) for part in ("n", "vn", "vs")}
        other_row: dict[str, Any] = {
            "group": OTHER,
            "label": _("Earlier") if is_time else _("Other"),
            "value": _round(result(other), decimals),
        }
        if is_time:
            rows.insert(0, other_row)
        else:
            rows.append(other_row)
    totals = {part: sum(p[part] for p in merged.values()) for part in ("n", "vn", "vs")}
    return {
        "columns": [
            {"key": "label", "label": str(group.get("label") or group["key"])},
            {"key": "value", "label": _value_label(report, value)},
        ],
        "rows": rows,
        "total": _round(result(totals), decimals),
        "record_count": totals["n"],
        "unit": _unit(value),
        "decimals": decimals,
    }


def _choice_colors(definition: dict[str, Any]) -> dict[str, str]:
    """The colours the designer gave a single select's choices (charts use them)."""
    if definition["type"] != "single_select":
        return {}
    choices = definition.get("options", {}).get("choices", [])
    return {c["id"]: c["color"] for c in choices if c.get("color")}


def _fill_gaps(merged: dict[Any, dict[str, float]], bucket: str) -> None:
    """Empty days, weeks or months between the first and the last one count as zero."""
    dated = sorted(k for k in merged if isinstance(k, str))
    if len(dated) < 2:
        return
    try:
        if bucket == "month":
            first, last = (date.fromisoformat(f"{k}-01") for k in (dated[0], dated[-1]))
        else:
            first, last = date.fromisoformat(dated[0]), date.fromisoformat(dated[-1])
    except ValueError:
        return
    step = {"day": 1, "week": 7}.get(bucket)
    current, filled = first, 0
    while current <= last and filled < MAX_FILLED_BUCKETS:
        key = current.strftime("%Y-%m") if bucket == "month" else current.isoformat()
        merged.setdefault(key, {"n": 0, "vn": 0, "vs": 0.0})
        filled += 1
        if step:
            current += timedelta(days=step)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)


def _round(number: float | None, decimals: int) -> float | int | None:
    if number is None:
        return None
    rounded = round(float(number), decimals)
    return int(rounded) if rounded.is_integer() else rounded


__all__ = [
    "access_report",
    "check_report",
    "do_delete_report",
    "do_save_report",
    "groupable_fields",
    "numeric_fields",
    "preview_report",
    "report_data",
    "reports_of",
]
