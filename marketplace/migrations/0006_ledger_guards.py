"""Database guards of the revenue-share ledger (SQLite and PostgreSQL).

The legs (``marketplace_ledgerentry``) of a transaction are inserted first, then its
header (``marketplace_ledgertransaction``; the foreign key from legs to header is
checked at commit on both databases). The database then refuses:

* a header whose legs are fewer than two or do not sum to zero in each currency;
  (PostgreSQL checks once per INSERT/COPY statement over all its rows, SQLite per row)
* a leg added to a transaction whose header is already written;
* any UPDATE of a leg or a header, and any DELETE of one (corrections are new,
  reversing transactions).

On SQLite the DELETE guard asks the function ``tack_ledger_guard()`` (registered on
every connection Django opens, see ``marketplace.apps``) so the test runner's
table flush can empty the ledger; a connection without the function cannot delete.
PostgreSQL's flush uses TRUNCATE, which row triggers do not see.
"""

from django.db import migrations

# Table names are constants of this module, never input: S608 does not apply here.
# ruff: noqa: S608

TXN = "marketplace_ledgertransaction"
ENTRY = "marketplace_ledgerentry"

SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER ledger_txn_balanced BEFORE INSERT ON {TXN}
    BEGIN
        SELECT RAISE(ABORT, 'ledger: a transaction needs at least two legs')
        WHERE (SELECT count(*) FROM {ENTRY} WHERE transaction_id = NEW.id) < 2;
        SELECT RAISE(ABORT, 'ledger: the legs of a transaction must sum to zero')
        WHERE EXISTS (
            SELECT 1 FROM {ENTRY} WHERE transaction_id = NEW.id
            GROUP BY currency HAVING sum(amount) <> 0
        );
    END
    """,
    f"""
    CREATE TRIGGER ledger_entry_closed BEFORE INSERT ON {ENTRY}
    WHEN EXISTS (SELECT 1 FROM {TXN} WHERE id = NEW.transaction_id)
    BEGIN
        SELECT RAISE(ABORT, 'ledger: legs cannot be added to a written transaction');
    END
    """,
    *(
        f"""
        CREATE TRIGGER ledger_{name}_no_update BEFORE UPDATE ON {table}
        BEGIN
            SELECT RAISE(ABORT, 'ledger: entries are immutable');
        END
        """
        for name, table in (("txn", TXN), ("entry", ENTRY))
    ),
    *(
        f"""
        CREATE TRIGGER ledger_{name}_no_delete BEFORE DELETE ON {table}
        WHEN tack_ledger_guard() = 1
        BEGIN
            SELECT RAISE(ABORT, 'ledger: entries are immutable');
        END
        """
        for name, table in (("txn", TXN), ("entry", ENTRY))
    ),
]

SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "ledger_txn_balanced",
        "ledger_entry_closed",
        "ledger_txn_no_update",
        "ledger_entry_no_update",
        "ledger_txn_no_delete",
        "ledger_entry_no_delete",
    )
]

POSTGRES_FORWARD = [
    # Inserts are checked once per statement over all its rows (transition tables), so a
    # billing run writing thousands of transactions with one COPY pays one set-based check.
    f"""
    CREATE FUNCTION ledger_txn_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (
            SELECT 1
            FROM new_headers AS h
            LEFT JOIN (
                SELECT transaction_id, sum(n) AS legs, bool_or(total <> 0) AS unbalanced
                FROM (
                    SELECT e.transaction_id, count(*) AS n, sum(e.amount) AS total
                    FROM {ENTRY} AS e JOIN new_headers AS nh ON nh.id = e.transaction_id
                    GROUP BY e.transaction_id, e.currency
                ) AS per_currency
                GROUP BY transaction_id
            ) AS legs ON legs.transaction_id = h.id
            WHERE legs.legs IS NULL OR legs.legs < 2 OR legs.unbalanced
        ) THEN
            RAISE EXCEPTION
                'ledger: a transaction needs at least two legs that sum to zero per currency'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE TRIGGER ledger_txn_balanced AFTER INSERT ON {TXN}
    REFERENCING NEW TABLE AS new_headers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_txn_balanced()
    """,
    f"""
    CREATE FUNCTION ledger_entry_closed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (
            SELECT 1 FROM new_entries AS e JOIN {TXN} AS t ON t.id = e.transaction_id
        ) THEN
            RAISE EXCEPTION 'ledger: legs cannot be added to a written transaction'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE TRIGGER ledger_entry_closed AFTER INSERT ON {ENTRY}
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_closed()
    """,
    """
    CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger: entries are immutable' USING ERRCODE = 'check_violation';
    END $$
    """,
    *(
        f"""
        CREATE TRIGGER ledger_{name}_immutable BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION ledger_immutable()
        """
        for name, table in (("txn", TXN), ("entry", ENTRY))
    ),
]

POSTGRES_BACKWARD = [
    f"DROP TRIGGER IF EXISTS ledger_txn_immutable ON {TXN}",
    f"DROP TRIGGER IF EXISTS ledger_entry_immutable ON {ENTRY}",
    f"DROP TRIGGER IF EXISTS ledger_entry_closed ON {ENTRY}",
    f"DROP TRIGGER IF EXISTS ledger_txn_balanced ON {TXN}",
    "DROP FUNCTION IF EXISTS ledger_immutable()",
    "DROP FUNCTION IF EXISTS ledger_entry_closed()",
    "DROP FUNCTION IF EXISTS ledger_txn_balanced()",
]


def _run(statements: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        vendor = schema_editor.connection.vendor
        if vendor not in statements:
            raise RuntimeError(
                f"the ledger guards are written for SQLite and PostgreSQL, not {vendor}"
            )
        for sql in statements[vendor]:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0005_billing")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
