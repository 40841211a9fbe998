"""The revenue-share ledger: booking sales, refunds and payouts as balanced transactions.

Sign convention: a leg's amount is positive for a debit, negative for a credit. A sale
of an app for ``gross`` minor units at commission rate ``r`` books::

    platform cash            +gross
    platform commission      -fee            fee   = round_half_up(gross * r)
    partner payable          -share          share = gross - fee

A partner's *balance* (what the platform owes it) is minus the sum of its payable legs.
A refund reverses at the rate of the original payment, proportionally: after refunds
totalling ``R`` of a payment, the fee reversed so far is ``round_half_up(R * r)`` (never
more than the fee booked), so a full refund reverses exactly what was booked. Edition
payments book everything to platform revenue. Payouts move partner payable to payouts.

Rates are ``Decimal`` (never floats); rounding is half-up on whole minor units.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core.bulk import bulk_insert
from core.errors import Conflict, ValidationFailed
from core.models import User
from marketplace.models import (
    App,
    CommissionRate,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Partner,
    PartnerStatement,
    Payment,
    Payout,
    Refund,
    Subscription,
)

Kind = LedgerAccount.Kind
TxnKind = LedgerTransaction.Kind
DEFAULT_RATE = Decimal("0.15")


def round_half_up(amount: int, rate: Decimal) -> int:
    """``amount x rate`` rounded half-up to a whole minor unit (amount ≥ 0)."""
    return int((Decimal(amount) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def default_rate() -> Decimal:
    return Decimal(str(getattr(settings, "TACK_MARKETPLACE_COMMISSION_RATE", DEFAULT_RATE)))


def payout_minimum(currency: str) -> int:
    minimums: dict[str, int] = getattr(settings, "TACK_MARKETPLACE_PAYOUT_MINIMUM", {})
    return int(minimums.get(currency, minimums.get("*", 10000)))


# --- accounts ---------------------------------------------------------------------------


def account_id(kind: str, partner_id: int | None = None) -> int:
    """The id of the account ``kind`` (of ``partner_id`` for partner payable), created once."""
    code = f"partner:{partner_id}:{kind}" if partner_id else f"platform:{kind}"
    found = LedgerAccount.objects.filter(code=code).values_list("pk", flat=True).first()
    if found is not None:
        return int(found)
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(kind=kind, partner_id=partner_id, code=code).pk
    except IntegrityError:
        return LedgerAccount.objects.get(code=code).pk


class AccountIds:
    """``account_id`` remembered for the length of one batch (one query per account)."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, int | None], int] = {}

    def __call__(self, kind: str, partner_id: int | None = None) -> int:
        key = (kind, partner_id)
        if key not in self._ids:
            self._ids[key] = account_id(kind, partner_id)
        return self._ids[key]


# --- rates ------------------------------------------------------------------------------


def commission_rate(app: App, at: dt.datetime | None = None) -> Decimal:
    """The rate in force for ``app`` at ``at``: the app's own, else its partner's, else the
    platform default; within one level, the latest ``effective_from`` not after ``at``."""
    at = at or timezone.now()
    rows = list(
        CommissionRate.objects.filter(effective_from__lte=at)
        .filter(
            Q(app=app)
            | Q(app__isnull=True, partner_id=app.partner_id)
            | Q(app__isnull=True, partner__isnull=True)
        )
        .order_by("-effective_from", "-id")
        .values_list("app_id", "partner_id", "rate")
    )
    for level in (
        lambda a, p: a == app.pk,
        lambda a, p: a is None and p == app.partner_id,
        lambda a, p: a is None and p is None,
    ):
        for app_id, partner_id, rate in rows:
            if level(app_id, partner_id):
                return Decimal(rate)
    return default_rate()


def check_rate(raw: Any) -> Decimal:
    try:
        rate = Decimal(str(raw))
    except (ArithmeticError, ValueError):
        rate = Decimal(-1)
    if not rate.is_finite() or rate < 0 or rate > 1 or rate.as_tuple().exponent < -6:  # type: ignore[operator]
        raise ValidationFailed(
            _("Enter a rate between 0 and 1 with at most six decimals (0.15 is 15%)."),
            code="invalid_rate",
            fields={"rate": [_("Enter a rate between 0 and 1.")]},
        )
    return rate


def do_set_commission_rate(
    actor: User,
    *,
    rate: Any,
    effective_from: dt.datetime | None = None,
    partner: Partner | None = None,
    app: App | None = None,
    note: str = "",
) -> CommissionRate:
    """Operators only. A rate never changes what was booked: each leg keeps its own rate."""
    if not actor.is_staff:
        from core.errors import Forbidden

        raise Forbidden(_("Only operators set commission rates."), code="permission_denied")
    value = check_rate(rate)
    if app is not None:
        partner = None
    return CommissionRate.objects.create(
        partner=partner,
        app=app,
        rate=value,
        effective_from=effective_from or timezone.now(),
        note=note[:200],
        created_by=actor,
    )


# --- posting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    account_id: int
    amount: int
    currency: str
    rate: Decimal | None = None


@dataclass
class Posting:
    kind: str
    key: str
    legs: list[Leg]
    partner_id: int | None = None
    app_id: int | None = None
    org_id: int | None = None
    payment_id: int | None = None
    refund_id: int | None = None
    reverses_id: Any = None
    memo: str = ""


def _write(postings: Sequence[Posting], now: dt.datetime) -> list[LedgerTransaction]:
    """Legs first, then headers (the database checks each header against its legs)."""
    headers: list[LedgerTransaction] = []
    entries: list[LedgerEntry] = []
    for p in postings:
        header = LedgerTransaction(
            kind=p.kind,
            idempotency_key=p.key,
            partner_id=p.partner_id,
            app_id=p.app_id,
            org_id_ref=p.org_id,
            payment_id=p.payment_id,
            refund_id=p.refund_id,
            reverses_id=p.reverses_id,
            memo=p.memo[:200],
            booked_at=now,
        )
        headers.append(header)
        entries.extend(
            LedgerEntry(
                transaction_id=header.pk,
                account_id=leg.account_id,
                amount=leg.amount,
                currency=leg.currency,
                rate=leg.rate,
                booked_at=now,
            )
            for leg in p.legs
        )
    bulk_insert(entries)
    LedgerTransaction.objects.bulk_create(headers, batch_size=1000)
    return headers


def copy_rows(model: type[Any], columns: list[str], rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert ``rows`` (values in ``columns`` order; attnames) without building model
    instances: PostgreSQL ``COPY`` (ids drawn from the sequence first when the table has
    an auto id not among ``columns``), else ``bulk_create``. Returns the new auto ids."""
    if not rows:
        return []
    meta = model._meta
    pk = meta.pk
    auto_pk = pk.attname not in columns
    if connection.vendor != "postgresql":
        objs = model._default_manager.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=500
        )
        return [o.pk for o in objs] if auto_pk else []
    table = meta.db_table
    db_columns = [str(meta.get_field(c).column) for c in columns]
    ids: list[int] = []
    with connection.cursor() as cursor:
        if auto_pk:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk.column, len(rows)],
            )
            ids = [r[0] for r in cursor.fetchall()]
            db_columns = [str(pk.column), *db_columns]
        quoted = ", ".join(connection.ops.quote_name(c) for c in db_columns)
        with cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN"
        ) as copy:
            if auto_pk:
                for row_id, row in zip(ids, rows, strict=True):
                    copy.write_row((row_id, *row))
            else:
                for row in rows:
                    copy.write_row(row)
    return ids


_HEADER_COLUMNS = [
    "id",
    "kind",
    "idempotency_key",
    "partner_id",
    "app_id",
    "org_id_ref",
    "payment_id",
    "refund_id",
    "reverses_id",
    "memo",
    "booked_at",
]
_ENTRY_COLUMNS = ["transaction_id", "account_id", "amount", "currency", "rate", "booked_at"]


def _write_bulk(postings: Sequence[Posting], now: dt.datetime) -> None:
    """Like ``_write`` for many postings, without model instances (the billing run)."""
    headers: list[tuple[Any, ...]] = []
    entries: list[tuple[Any, ...]] = []
    for p in postings:
        txn_id = uuid.uuid4()
        headers.append(
            (
                txn_id,
                p.kind,
                p.key,
                p.partner_id,
                p.app_id,
                p.org_id,
                p.payment_id,
                p.refund_id,
                p.reverses_id,
                p.memo[:200],
                now,
            )
        )
        entries.extend(
            (txn_id, leg.account_id, leg.amount, leg.currency, leg.rate, now) for leg in p.legs
        )
    copy_rows(LedgerEntry, _ENTRY_COLUMNS, entries)
    copy_rows(LedgerTransaction, _HEADER_COLUMNS, headers)


def post(posting: Posting) -> LedgerTransaction:
    """Write one transaction, or return the one already written with the same key."""
    existing = LedgerTransaction.objects.filter(idempotency_key=posting.key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _write([posting], timezone.now())[0]
    except IntegrityError:
        existing = LedgerTransaction.objects.filter(idempotency_key=posting.key).first()
        if existing is None:
            raise
        return existing


@dataclass(frozen=True)
class Sale:
    """What the ledger needs to know of a succeeded payment."""

    payment_id: int
    org_id: int
    amount: int
    currency: str
    at: dt.datetime
    app_id: int | None  # None: an edition (all to platform revenue)
    partner_id: int | None = None


def sale_of(payment: Payment) -> Sale:
    subscription: Subscription = payment.invoice.subscription
    app = subscription.app if subscription.kind == Subscription.Kind.APP else None
    return Sale(
        payment_id=payment.pk,
        org_id=payment.org_id,
        amount=payment.amount,
        currency=payment.currency,
        at=payment.created_at,
        app_id=app.pk if app else None,
        partner_id=app.partner_id if app else None,
    )


def sale_posting(sale: Sale, rate: Decimal | None, accounts: AccountIds) -> Posting:
    """The sale booked when a payment succeeds (``rate`` None for editions)."""
    gross, currency = sale.amount, sale.currency
    key = f"payment:{sale.payment_id}"
    if sale.app_id is None or rate is None:
        one = Decimal(1)
        return Posting(
            kind=TxnKind.EDITION_SALE,
            key=key,
            legs=[
                Leg(accounts(Kind.CASH), gross, currency, one),
                Leg(accounts(Kind.PLATFORM_REVENUE), -gross, currency, one),
            ],
            org_id=sale.org_id,
            payment_id=sale.payment_id,
        )
    fee = round_half_up(gross, rate)
    return Posting(
        kind=TxnKind.SALE,
        key=key,
        legs=[
            Leg(accounts(Kind.CASH), gross, currency, rate),
            Leg(accounts(Kind.COMMISSION), -fee, currency, rate),
            Leg(accounts(Kind.PARTNER_PAYABLE, sale.partner_id), -(gross - fee), currency, rate),
        ],
        partner_id=sale.partner_id,
        app_id=sale.app_id,
        org_id=sale.org_id,
        payment_id=sale.payment_id,
    )


def _rate_for(sale: Sale, apps: dict[int, App]) -> Decimal | None:
    if sale.app_id is None:
        return None
    app = apps.get(sale.app_id)
    if app is None:
        app = App.objects.only("id", "partner_id").get(pk=sale.app_id)
        apps[app.pk] = app
    return commission_rate(app, sale.at)


def book_payment(payment: Payment) -> LedgerTransaction:
    sale = sale_of(payment)
    return post(sale_posting(sale, _rate_for(sale, {}), AccountIds()))


def book_sales_bulk(sales: Iterable[Sale]) -> int:
    """Book many succeeded payments at once (the billing run), skipping those already
    booked; inside the caller's transaction. One rate lookup per app and batch (every
    payment of a batch is taken at the batch's time)."""
    rows = list(sales)
    if not rows:
        return 0
    keys = [f"payment:{s.payment_id}" for s in rows]
    done = set(
        LedgerTransaction.objects.filter(idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )
    apps: dict[int, App] = {}
    rates: dict[int | None, Decimal | None] = {}
    accounts = AccountIds()
    postings = []
    for sale in rows:
        if f"payment:{sale.payment_id}" in done:
            continue
        if sale.app_id not in rates:
            rates[sale.app_id] = _rate_for(sale, apps)
        postings.append(sale_posting(sale, rates[sale.app_id], accounts))
    _write_bulk(postings, timezone.now())
    return len(postings)


def book_refund(refund: Refund) -> LedgerTransaction:
    """Reverse part of a payment's sale at the sale's own rate (see the module docstring)."""
    payment = refund.payment
    sale = LedgerTransaction.objects.filter(idempotency_key=f"payment:{payment.pk}").first()
    if sale is None:  # the payment was never booked (cannot happen for succeeded payments)
        sale = book_payment(payment)
    legs = list(sale.entries.select_related("account"))
    cash_leg = next(e for e in legs if e.account.kind == Kind.CASH)
    rate = cash_leg.rate
    currency = cash_leg.currency
    gross = cash_leg.amount
    prior = Refund.objects.filter(payment=payment, pk__lt=refund.pk).aggregate(s=Sum("amount"))
    before = int(prior["s"] or 0)
    after = before + refund.amount
    if after > gross:
        raise ValidationFailed(
            _("A refund cannot exceed what remains refundable."), code="refund_too_large"
        )
    cash = account_id(Kind.CASH)
    if sale.kind == TxnKind.EDITION_SALE:
        return post(
            Posting(
                kind=TxnKind.EDITION_REFUND,
                key=f"refund:{refund.pk}",
                legs=[
                    Leg(cash, -refund.amount, currency, rate),
                    Leg(account_id(Kind.PLATFORM_REVENUE), refund.amount, currency, rate),
                ],
                org_id=refund.org_id,
                payment_id=payment.pk,
                refund_id=refund.pk,
                reverses_id=sale.pk,
            )
        )
    assert rate is not None
    fee_booked = -next(e.amount for e in legs if e.account.kind == Kind.COMMISSION)
    fee_before = min(fee_booked, round_half_up(before, rate))
    fee_after = min(fee_booked, round_half_up(after, rate))
    if after == gross:
        fee_after = fee_booked
    fee_back = fee_after - fee_before
    share_back = refund.amount - fee_back
    return post(
        Posting(
            kind=TxnKind.REFUND,
            key=f"refund:{refund.pk}",
            legs=[
                Leg(cash, -refund.amount, currency, rate),
                Leg(account_id(Kind.COMMISSION), fee_back, currency, rate),
                Leg(account_id(Kind.PARTNER_PAYABLE, sale.partner_id), share_back, currency, rate),
            ],
            partner_id=sale.partner_id,
            app_id=sale.app_id,
            org_id=refund.org_id,
            payment_id=payment.pk,
            refund_id=refund.pk,
            reverses_id=sale.pk,
        )
    )


# --- partners: balances, payouts, statements ---------------------------------------------


def partner_balances(partner: Partner) -> dict[str, int]:
    """What the platform owes ``partner``, per currency (minus the sum of payable legs)."""
    rows = (
        LedgerEntry.objects.filter(account__kind=Kind.PARTNER_PAYABLE, account__partner=partner)
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    return {r["currency"]: -int(r["total"] or 0) for r in rows}


def check_payout(partner: Partner, amount: Any, currency: str) -> int:
    try:
        value = int(amount)
    except (TypeError, ValueError):
        value = 0
    if isinstance(amount, bool) or value <= 0 or str(value) != str(amount).strip():
        raise ValidationFailed(
            _("Enter the amount as a positive whole number of minor units."),
            code="invalid_amount",
            fields={"amount": [_("Enter a positive whole number.")]},
        )
    minimum = payout_minimum(currency)
    if value < minimum:
        raise ValidationFailed(
            _("Payouts start at %(minimum)s minor units.") % {"minimum": minimum},
            code="below_minimum",
            fields={"amount": [_("Below the payout minimum.")]},
        )
    return value


def do_payout(
    actor: User | None,
    partner: Partner,
    *,
    amount: Any,
    currency: str,
    idempotency_key: str,
    reference: str = "",
) -> tuple[Payout, bool]:
    """Pay ``partner`` (operators): ``(payout, created)``; the same key returns the first."""
    if not idempotency_key:
        raise ValidationFailed(
            _("An idempotency key is required."),
            code="idempotency_key_required",
            fields={"idempotency_key": [_("This field is required.")]},
        )
    key = f"{partner.pk}:{idempotency_key}"[:120]
    existing = Payout.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if str(existing.amount) != str(amount).strip() or existing.currency != currency:
            raise Conflict(
                _("This idempotency key was already used for a different payout."),
                code="idempotency_key_reused",
            )
        return existing, False
    value = check_payout(partner, amount, currency)
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        existing = Payout.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing, False
        balance = partner_balances(partner).get(currency, 0)
        if value > balance:
            raise Conflict(
                _("The payout is larger than the partner's balance (%(balance)s).")
                % {"balance": balance},
                code="insufficient_balance",
            )
        payout = Payout.objects.create(
            partner=partner,
            amount=value,
            currency=currency,
            reference=reference[:120],
            idempotency_key=key,
            created_by=actor,
        )
        txn = post(
            Posting(
                kind=TxnKind.PAYOUT,
                key=f"payout:{payout.pk}",
                legs=[
                    Leg(account_id(Kind.PARTNER_PAYABLE, partner.pk), value, currency),
                    Leg(account_id(Kind.PAYOUTS), -value, currency),
                ],
                partner_id=partner.pk,
                memo=reference,
            )
        )
        Payout.objects.filter(pk=payout.pk).update(transaction=txn)
        payout.transaction = txn
    return payout, True


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    first = month.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    tz = dt.UTC
    return (
        dt.datetime.combine(first, dt.time.min, tzinfo=tz),
        dt.datetime.combine(nxt, dt.time.min, tzinfo=tz),
    )


def do_generate_statements(partner: Partner, month: dt.date) -> list[PartnerStatement]:
    """The partner's statements for ``month`` (one per currency), computed from the ledger;
    generating again gives the same rows (updated in place)."""
    start, end = month_bounds(month)
    payable = LedgerEntry.objects.filter(
        account__kind=Kind.PARTNER_PAYABLE, account__partner=partner
    )
    opening = defaultdict(int)
    for row in payable.filter(booked_at__lt=start).values("currency").annotate(t=Sum("amount")):
        opening[row["currency"]] = -int(row["t"] or 0)
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    txns = LedgerTransaction.objects.filter(
        partner=partner, booked_at__gte=start, booked_at__lt=end
    )
    legs = (
        LedgerEntry.objects.filter(transaction__in=txns)
        .values("transaction__kind", "account__kind", "account__partner_id", "currency")
        .annotate(t=Sum("amount"))
    )
    for row in legs:
        kind, acct, cur, total = (
            row["transaction__kind"],
            row["account__kind"],
            row["currency"],
            int(row["t"] or 0),
        )
        s = sums[cur]
        if kind == TxnKind.SALE and acct == Kind.CASH:
            s["gross"] += total
        elif kind == TxnKind.SALE and acct == Kind.COMMISSION:
            s["fees"] += -total
        elif kind == TxnKind.REFUND and acct == Kind.CASH:
            s["refunds"] += -total
        elif kind == TxnKind.REFUND and acct == Kind.COMMISSION:
            s["fees"] -= total
        elif kind == TxnKind.PAYOUT and acct == Kind.PARTNER_PAYABLE:
            s["payouts"] += total
    statements = []
    for currency in sorted(set(sums) | set(opening)):
        s = sums[currency]
        net = s["gross"] - s["fees"] - s["refunds"]
        closing = opening[currency] + net - s["payouts"]
        statement, _created = PartnerStatement.objects.update_or_create(
            partner=partner,
            month=start.date(),
            currency=currency,
            defaults={
                "gross": s["gross"],
                "fees": s["fees"],
                "refunds": s["refunds"],
                "net": net,
                "payouts": s["payouts"],
                "opening_balance": opening[currency],
                "closing_balance": closing,
                "generated_at": timezone.now(),
            },
        )
        statements.append(statement)
    return statements


def register_sqlite_guard(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: the function the SQLite DELETE guard asks."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "tack_ledger_guard",
            0,
            lambda: 1 if getattr(settings, "TACK_LEDGER_DELETE_GUARD", True) else 0,
            deterministic=False,
        )
