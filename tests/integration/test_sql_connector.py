"""The SQL connector against a real PostgreSQL and a real MariaDB.

Each test gets a throwaway source database (``tack_sql_src_<pid>``, dropped afterwards) on
the local PostgreSQL and MariaDB, fills it with plain SQL, and syncs it through
``do_create_connection`` -> ``do_create_form_from_stream`` -> ``do_request_sync`` ->
``run_sync``: check and bad logins, discovery, full then incremental syncs (on an
updated-at column and on an increasing id), a query stream, queries that would write
refused (by the check and by the read-only transaction), and a sync killed half way.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.actions import (
    do_check_connection,
    do_create_connection,
    do_create_form_from_stream,
    do_request_sync,
)
from connectors.builtin.sql import check_read_only_query
from connectors.models import SyncedRecord, SyncRun
from connectors.registries import (
    ConfigError,
    RecordMessage,
    TransientError,
    connector_registry,
)
from connectors.sync import run_sync
from core.errors import ValidationFailed
from lowcode.actions import do_create_app
from lowcode.models import Record

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SOURCE_DB = f"tack_sql_src_{os.getpid()}"
BASE = dt.datetime(2026, 1, 5, 8, 0, 0)

DDL = {
    "postgresql": [
        "CREATE TABLE customer (id serial PRIMARY KEY, name varchar(100) NOT NULL,"
        " balance numeric(12, 2), vip boolean NOT NULL DEFAULT false, born date,"
        " updated_at timestamp NOT NULL, photo bytea)",
        "CREATE TABLE event_log (id bigserial PRIMARY KEY, message text NOT NULL)",
        "CREATE VIEW vip_view AS SELECT id, name FROM customer WHERE vip",
        "CREATE FUNCTION tack_bump() RETURNS int LANGUAGE sql AS"
        " $$ UPDATE customer SET name = 'hacked' WHERE id = 1 RETURNING 1 $$",
    ],
    "mysql": [
        "CREATE TABLE customer (id int AUTO_INCREMENT PRIMARY KEY, name varchar(100) NOT NULL,"
        " balance decimal(12, 2), vip tinyint(1) NOT NULL DEFAULT 0, born date,"
        " updated_at datetime(6) NOT NULL, photo blob)",
        "CREATE TABLE event_log (id bigint AUTO_INCREMENT PRIMARY KEY, message text NOT NULL)",
        "CREATE VIEW vip_view AS SELECT id, name FROM customer WHERE vip",
        "CREATE FUNCTION tack_bump() RETURNS int MODIFIES SQL DATA"
        " BEGIN UPDATE customer SET name = 'hacked' WHERE id = 1; RETURN 1; END",
    ],
}


@dataclass
class Source:
    engine: str
    config: dict[str, Any]
    connection: Any

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with self.connection.cursor() as cur:
            cur.execute(sql, params)

    def scalar(self, sql: str) -> Any:
        with self.connection.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]

    def add_customers(self, count: int, start: int = 0) -> None:
        for i in range(start, start + count):
            self.execute(
                "INSERT INTO customer (name, balance, vip, born, updated_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (
                    f"Customer {i:02d}",
                    f"{i * 10}.50",
                    i % 3 == 0,
                    dt.date(1990, 1, 1) + dt.timedelta(days=i),
                    BASE + dt.timedelta(seconds=i),
                ),
            )


def _service(name: str, connect: Any) -> Any:
    """A connection to a local source database; without one, skip on a bare machine
    (``make test`` needs no services) but fail in CI (``TACK_REQUIRE_SERVICES=1``)."""
    try:
        return connect()
    except Exception as exc:
        message = f"{name} is not reachable on 127.0.0.1 (make services): {exc}"
        if os.environ.get("TACK_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _postgres() -> Iterator[Source]:
    import psycopg

    admin = _service(
        "PostgreSQL",
        lambda: psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=3
        ),
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{SOURCE_DB}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{SOURCE_DB}"')
    conn = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{SOURCE_DB}", autocommit=True)
    for statement in DDL["postgresql"]:
        conn.execute(statement)
    config = {
        "engine": "postgresql",
        "host": "127.0.0.1",
        "port": 5432,
        "database": SOURCE_DB,
        "user": "postgres",
        "password": "",
        "sslmode": "disable",
    }
    try:
        yield Source("postgresql", config, conn)
    finally:
        conn.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{SOURCE_DB}" WITH (FORCE)')
        admin.close()


def _mariadb() -> Iterator[Source]:
    import pymysql

    conn = _service(
        "MariaDB",
        lambda: pymysql.connect(
            host="127.0.0.1", port=3306, user="root", autocommit=True, connect_timeout=3
        ),
    )
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{SOURCE_DB}`")
        cur.execute(f"CREATE DATABASE `{SOURCE_DB}`")
        cur.execute(f"USE `{SOURCE_DB}`")
        for statement in DDL["mysql"]:
            cur.execute(statement)
    config = {
        "engine": "mysql",
        "host": "127.0.0.1",
        "port": 3306,
        "database": SOURCE_DB,
        "user": "root",
        "password": "",
    }
    try:
        yield Source("mysql", config, conn)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{SOURCE_DB}`")
        conn.close()


@pytest.fixture(params=["postgresql", "mysql"])
def source(request: pytest.FixtureRequest) -> Iterator[Source]:
    yield from (_postgres() if request.param == "postgresql" else _mariadb())


@pytest.fixture
def pg_source() -> Iterator[Source]:
    yield from _postgres()


def _connection(owner, source: Source, **config):
    return do_create_connection(
        owner, type="sql", name="Legacy DB", config={**source.config, **config}
    )


def _sync(owner, connection, django_capture_on_commit_callbacks) -> SyncRun:
    with django_capture_on_commit_callbacks(execute=False):
        run, created = do_request_sync(owner, connection)
    assert created
    return run_sync(run.pk)


def _rows(form) -> dict[Any, dict[str, Any]]:
    return {
        r.data["ext_id"]: r.data for r in Record.objects.filter(form=form, deleted_at__isnull=True)
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- check -----------------------------------------------------------------------------


def test_check_ok_and_clear_errors_for_bad_settings(source, owner):
    connector = connector_registry.get("sql")
    connection = _connection(owner, source)
    checked = do_check_connection(owner, connection)
    assert checked.last_check_ok is True, checked.last_check_message
    assert "3 streams" in checked.last_check_message

    if source.engine == "postgresql":  # trust authentication: an unknown user is refused
        bad_login = {**source.config, "user": "nobody_here"}
    else:
        bad_login = {**source.config, "password": "wrong-password"}
    with pytest.raises(ConfigError, match="wrong user or password"):
        connector.check(bad_login)
    with pytest.raises(TransientError, match="not reachable"):
        connector.check({**source.config, "port": _free_port()})
    with pytest.raises(ConfigError, match="no such database"):
        connector.check({**source.config, "database": "tack_sql_missing_db"})
    with pytest.raises(ConfigError, match="no_such_table"):
        connector.check({**source.config, "tables": ["customer", "no_such_table"]})
    with pytest.raises(ConfigError, match="has no column 'changed_on'"):
        connector.check(
            {
                **source.config,
                "table_settings": [{"name": "customer", "cursor_field": "changed_on"}],
            }
        )

    stored = _connection(owner, source, user="nobody_here", password="wrong-password")
    failed = do_check_connection(owner, stored)
    assert failed.last_check_ok is False
    assert "wrong user or password" in failed.last_check_message

    with pytest.raises(ValidationFailed) as invalid:
        do_create_connection(
            owner, type="sql", name="Bad", config={**source.config, "engine": "oracle"}
        )
    assert "config.engine" in invalid.value.fields


def test_password_is_kept_secret(pg_source, owner):
    connection = _connection(owner, pg_source, password="s3cret-pass")
    assert "password" not in connection.config
    assert "s3cret-pass" not in connection.secrets


# --- discover --------------------------------------------------------------------------


def test_discover_types_primary_keys_and_cursor(source):
    connector = connector_registry.get("sql")
    streams = {s.name: s for s in connector.discover(source.config)}
    assert set(streams) == {"customer", "event_log", "vip_view"}
    customer = streams["customer"]
    assert {f.name: f.type for f in customer.fields} == {
        "id": "integer",
        "name": "string",
        "balance": "number",
        "vip": "boolean",
        "born": "date",
        "updated_at": "datetime",
        # photo (binary) is not offered
    }
    assert customer.primary_key == ("id",)
    assert customer.cursor_field == "updated_at"
    assert streams["event_log"].cursor_field is None
    assert streams["event_log"].primary_key == ("id",)
    view = streams["vip_view"]
    assert (view.primary_key, view.cursor_field) == ((), None)  # a view has no key
    with pytest.raises(ConfigError, match="no primary key"):
        list(connector.read(source.config, view, None))
    keyed = {**source.config, "table_settings": [{"name": "vip_view", "primary_key": "id"}]}
    assert connector.stream(keyed, "vip_view").primary_key == ("id",)
    source.add_customers(4)
    messages = connector.read(keyed, connector.stream(keyed, "vip_view"), None)
    assert [m.data for m in messages if isinstance(m, RecordMessage)] == [
        {"id": 1, "name": "Customer 00"},
        {"id": 4, "name": "Customer 03"},
    ]
    with pytest.raises(ConfigError, match="not a stream: nowhere"):
        connector.discover({**source.config, "table_settings": [{"name": "nowhere"}]})

    only = connector.discover(
        {
            **source.config,
            "tables": ["event_log"],
            "table_settings": [{"name": "event_log", "cursor_field": "id"}],
        }
    )
    assert [(s.name, s.cursor_field) for s in only] == [("event_log", "id")]


# --- sync ------------------------------------------------------------------------------


def test_full_sync_then_only_changed_and_new_rows_come_through(
    source, owner, django_capture_on_commit_callbacks
):
    source.add_customers(30)
    connection = _connection(owner, source, tables=["customer"], page_size=10)
    destination = do_create_form_from_stream(
        owner, connection, stream="customer", app=do_create_app(owner, name="CRM")
    )
    form = destination.form

    first = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert first.state == SyncRun.State.SUCCEEDED, first.error_message
    assert (first.read_count, first.created_count, first.failed_count) == (30, 30, 0)
    rows = _rows(form)
    assert len(rows) == 30
    assert rows[4] == {
        "ext_id": 4,
        "ext_name": "Customer 03",
        "ext_balance": 30.5,
        "ext_vip": True,
        "ext_born": "1990-01-04",
        "ext_updated_at": "2026-01-05T08:00:03Z",
    }

    source.execute(
        "UPDATE customer SET name = %s, updated_at = %s WHERE id = 7",
        ("Customer 06 (renamed)", BASE + dt.timedelta(hours=1)),
    )
    source.add_customers(1, start=99)

    second = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert second.state == SyncRun.State.SUCCEEDED, second.error_message
    assert (second.read_count, second.created_count, second.updated_count) == (2, 1, 1)
    rows = _rows(form)
    assert len(rows) == 31
    assert rows[7]["ext_name"] == "Customer 06 (renamed)"
    assert rows[31]["ext_name"] == "Customer 99"

    third = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert (third.read_count, third.created_count, third.updated_count) == (0, 0, 0)


def test_incremental_on_an_increasing_id(source, owner, django_capture_on_commit_callbacks):
    for i in range(25):
        source.execute("INSERT INTO event_log (message) VALUES (%s)", (f"event {i}",))
    connection = _connection(
        owner,
        source,
        tables=["event_log"],
        table_settings=[{"name": "event_log", "cursor_field": "id"}],
        page_size=10,
    )
    destination = do_create_form_from_stream(
        owner, connection, stream="event_log", app=do_create_app(owner, name="Ops")
    )
    first = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert (first.state, first.read_count, first.created_count) == (
        SyncRun.State.SUCCEEDED,
        25,
        25,
    )
    for i in range(25, 28):
        source.execute("INSERT INTO event_log (message) VALUES (%s)", (f"event {i}",))
    second = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert (second.read_count, second.created_count) == (3, 3)
    rows = _rows(destination.form)
    assert len(rows) == 28
    assert [rows[i]["ext_message"] for i in (26, 27, 28)] == ["event 25", "event 26", "event 27"]


def test_table_without_cursor_is_read_whole_each_run(
    pg_source, owner, django_capture_on_commit_callbacks
):
    for i in range(12):
        pg_source.execute("INSERT INTO event_log (message) VALUES (%s)", (f"event {i}",))
    connection = _connection(owner, pg_source, tables=["event_log"], page_size=5)
    destination = do_create_form_from_stream(
        owner, connection, stream="event_log", app=do_create_app(owner, name="Ops")
    )
    first = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert (first.read_count, first.created_count) == (12, 12)
    pg_source.execute("UPDATE event_log SET message = 'changed' WHERE id = 2")
    second = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert (second.read_count, second.updated_count, second.unchanged_count) == (12, 1, 11)
    assert _rows(destination.form)[2]["ext_message"] == "changed"


def test_query_stream(source, owner, django_capture_on_commit_callbacks):
    source.add_customers(20)
    query = {
        "name": "vip_customers",
        "sql": "SELECT id, name, balance, updated_at FROM customer"
        " WHERE vip AND name LIKE 'Customer%' ORDER BY name;",
        "primary_key": "id",
        "cursor_field": "updated_at",
    }
    connection = _connection(owner, source, tables=["customer"], queries=[query], page_size=3)
    stream = connector_registry.get("sql").stream(
        {**source.config, "queries": [query]}, "vip_customers"
    )
    assert [f.name for f in stream.fields] == ["id", "name", "balance", "updated_at"]
    assert stream.cursor_field == "updated_at"
    destination = do_create_form_from_stream(
        owner, connection, stream="vip_customers", app=do_create_app(owner, name="Sales")
    )
    run = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert run.state == SyncRun.State.SUCCEEDED, run.error_message
    expected = {i + 1 for i in range(20) if i % 3 == 0}
    assert set(_rows(destination.form)) == expected
    assert run.read_count == len(expected)


# --- read only -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM customer",
        "UPDATE customer SET name = 'x'",
        "INSERT INTO customer (name) VALUES ('x')",
        "SELECT 1; DROP TABLE customer",
        "SELECT 1 AS id; SELECT 2 AS id",
        "WITH gone AS (DELETE FROM customer RETURNING id) SELECT id FROM gone",
        "SELECT id FROM customer FOR UPDATE",
        "SELECT id FROM customer FOR SHARE",
        "SELECT id FROM customer LOCK IN SHARE MODE",
        "SELECT * INTO copy_of_customer FROM customer",
        "SELECT id FROM customer INTO OUTFILE '/tmp/x'",
        "TRUNCATE customer",
        "CALL do_something()",
        "SET default_transaction_read_only = off",
        "   ",
        "-- only a comment",
    ],
)
def test_queries_that_are_not_read_only_are_refused(sql):
    with pytest.raises(ConfigError):
        check_read_only_query(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id, name FROM customer WHERE name = 'DELETE me; now'",
        'SELECT "update" FROM t',
        "WITH recent AS (SELECT id FROM customer) SELECT id FROM recent;",
        "select replace(name, 'a', 'b') AS id from customer -- DROP TABLE x",
    ],
)
def test_read_only_queries_are_accepted(sql):
    assert check_read_only_query(sql).lower().startswith(("select", "with"))


def test_write_query_is_refused_by_check_and_by_the_read_only_transaction(source, owner):
    source.add_customers(3)
    connector = connector_registry.get("sql")
    bad = [{"name": "wipe", "sql": "DELETE FROM customer", "primary_key": "id"}]
    connection = _connection(owner, source, queries=bad)
    checked = do_check_connection(owner, connection)
    assert checked.last_check_ok is False
    assert "wipe" in checked.last_check_message and "SELECT" in checked.last_check_message

    # Looks like a read, but the function it calls writes: the transaction refuses it.
    sneaky = {
        **source.config,
        "queries": [{"name": "bump", "sql": "SELECT tack_bump() AS id", "primary_key": "id"}],
    }
    with pytest.raises(ConfigError, match="tried to write"):
        # MariaDB runs the function already when describing the query; PostgreSQL on read.
        list(connector.read(sneaky, connector.stream(sneaky, "bump"), None))
    assert source.scalar("SELECT name FROM customer WHERE id = 1") == "Customer 00"
    assert source.scalar("SELECT count(*) FROM customer") == 3


def test_a_second_statement_is_refused_by_the_server_even_unchecked(source):
    from connectors.builtin.sql import _connect

    db = _connect(source.config)
    try:
        with pytest.raises(ConfigError):
            db.rows("SELECT 1; DROP TABLE event_log")
        with pytest.raises(ConfigError):
            db.columns_of("SELECT 1 AS id; DROP TABLE event_log")
    finally:
        db.close()
    assert source.scalar("SELECT count(*) FROM event_log") == 0  # still there


# --- interruption ----------------------------------------------------------------------


def test_interrupted_sync_resumes_without_duplicates_or_gaps(
    source, owner, monkeypatch, django_capture_on_commit_callbacks
):
    from connectors import sync

    source.add_customers(45)
    connection = _connection(owner, source, tables=["customer"], page_size=10)
    destination = do_create_form_from_stream(
        owner, connection, stream="customer", app=do_create_app(owner, name="CRM")
    )
    real_write, calls = sync._write_batch, {"n": 0}

    def dying_write(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")  # mid-run, after two committed pages
        return real_write(*args, **kwargs)

    monkeypatch.setattr(sync, "_write_batch", dying_write)
    with django_capture_on_commit_callbacks(execute=False):
        run, _ = do_request_sync(owner, connection)
    with pytest.raises(SystemExit):
        run_sync(run.pk)
    assert Record.objects.filter(form=destination.form).count() == 20  # two pages stored
    monkeypatch.setattr(sync, "_write_batch", real_write)
    resumed = run_sync(run.pk)  # the task redelivered to another worker
    assert resumed.state == SyncRun.State.SUCCEEDED, resumed.error_message
    assert resumed.attempt == 2
    assert resumed.read_count == 45  # the third page was read again, nothing more
    assert Record.objects.filter(form=destination.form).count() == 45
    external = list(
        SyncedRecord.objects.filter(destination=destination).values_list("external_id", flat=True)
    )
    assert len(external) == len(set(external)) == 45
    assert set(_rows(destination.form)) == set(range(1, 46))
