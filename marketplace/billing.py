"""Billing: plans, subscriptions, the billing run, payments and refunds.

Plans are the platform's editions (Professional at 9,800.00 CNY a year for up to 500
members; Exclusive and Proprietary at a price an operator quotes per organisation) and
the price plans in an app's published manifest. Amounts are integer minor units.

Subscription states::

    trialing ──(trial ends, billed)──► active ◄──(paid)── past_due
        │                                │  └──(charge fails)──►┘
        └────────────── cancel ──────────┴──────────────► canceled (final)

Proration (a plan change at day ``c`` of a period ``[s, e)`` with ``t = e - s`` days and
``l = e - c`` days left): the unused part of the old plan is credited and the new plan is
charged for the same remaining days, each ``round_half_up(total x l / t)`` in whole
minor units (integer arithmetic: ``(2·a·l + t) // (2·t)``). When the interval changes
(monthly ↔ yearly) a new period starts on ``c`` and the new plan is charged in full less
the credit. A net charge becomes a proration invoice; a net credit is kept on the
subscription and taken off the next invoices.

The billing run (``run_billing``; ``manage.py bill``; the Celery beat task) invoices every
subscription whose ``next_billing_date`` has come, in chunks of ``chunk_size``, one
database transaction per chunk: the chunk's invoices, the subscriptions moved to their
next period, the charges of auto-charging providers and their ledger postings commit
together or not at all. A killed run leaves whole chunks; running again picks up exactly
the subscriptions still due. ``(org, subscription, period_start)`` is unique and every
invoice and payment has an idempotency key derived from the subscription and period, so
no period is billed twice and a provider is asked again with the same key.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import record_audit
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Membership, Organization, User
from core.permissions import check_permission
from marketplace import ledger
from marketplace.models import (
    App,
    EditionQuote,
    Installation,
    Invoice,
    Partner,
    Payment,
    Refund,
    Subscription,
)
from marketplace.payments import get_provider

MANAGE = "marketplace.billing.manage"
M = TypeVar("M", Payment, Refund)
Status = Subscription.Status
LIVE = (Status.TRIALING, Status.ACTIVE, Status.PAST_DUE)


@dataclass(frozen=True)
class PlanTerms:
    code: str
    name: str
    type: str
    interval: str
    amount: int
    currency: str
    trial_days: int = 0
    member_limit: int | None = None


PROFESSIONAL = PlanTerms(
    code="edition.professional",
    name=str(gettext_lazy("Professional")),
    type="flat",
    interval="year",
    amount=980_000,
    currency="CNY",
    member_limit=500,
)
QUOTED_EDITIONS = (Organization.Edition.EXCLUSIVE, Organization.Edition.PROPRIETARY)


# --- dates and arithmetic ---------------------------------------------------------------


def add_interval(day: dt.date, interval: str, anchor_day: int | None = None) -> dt.date:
    """``day`` plus one month or year; the day of month is ``anchor_day`` (default
    ``day.day``) clamped to the month's length (31 January + 1 month = 28/29 February)."""
    anchor = anchor_day or day.day
    if interval == "year":
        year, month = day.year + 1, day.month
    else:
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return dt.date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def prorate(total: int, days_left: int, days_in_period: int) -> int:
    """``total x days_left / days_in_period`` rounded half-up to a whole minor unit."""
    if days_in_period <= 0 or days_left <= 0 or total <= 0:
        return 0
    days_left = min(days_left, days_in_period)
    return (2 * total * days_left + days_in_period) // (2 * days_in_period)


def active_seats(org_ids: Iterable[int]) -> dict[int, int]:
    """Active human members per organisation (app accounts are not seats)."""
    rows = (
        Membership.objects.filter(
            org_id__in=list(org_ids), status=Membership.Status.ACTIVE, user__is_app=False
        )
        .values("org_id")
        .annotate(n=Count("id"))
    )
    return {r["org_id"]: int(r["n"]) for r in rows}


def today() -> dt.date:
    return timezone.localdate()


# --- plans ------------------------------------------------------------------------------


def app_plans(app: App) -> list[PlanTerms]:
    version = app.published_version
    manifest = version.manifest if version is not None else {}
    plans = []
    for plan in (manifest.get("pricing") or {}).get("plans", []):
        plans.append(
            PlanTerms(
                code=str(plan.get("code", "")),
                name=str(plan.get("name", plan.get("code", ""))),
                type=str(plan.get("type", "free")),
                interval=str(plan.get("interval", "month")),
                amount=int(plan.get("amount", 0) or 0),
                currency=str(plan.get("currency", "CNY")),
                trial_days=int(plan.get("trial_days", 0) or 0),
            )
        )
    return plans


def app_plan(app: App, code: str) -> PlanTerms:
    for plan in app_plans(app):
        if plan.code == code:
            return plan
    raise ValidationFailed(
        _("This app has no plan %(code)s.") % {"code": code},
        code="unknown_plan",
        fields={"plan": [_("Choose one of the app's plans.")]},
    )


def edition_plan(org: Organization, edition: str) -> PlanTerms:
    if edition == Organization.Edition.PROFESSIONAL:
        return PROFESSIONAL
    if edition in QUOTED_EDITIONS:
        quote = EditionQuote.objects.filter(org=org, edition=edition).first()
        if quote is None:
            raise Conflict(
                _("This edition is sold by quote; contact sales to receive one."),
                code="quote_required",
            )
        return PlanTerms(
            code=f"edition.{edition}",
            name=str(Organization.Edition(edition).label),
            type="flat",
            interval=quote.interval,
            amount=quote.amount,
            currency=quote.currency,
            member_limit=quote.member_limit,
        )
    raise ValidationFailed(
        _("Choose a paid edition."),
        code="unknown_plan",
        fields={"edition": [_("Choose Professional, Exclusive or Proprietary.")]},
    )


def edition_catalogue(org: Organization) -> list[dict[str, Any]]:
    """The editions an organisation can buy, with its quotes where it has them."""
    rows: list[dict[str, Any]] = [
        {
            "edition": "professional",
            "name": str(gettext_lazy("Professional")),
            "amount": PROFESSIONAL.amount,
            "currency": PROFESSIONAL.currency,
            "interval": PROFESSIONAL.interval,
            "member_limit": PROFESSIONAL.member_limit,
            "by_quote": False,
        }
    ]
    quotes = {q.edition: q for q in reversed(list(EditionQuote.objects.filter(org=org)))}
    for edition in QUOTED_EDITIONS:
        quote = quotes.get(edition)
        rows.append(
            {
                "edition": str(edition),
                "name": str(Organization.Edition(edition).label),
                "amount": quote.amount if quote else None,
                "currency": quote.currency if quote else None,
                "interval": quote.interval if quote else None,
                "member_limit": quote.member_limit if quote else None,
                "by_quote": True,
            }
        )
    return rows


def do_create_quote(
    actor: User,
    org: Organization,
    *,
    edition: str,
    amount: Any,
    currency: str = "CNY",
    interval: str = "year",
    member_limit: int = 500,
    note: str = "",
) -> EditionQuote:
    """Operators enter the negotiated price of an Exclusive or Proprietary edition."""
    if not actor.is_staff:
        raise Forbidden(_("Only operators enter quotes."), code="permission_denied")
    if edition not in QUOTED_EDITIONS:
        raise ValidationFailed(
            _("Quotes are for the Exclusive and Proprietary editions."),
            code="invalid_edition",
            fields={"edition": [_("Choose Exclusive or Proprietary.")]},
        )
    value = check_amount(amount, "amount")
    if interval not in ("month", "year"):
        raise ValidationFailed(
            _("Choose monthly or yearly."), code="invalid", fields={"interval": [_("Invalid.")]}
        )
    return EditionQuote.objects.create(
        org=org,
        edition=edition,
        amount=value,
        currency=check_currency(currency),
        interval=interval,
        member_limit=member_limit,
        note=note,
        created_by=actor,
    )


def check_amount(raw: Any, name: str = "amount", *, allow_zero: bool = False) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        value = -1
    else:
        try:
            value = int(str(raw).strip())
        except ValueError:
            value = -1
        if str(value) != str(raw).strip():
            value = -1
    if value < 0 or (value == 0 and not allow_zero) or value > 10**15:
        raise ValidationFailed(
            _("Enter the amount as a positive whole number of minor units (fen, cents)."),
            code="invalid_amount",
            fields={name: [_("Enter a positive whole number.")]},
        )
    return value


def check_currency(raw: Any) -> str:
    if not isinstance(raw, str) or len(raw) != 3 or not raw.isalpha() or not raw.isupper():
        raise ValidationFailed(
            _("Enter an ISO 4217 currency code such as CNY."),
            code="invalid_currency",
            fields={"currency": [_("Enter a three-letter currency code.")]},
        )
    return raw


# --- subscriptions ----------------------------------------------------------------------


def _new_subscription(
    org: Organization,
    plan: PlanTerms,
    *,
    kind: str,
    start: dt.date,
    member: Membership | None,
    app: App | None = None,
    installation: Installation | None = None,
    edition: str = "",
    provider: str = "manual",
    token: str = "",
) -> Subscription:
    trial_end: dt.date | None
    next_bill: dt.date | None
    if plan.trial_days > 0:
        trial_end = start + dt.timedelta(days=plan.trial_days)
        status, period_end, next_bill = Status.TRIALING, trial_end, trial_end
    else:
        trial_end = None
        status, period_end, next_bill = Status.ACTIVE, add_interval(start, plan.interval), start
    if plan.type == "free":
        next_bill = None
    return Subscription.objects.create(
        org=org,
        kind=kind,
        app=app,
        installation=installation,
        edition=edition,
        plan_code=plan.code,
        plan_name=plan.name,
        plan_type=plan.type,
        interval=plan.interval,
        unit_amount=plan.amount,
        currency=plan.currency,
        status=status,
        trial_end=trial_end,
        current_period_start=start,
        current_period_end=period_end,
        next_billing_date=next_bill,
        payment_provider=provider,
        payment_token=token,
        created_by=member,
    )


def check_provider(name: str) -> str:
    try:
        get_provider(name)
    except NotFound:
        raise ValidationFailed(
            _("Unknown payment method."),
            code="unknown_provider",
            fields={"provider": [_("Choose manual (bank transfer) or a card provider.")]},
        ) from None
    return name


def start_app_subscription(installation: Installation, plan_code: str | None) -> None:
    """Install hook (``marketplace.actions.INSTALL_HOOKS``): subscribe to the chosen plan."""
    if not plan_code:
        return
    app = installation.app
    plan = app_plan(app, plan_code)
    live = Subscription.objects.filter(org_id=installation.org_id, app=app, status__in=LIVE).first()
    if live is not None:
        return
    if (
        plan.trial_days
        and Subscription.objects.filter(org_id=installation.org_id, app=app).exists()
    ):
        plan = dataclasses.replace(plan, trial_days=0)  # one free trial per org and app
    sub = _new_subscription(
        installation.org,
        plan,
        kind=Subscription.Kind.APP,
        start=today(),
        member=installation.installed_by,
        app=app,
        installation=installation,
    )
    if sub.next_billing_date is not None and sub.next_billing_date <= today():
        bill_subscriptions([sub.pk], today())


def do_subscribe_edition(
    member: Membership, *, edition: str, provider: str = "manual", token: str = ""
) -> Subscription:
    check_permission(member, MANAGE)
    org = member.org
    plan = edition_plan(org, edition)
    check_provider(provider)
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=org.pk).first()
        if Subscription.objects.filter(org=org, kind="edition", status__in=LIVE).exists():
            raise Conflict(
                _("The organisation already has an edition; change its plan instead."),
                code="already_subscribed",
            )
        sub = _new_subscription(
            org,
            plan,
            kind=Subscription.Kind.EDITION,
            start=today(),
            member=member,
            edition=edition,
            provider=provider,
            token=token,
        )
        org.edition = edition
        if plan.member_limit:
            org.member_limit = plan.member_limit
        org.save(update_fields=["edition", "member_limit"])
        record_audit(org, member.user, "billing.edition.subscribed", sub, data={"edition": edition})
        bill_subscriptions([sub.pk], today())
    sub.refresh_from_db()
    return sub


def check_transition(sub: Subscription, allowed: Iterable[str], what: str) -> None:
    if sub.status not in allowed:
        raise Conflict(
            _("A %(status)s subscription cannot %(what)s.")
            % {"status": sub.get_status_display().lower(), "what": what},
            code="invalid_transition",
        )


def do_change_plan(
    member: Membership, sub: Subscription, *, plan_code: str, on: dt.date | None = None
) -> tuple[Subscription, Invoice | None]:
    """Upgrade or downgrade (see the module docstring for proration)."""
    check_permission(member, MANAGE)
    on = on or today()
    if sub.kind == Subscription.Kind.APP:
        assert sub.app is not None
        plan = app_plan(sub.app, plan_code)
    else:
        plan = edition_plan(sub.org, plan_code.removeprefix("edition."))
    invoice = None
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=sub.pk)
        check_transition(sub, LIVE, _("change plan"))
        if plan.code == sub.plan_code:
            raise Conflict(_("This is already the subscription's plan."), code="same_plan")
        seats = active_seats([sub.org_id]).get(sub.org_id, 0)
        old_total = sub.unit_amount * (seats if sub.plan_type == "per_seat" else 1)
        new_total = plan.amount * (seats if plan.type == "per_seat" else 1)
        # A credit is in the old currency: it must not be spent in another one.
        if (
            plan.currency != sub.currency
            and sub.status != Status.TRIALING
            and (old_total or sub.credit)
        ):
            raise ValidationFailed(
                _("A plan in another currency needs a new subscription."),
                code="currency_mismatch",
            )
        old_code = sub.plan_code
        if sub.status == Status.TRIALING or (plan.type == "free" and sub.plan_type == "free"):
            pass  # nothing billed yet: the new terms apply from the first invoice
        else:
            if Invoice.objects.filter(subscription=sub, status=Invoice.Status.OPEN).exists():
                # Unused time is credited only once it has been paid for: otherwise a
                # downgrade would credit money never received.
                raise Conflict(
                    _("Pay the open invoice of this subscription before changing its plan."),
                    code="invoice_open",
                )
            total_days = (sub.current_period_end - sub.current_period_start).days
            left = max(0, (sub.current_period_end - on).days)
            credit = prorate(old_total, left, total_days)
            if plan.interval == sub.interval:
                charge = prorate(new_total, left, total_days)
                period_start, period_end = on, sub.current_period_end
            else:
                charge = new_total
                period_start, period_end = on, add_interval(on, plan.interval)
                sub.current_period_start, sub.current_period_end = on, period_end
                sub.next_billing_date = period_end if plan.type != "free" else None
            net = charge - credit
            if net > 0:
                applied = min(sub.credit, net)
                sub.credit -= applied
                # The n-th plan change of this subscription (the row is locked): a change
                # back and forth on one day makes distinct invoices.
                n = Invoice.objects.filter(subscription=sub, kind=Invoice.Kind.PRORATION).count()
                invoice = Invoice.objects.create(
                    org_id=sub.org_id,
                    subscription=sub,
                    kind=Invoice.Kind.PRORATION,
                    number=f"INV-{on:%Y%m%d}-{sub.pk}-P{n + 1}",
                    period_start=period_start,
                    period_end=period_end,
                    description=_("Change from %(old)s to %(new)s")
                    % {"old": old_code, "new": plan.code},
                    quantity=1,
                    subtotal=net,
                    credit_applied=applied,
                    amount=net - applied,
                    currency=plan.currency,
                    status=Invoice.Status.OPEN if net - applied else Invoice.Status.PAID,
                    idempotency_key=f"proration:{sub.pk}:{n + 1}",
                )
            else:
                sub.credit += -net
        sub.plan_code, sub.plan_name, sub.plan_type = plan.code, plan.name, plan.type
        sub.interval, sub.unit_amount, sub.currency = plan.interval, plan.amount, plan.currency
        if plan.type == "free":
            sub.next_billing_date = None
        elif sub.next_billing_date is None:
            sub.next_billing_date = sub.current_period_end
        sub.save()
        if sub.kind == Subscription.Kind.EDITION:
            Organization.objects.filter(pk=sub.org_id).update(
                edition=plan.code.removeprefix("edition.")
            )
        record_audit(
            sub.org,
            member.user,
            "billing.subscription.plan_changed",
            sub,
            data={"from": old_code, "to": plan.code, "invoice": invoice.pk if invoice else None},
        )
        if invoice is not None and invoice.amount > 0:
            _charge_auto([invoice], {sub.pk: sub})
    return sub, invoice


def do_cancel(member: Membership, sub: Subscription, *, at_period_end: bool = True) -> Subscription:
    check_permission(member, MANAGE)
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=sub.pk)
        check_transition(sub, LIVE, _("be canceled"))
        if at_period_end:
            sub.cancel_at_period_end = True
            sub.save(update_fields=["cancel_at_period_end"])
        else:
            _cancel_now(sub)
        record_audit(
            sub.org,
            member.user,
            "billing.subscription.canceled",
            sub,
            data={"at_period_end": at_period_end},
        )
    return sub


def _cancel_now(sub: Subscription) -> None:
    sub.status = Status.CANCELED
    sub.canceled_at = timezone.now()
    sub.next_billing_date = None
    sub.save(update_fields=["status", "canceled_at", "next_billing_date"])
    if sub.kind == Subscription.Kind.EDITION:
        Organization.objects.filter(pk=sub.org_id).update(edition=Organization.Edition.FREE)


def do_resume(member: Membership, sub: Subscription) -> Subscription:
    """Undo a cancellation scheduled for the end of the period."""
    check_permission(member, MANAGE)
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=sub.pk)
        check_transition(sub, LIVE, _("be resumed"))
        if not sub.cancel_at_period_end:
            raise Conflict(_("The subscription is not set to end."), code="invalid_transition")
        sub.cancel_at_period_end = False
        sub.save(update_fields=["cancel_at_period_end"])
    return sub


def cancel_for_uninstall(installation: Installation) -> None:
    """An uninstalled app stops billing at once (nothing more is invoiced)."""
    for sub in Subscription.objects.filter(
        org_id=installation.org_id, app_id=installation.app_id, status__in=LIVE
    ):
        _cancel_now(sub)


# --- the billing run --------------------------------------------------------------------


@dataclass
class BillingReport:
    on: dt.date
    chunks: int = 0
    invoices: int = 0
    canceled: int = 0
    charged: int = 0
    failed: int = 0
    amounts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.on.isoformat(),
            "chunks": self.chunks,
            "invoices": self.invoices,
            "canceled": self.canceled,
            "charged": self.charged,
            "failed": self.failed,
            "amounts": self.amounts,
        }


_SUB_FIELDS = (
    "id",
    "org_id",
    "kind",
    "app_id",
    "plan_code",
    "plan_name",
    "plan_type",
    "interval",
    "unit_amount",
    "currency",
    "status",
    "next_billing_date",
    "current_period_end",
    "cancel_at_period_end",
    "credit",
    "payment_provider",
    "payment_token",
    "edition",
)


def _due(on: dt.date) -> Any:
    return Subscription.objects.filter(next_billing_date__lte=on, status__in=LIVE)


def run_billing(
    on: dt.date,
    *,
    chunk_size: int = 2000,
    after_chunk: Callable[[int, BillingReport], None] | None = None,
) -> BillingReport:
    """Invoice (and charge, where the provider does it by itself) everything due on ``on``."""
    report = BillingReport(on=on)
    while True:
        with transaction.atomic():
            ids = list(
                _due(on)
                .select_for_update(skip_locked=True)
                .order_by("next_billing_date", "id")
                .values_list("id", flat=True)[:chunk_size]
            )
            if not ids:
                break
            _bill_chunk(ids, on, report)
        report.chunks += 1
        if after_chunk is not None:
            after_chunk(report.chunks, report)
    return report


def bill_subscriptions(ids: list[int], on: dt.date) -> BillingReport:
    """Bill these subscriptions now if due (subscribing without a trial)."""
    report = BillingReport(on=on)
    with transaction.atomic():
        due = list(_due(on).filter(pk__in=ids).select_for_update().values_list("id", flat=True))
        if due:
            _bill_chunk(due, on, report)
    return report


_INVOICE_COLUMNS = [
    "org_id",
    "subscription_id",
    "kind",
    "number",
    "period_start",
    "period_end",
    "description",
    "quantity",
    "subtotal",
    "credit_applied",
    "amount",
    "currency",
    "status",
    "idempotency_key",
    "issued_at",
    "paid_at",
]
_PAYMENT_COLUMNS = [
    "org_id",
    "invoice_id",
    "provider",
    "amount",
    "currency",
    "status",
    "idempotency_key",
    "reference",
    "failure_reason",
    "refunded_amount",
    "recorded_by_id",
    "created_at",
]


def _bill_chunk(ids: list[int], on: dt.date, report: BillingReport) -> None:
    """Invoice, advance and charge one chunk (set-based: a few statements per chunk)."""
    rows = list(Subscription.objects.filter(pk__in=ids).values_list(*_SUB_FIELDS))
    subs = {r[0]: dict(zip(_SUB_FIELDS, r, strict=True)) for r in rows}
    per_seat_orgs = {s["org_id"] for s in subs.values() if s["plan_type"] == "per_seat"}
    seats = active_seats(per_seat_orgs) if per_seat_orgs else {}
    now = timezone.now()
    invoice_rows: list[tuple[Any, ...]] = []
    updates: list[tuple[int, dt.date, dt.date, dt.date | None, str, int]] = []
    cancel_ids: list[int] = []
    cancel_edition_orgs: list[int] = []
    for sub in subs.values():
        start: dt.date = sub["next_billing_date"]
        if sub["cancel_at_period_end"]:
            cancel_ids.append(sub["id"])
            if sub["kind"] == Subscription.Kind.EDITION:
                cancel_edition_orgs.append(sub["org_id"])
            continue
        end = add_interval(start, sub["interval"])
        quantity = seats.get(sub["org_id"], 0) if sub["plan_type"] == "per_seat" else 1
        subtotal = sub["unit_amount"] * quantity
        applied = min(sub["credit"], subtotal)
        amount = subtotal - applied
        updates.append((sub["id"], start, end, end, Status.ACTIVE, sub["credit"] - applied))
        if sub["plan_type"] == "free":
            continue
        currency = sub["currency"]
        invoice_rows.append(
            (
                sub["org_id"],
                sub["id"],
                Invoice.Kind.PERIOD.value,
                f"INV-{start:%Y%m%d}-{sub['id']}",
                start,
                end,
                (sub["plan_name"] or sub["plan_code"])[:200],
                quantity,
                subtotal,
                applied,
                amount,
                currency,
                Invoice.Status.OPEN.value if amount else Invoice.Status.PAID.value,
                f"period:{sub['id']}:{start.isoformat()}",
                now,
                None if amount else now,
            )
        )
        report.amounts[currency] = report.amounts.get(currency, 0) + amount
    invoice_ids = ledger.copy_rows(Invoice, _INVOICE_COLUMNS, invoice_rows)
    _advance(updates)
    if cancel_ids:
        Subscription.objects.filter(pk__in=cancel_ids).update(
            status=Status.CANCELED, canceled_at=now, next_billing_date=None
        )
        if cancel_edition_orgs:
            Organization.objects.filter(pk__in=cancel_edition_orgs).update(
                edition=Organization.Edition.FREE
            )
    report.invoices += len(invoice_rows)
    report.canceled += len(cancel_ids)
    to_charge = []
    for invoice_id, row in zip(invoice_ids, invoice_rows, strict=True):
        if row[10] > 0 and get_provider(subs[row[1]]["payment_provider"]).auto_charge:
            values = dict(zip(_INVOICE_COLUMNS, row, strict=True))
            invoice = Invoice(pk=invoice_id, **values)
            invoice._state.adding = False
            to_charge.append(invoice)
    charged, failed = _charge_auto(to_charge, subs)
    report.charged += charged
    report.failed += failed


def _advance(updates: list[tuple[int, dt.date, dt.date, dt.date | None, str, int]]) -> None:
    """Move subscriptions to their next period (one statement per chunk on PostgreSQL)."""
    if not updates:
        return
    if connection.vendor == "postgresql":
        columns = list(zip(*updates, strict=True))
        table = Subscription._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS s SET current_period_start = v.ps,"  # noqa: S608
                " current_period_end = v.pe, next_billing_date = v.nb, status = v.st,"
                " credit = v.cr FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::date[],"
                " %s::text[], %s::bigint[]) AS v(id, ps, pe, nb, st, cr) WHERE s.id = v.id",
                [list(c) for c in columns],
            )
        return
    objs = []
    for sid, ps, pe, nb, st, cr in updates:
        objs.append(
            Subscription(
                pk=sid,
                current_period_start=ps,
                current_period_end=pe,
                next_billing_date=nb,
                status=st,
                credit=cr,
            )
        )
    Subscription.objects.bulk_update(
        objs,
        ["current_period_start", "current_period_end", "next_billing_date", "status", "credit"],
        batch_size=500,
    )


def _sub_value(sub: Any, name: str) -> Any:
    return sub[name] if isinstance(sub, dict) else getattr(sub, name)


def _charge_auto(invoices: list[Invoice], subs: dict[int, Any]) -> tuple[int, int]:
    """Charge invoices whose subscription's provider charges by itself (inside the caller's
    transaction). The key comes from the invoice's own key, stable across retries."""
    now = timezone.now()
    payment_rows: list[tuple[Any, ...]] = []
    charged: list[tuple[Invoice, Any, bool]] = []
    for invoice in invoices:
        sub = subs[invoice.subscription_id]
        provider = get_provider(_sub_value(sub, "payment_provider"))
        if not provider.auto_charge:
            continue
        key = f"charge:{invoice.idempotency_key}"
        result = provider.charge(invoice, key, _sub_value(sub, "payment_token"))
        status = Payment.Status.SUCCEEDED if result.ok else Payment.Status.FAILED
        payment_rows.append(
            (
                invoice.org_id,
                invoice.pk,
                provider.name,
                invoice.amount,
                invoice.currency,
                status.value,
                key,
                result.reference,
                result.failure_reason,
                0,
                None,
                now,
            )
        )
        charged.append((invoice, sub, result.ok))
    if not payment_rows:
        return 0, 0
    payment_ids = ledger.copy_rows(Payment, _PAYMENT_COLUMNS, payment_rows)
    paid = [inv.pk for inv, _s, ok in charged if ok]
    failed_subs = [inv.subscription_id for inv, _s, ok in charged if not ok]
    if paid:
        Invoice.objects.filter(pk__in=paid).update(status=Invoice.Status.PAID, paid_at=now)
    if failed_subs:
        Subscription.objects.filter(pk__in=failed_subs).update(status=Status.PAST_DUE)
    sales = []
    for payment_id, (invoice, sub, ok) in zip(payment_ids, charged, strict=True):
        if not ok:
            continue
        is_app = _sub_value(sub, "kind") == Subscription.Kind.APP
        sales.append(
            ledger.Sale(
                payment_id=payment_id,
                org_id=invoice.org_id,
                amount=invoice.amount,
                currency=invoice.currency,
                at=now,
                app_id=_sub_value(sub, "app_id") if is_app else None,
                partner_id=None,
            )
        )
    _fill_partners(sales)
    ledger.book_sales_bulk(sales)
    return len(paid), len(failed_subs)


def _fill_partners(sales: list[ledger.Sale]) -> None:
    app_ids = {s.app_id for s in sales if s.app_id is not None}
    partners = dict(App.objects.filter(pk__in=app_ids).values_list("id", "partner_id"))
    for i, sale in enumerate(sales):
        if sale.app_id is not None:
            sales[i] = dataclasses.replace(sale, partner_id=partners[sale.app_id])


# --- payments and refunds ---------------------------------------------------------------


def _mark_paid(invoice: Invoice, payment: Payment) -> None:
    now = timezone.now()
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID, paid_at=now)
    invoice.status, invoice.paid_at = Invoice.Status.PAID, now
    Subscription.objects.filter(pk=invoice.subscription_id, status=Status.PAST_DUE).update(
        status=Status.ACTIVE
    )
    ledger.book_payment(payment)


def _replayed(first: M, same_request: bool) -> M:
    """The first result for a repeated idempotency key; a key reused for a different
    request is refused rather than answered with an unrelated result."""
    if not same_request:
        raise Conflict(
            _("This idempotency key was already used for a different request."),
            code="idempotency_key_reused",
        )
    return first


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > 100:
        raise ValidationFailed(
            _("An idempotency key (up to 100 characters) is required."),
            code="idempotency_key_required",
            fields={"idempotency_key": [_("This field is required.")]},
        )
    return key.strip()


def check_open(invoice: Invoice) -> None:
    if invoice.status != Invoice.Status.OPEN or invoice.amount <= 0:
        raise Conflict(_("This invoice is not open."), code="invoice_not_open")


def do_pay_invoice(
    member: Membership, invoice: Invoice, *, idempotency_key: str, token: str = ""
) -> tuple[Payment, bool]:
    """Charge an open invoice through its subscription's provider: ``(payment, created)``.
    Retried with the same key, the first payment comes back and nothing is charged."""
    check_permission(member, MANAGE)
    key = check_key(idempotency_key)
    existing = Payment.objects.filter(org_id=invoice.org_id, idempotency_key=key).first()
    if existing is not None:
        return _replayed(existing, existing.invoice_id == invoice.pk), False
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update().select_related("subscription").get(pk=invoice.pk)
        )
        existing = Payment.objects.filter(org_id=invoice.org_id, idempotency_key=key).first()
        if existing is not None:
            return _replayed(existing, existing.invoice_id == invoice.pk), False
        check_open(invoice)
        sub = invoice.subscription
        provider = get_provider(sub.payment_provider)
        # The provider's key is scoped to the organisation (and apart from the billing
        # run's ``charge:`` keys): another org's identical key must not replay its charge.
        result = provider.charge(
            invoice, f"org:{invoice.org_id}:pay:{key}", token or sub.payment_token
        )
        payment = Payment.objects.create(
            org_id=invoice.org_id,
            invoice=invoice,
            provider=provider.name,
            amount=invoice.amount,
            currency=invoice.currency,
            status=Payment.Status.SUCCEEDED if result.ok else Payment.Status.FAILED,
            idempotency_key=key,
            reference=result.reference,
            failure_reason=result.failure_reason,
            recorded_by=member.user,
        )
        if result.ok:
            _mark_paid(invoice, payment)
        else:
            Subscription.objects.filter(pk=sub.pk, status=Status.ACTIVE).update(
                status=Status.PAST_DUE
            )
        record_audit(
            invoice.org,
            member.user,
            "billing.invoice.charged",
            invoice,
            data={"payment": payment.pk, "ok": result.ok},
        )
    return payment, True


def do_record_manual_payment(
    actor: User, invoice: Invoice, *, reference: str, idempotency_key: str
) -> tuple[Payment, bool]:
    """Operators: a bank transfer arrived for ``invoice`` (its reference entered)."""
    if not actor.is_staff:
        raise Forbidden(_("Only operators record bank transfers."), code="permission_denied")
    key = check_key(idempotency_key)
    if not isinstance(reference, str) or not reference.strip():
        raise ValidationFailed(
            _("Enter the bank transfer's reference."),
            code="reference_required",
            fields={"reference": [_("This field is required.")]},
        )
    existing = Payment.objects.filter(org_id=invoice.org_id, idempotency_key=key).first()
    if existing is not None:
        return _replayed(existing, existing.invoice_id == invoice.pk), False
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        check_open(invoice)
        payment = Payment.objects.create(
            org_id=invoice.org_id,
            invoice=invoice,
            provider="manual",
            amount=invoice.amount,
            currency=invoice.currency,
            status=Payment.Status.SUCCEEDED,
            idempotency_key=key,
            reference=reference.strip()[:120],
            recorded_by=actor,
        )
        _mark_paid(invoice, payment)
        record_audit(
            invoice.org,
            actor,
            "billing.invoice.paid_manually",
            invoice,
            data={"payment": payment.pk, "reference": payment.reference},
        )
    return payment, True


def do_refund(
    actor: User,
    payment: Payment,
    *,
    amount: Any,
    idempotency_key: str,
    reason: str = "",
) -> tuple[Refund, bool]:
    """Operators refund all or part of a payment (at most what remains refundable);
    the ledger reverses at the payment's original commission rate."""
    if not actor.is_staff:
        raise Forbidden(_("Only operators issue refunds."), code="permission_denied")
    key = check_key(idempotency_key)
    existing = Refund.objects.filter(org_id=payment.org_id, idempotency_key=key).first()
    if existing is not None:
        same = existing.payment_id == payment.pk and str(existing.amount) == str(amount).strip()
        return _replayed(existing, same), False
    value = check_amount(amount)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        existing = Refund.objects.filter(org_id=payment.org_id, idempotency_key=key).first()
        if existing is not None:
            return _replayed(existing, existing.amount == value), False
        if payment.status != Payment.Status.SUCCEEDED:
            raise Conflict(_("Only a successful payment can be refunded."), code="not_refundable")
        if value > payment.refundable:
            raise ValidationFailed(
                _("At most %(left)s can still be refunded from this payment.")
                % {"left": payment.refundable},
                code="refund_too_large",
                fields={"amount": [_("More than remains refundable.")]},
            )
        result = get_provider(payment.provider).refund(
            payment, value, f"org:{payment.org_id}:refund:{key}"
        )
        refund = Refund.objects.create(
            org_id=payment.org_id,
            payment=payment,
            amount=value,
            currency=payment.currency,
            reason=str(reason or "")[:200],
            idempotency_key=key,
            reference=result.reference,
            created_by=actor,
        )
        Payment.objects.filter(pk=payment.pk).update(refunded_amount=F("refunded_amount") + value)
        ledger.book_refund(refund)
        record_audit(
            payment.org,
            actor,
            "billing.payment.refunded",
            payment,
            data={"refund": refund.pk, "amount": value},
        )
    return refund, True


def get_subscription(org: Organization, pk: Any) -> Subscription:
    sub = Subscription.objects.filter(org=org, pk=pk).first() if str(pk).isdigit() else None
    if sub is None:
        raise NotFound(_("Subscription not found."))
    return sub


# --- demo data --------------------------------------------------------------------------


def seed_demo_billing(
    org: Organization, plans: list[tuple[App, str]], *, on: dt.date | None = None
) -> BillingReport:
    """For ``make demo``: a month of billing for ``org``. Each ``(app, plan code)`` gets a
    subscription that started a month before ``on`` (default today) on the ``test`` card
    provider, both periods are billed and charged (so the ledger has sales), and the
    apps' partners get this month's statement. Safe to call again (nothing is billed twice)."""
    on = on or today()
    start = on.replace(day=1)
    start = (start - dt.timedelta(days=1)).replace(day=min(on.day, 28))
    for app, code in plans:
        live = Subscription.objects.filter(org=org, app=app, status__in=LIVE).first()
        if live is not None and live.plan_code == code:
            continue
        if live is not None:  # e.g. the free plan the install started: replaced
            _cancel_now(live)
        plan = app_plan(app, code)
        plan = dataclasses.replace(plan, trial_days=0)
        _new_subscription(
            org, plan, kind=Subscription.Kind.APP, start=start, member=None, app=app,
            provider="test",
        )  # fmt: skip
    report = run_billing(on)
    this_month = today().replace(day=1)  # payments are booked when they are taken
    for partner in Partner.objects.filter(pk__in={app.partner_id for app, _code in plans}):
        ledger.do_generate_statements(partner, this_month)
    return report
