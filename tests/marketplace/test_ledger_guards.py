"""The database itself refuses unbalanced, amended or deleted ledger transactions
(triggers in marketplace/migrations/0006_ledger_guards.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from marketplace import ledger
from marketplace.models import LedgerAccount, LedgerEntry, LedgerTransaction

pytestmark = pytest.mark.django_db

TXN = LedgerTransaction._meta.db_table
ENTRY = LedgerEntry._meta.db_table


def _uuid_param(value: uuid.UUID):
    return value.hex if connection.vendor == "sqlite" else value


def _raw_insert(legs: list[tuple[int, int, str]], txn_id: uuid.UUID | None = None) -> uuid.UUID:
    """Legs then header with raw SQL (no Django checks in the way)."""
    txn_id = txn_id or uuid.uuid4()
    with connection.cursor() as cursor:
        for account, amount, currency in legs:
            cursor.execute(
                f"INSERT INTO {ENTRY} (transaction_id, account_id, amount, currency, booked_at)"
                " VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP)",
                [_uuid_param(txn_id), account, amount, currency],
            )
        cursor.execute(
            f"INSERT INTO {TXN} (id, kind, idempotency_key, memo, booked_at)"
            " VALUES (%s, 'sale', %s, '', CURRENT_TIMESTAMP)",
            [_uuid_param(txn_id), f"raw:{txn_id}"],
        )
    return txn_id


@pytest.fixture
def accounts():
    cash = ledger.account_id(LedgerAccount.Kind.CASH)
    revenue = ledger.account_id(LedgerAccount.Kind.COMMISSION)
    return cash, revenue


def _refused(callable_, *args):
    with pytest.raises(DatabaseError) as info, transaction.atomic():
        callable_(*args)
    assert "ledger" in str(info.value)


def test_a_balanced_raw_transaction_is_accepted(accounts):
    cash, revenue = accounts
    txn_id = _raw_insert([(cash, 500, "CNY"), (revenue, -500, "CNY")])
    assert LedgerTransaction.objects.get(pk=txn_id).entries.count() == 2


def test_unbalanced_raw_insert_is_rejected_by_the_database(accounts):
    cash, revenue = accounts
    _refused(_raw_insert, [(cash, 500, "CNY"), (revenue, -499, "CNY")])
    assert not LedgerTransaction.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_balanced_overall_but_not_per_currency_is_rejected(accounts):
    cash, revenue = accounts
    legs = [(cash, 500, "CNY"), (revenue, -500, "USD"), (cash, 0, "CNY")]
    _refused(_raw_insert, legs)


def test_a_header_needs_at_least_two_legs(accounts):
    cash, _revenue = accounts
    _refused(_raw_insert, [(cash, 0, "CNY")])
    _refused(_raw_insert, [])


def test_legs_cannot_be_added_to_a_written_transaction(accounts):
    cash, revenue = accounts
    txn_id = _raw_insert([(cash, 500, "CNY"), (revenue, -500, "CNY")])

    def add_leg():
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ENTRY} (transaction_id, account_id, amount, currency, booked_at)"
                " VALUES (%s, %s, 0, 'CNY', CURRENT_TIMESTAMP)",
                [_uuid_param(txn_id), cash],
            )

    _refused(add_leg)


@override_settings(TACK_LEDGER_DELETE_GUARD=True)
def test_entries_and_headers_cannot_be_updated_or_deleted(accounts):
    cash, revenue = accounts
    txn_id = _raw_insert([(cash, 500, "CNY"), (revenue, -500, "CNY")])
    for sql, params in [
        (f"UPDATE {ENTRY} SET amount = amount + 1 WHERE transaction_id = %s", [txn_id]),
        (f"DELETE FROM {ENTRY} WHERE transaction_id = %s", [txn_id]),
        (f"UPDATE {TXN} SET memo = 'changed' WHERE id = %s", [txn_id]),
        (f"DELETE FROM {TXN} WHERE id = %s", [txn_id]),
    ]:

        def run(sql=sql, params=params):
            with connection.cursor() as cursor:
                cursor.execute(sql, [_uuid_param(p) for p in params])

        _refused(run)
    assert LedgerEntry.objects.filter(transaction_id=txn_id).count() == 2
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(transaction_id=txn_id).update(amount=1)


def test_post_through_the_orm_is_checked_too(accounts):
    cash, revenue = accounts
    posting = ledger.Posting(
        kind="sale",
        key="orm:unbalanced",
        legs=[ledger.Leg(cash, 100, "CNY"), ledger.Leg(revenue, -90, "CNY")],
    )
    with pytest.raises(DatabaseError):
        ledger.post(posting)
    ok = ledger.Posting(
        kind="sale",
        key="orm:balanced",
        legs=[ledger.Leg(cash, 100, "CNY"), ledger.Leg(revenue, -100, "CNY")],
    )
    first = ledger.post(ok)
    assert ledger.post(ok).pk == first.pk  # same key: the same transaction, written once
    assert LedgerTransaction.objects.filter(idempotency_key="orm:balanced").count() == 1
