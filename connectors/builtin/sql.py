"""SQL databases (PostgreSQL, MySQL/MariaDB) of in-house legacy systems, read only.

Streams are the tables (all base tables and views the user can see, or the ones listed
in ``tables``) and the configured read-only ``queries``. Each stream is read with keyset
pagination: ordered by ``(cursor_field, primary key)`` when it has a cursor field (an
updated-at column, or an increasing id), by the primary key otherwise, one
``LIMIT page_size`` statement per page and a checkpoint ``{"cursor": [values]}`` after
each page. So a run killed half way resumes after the last page stored, and the next run
of an incremental stream reads only rows whose cursor moved past the last one read.

Rows whose cursor column is NULL cannot be followed incrementally: they are read (by
primary key) at the start of a full refresh only. A stream without a cursor field is read
whole on every run (its last checkpoint says "start again").

Nothing is written to the source: every statement runs in a read-only transaction
(``default_transaction_read_only`` on PostgreSQL, ``SET SESSION TRANSACTION READ ONLY``
on MySQL/MariaDB), and a configured query must be one ``SELECT`` (or ``WITH ... SELECT``)
statement without data-changing or locking clauses. Table and column names come from
``information_schema`` and are quoted as identifiers; user text is never put into a
statement unchecked (queries are wrapped as a sub-select after the check). Give the
connector a database user that can only read, all the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import sqlparse
from sqlparse import tokens as T

from connectors.registries import (
    CheckResult,
    ConfigError,
    ConnectorError,
    ConnectorType,
    RecordMessage,
    SourceSystemError,
    StateMessage,
    Stream,
    StreamField,
    TransientError,
)

CONNECT_TIMEOUT = 10
STATEMENT_TIMEOUT_S = 300
DEFAULT_PAGE = 1000
CURSOR_CANDIDATES = ("updated_at", "modified_at", "write_date", "last_modified", "updated")

# Words that make a statement do something else than read.
_FORBIDDEN = {
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "REPLACE",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "RENAME",
    "GRANT",
    "REVOKE",
    "INTO",
    "LOCK",
    "SHARE",
    "CALL",
    "EXEC",
    "EXECUTE",
    "COPY",
    "DO",
    "HANDLER",
    "LOAD",
    "OUTFILE",
    "DUMPFILE",
    "VACUUM",
    "NOTIFY",
    "LISTEN",
    "PREPARE",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "BEGIN",
    "START",
    "SET",
    "RESET",
}


def check_read_only_query(text: str) -> str:
    """The query, cleaned, if it is one SELECT statement; else ``ConfigError`` saying why."""
    cleaned = text.strip()
    if cleaned.endswith(";"):
        cleaned = cleaned[:-1].rstrip()
    if not cleaned:
        raise ConfigError("The query is empty.")
    statements = [s for s in sqlparse.parse(cleaned) if str(s).strip()]
    if len(statements) != 1:
        raise ConfigError("A query must be exactly one statement (no ';' inside).")
    words = [
        t
        for t in statements[0].flatten()  # type: ignore[no-untyped-call]
        if not t.is_whitespace and t.ttype not in T.Comment and t.ttype not in T.Comment.Single
    ]
    words = [t for t in words if not (t.ttype is not None and t.ttype in T.Comment)]
    if not words:
        raise ConfigError("The query is empty.")
    first = words[0]
    if first.ttype not in (T.Keyword.DML, T.Keyword.CTE) or first.value.upper() not in (
        "SELECT",
        "WITH",
    ):
        raise ConfigError("A query must start with SELECT or WITH: the connector only reads.")
    for token in words:
        if token.ttype is not None and token.ttype in T.Punctuation and token.value == ";":
            raise ConfigError("A query must be exactly one statement (no ';' inside).")
        if token.ttype is not None and token.ttype in T.Keyword:
            word = token.value.upper()
            if word in _FORBIDDEN:
                raise ConfigError(
                    f"A query may only read: {word} is not allowed "
                    "(no writes, locking clauses, SELECT INTO or session changes;"
                    " quote a column that has this name)."
                )
    return cleaned


# --- configuration ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """A stream's origin: a table (quoted from discovered names) or a checked query."""

    table: str | None = None
    query: str | None = None
    nullable_cursor: bool = True


def _names(value: Any) -> tuple[str, ...]:
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ConfigError("A primary key is a column name or a list of column names.")


def _table_settings(config: Mapping[str, Any]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """(the tables listed, all if empty; per-table primary key and cursor overrides)."""
    listed: list[str] = []
    for name in config.get("tables") or []:
        if not isinstance(name, str) or not name:
            raise ConfigError("Each table is a table or view name.")
        if name in listed:
            raise ConfigError(f"The table {name!r} is listed twice.")
        listed.append(name)
    settings: dict[str, dict[str, Any]] = {}
    for item in config.get("table_settings") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError("Each table setting needs the table's name.")
        if item["name"] in settings:
            raise ConfigError(f"The table {item['name']!r} has two settings.")
        settings[item["name"]] = item
    return listed, settings


def _queries(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    queries: dict[str, dict[str, Any]] = {}
    for item in config.get("queries") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError("Each query needs a name.")
        name = item["name"]
        if name in queries:
            raise ConfigError(f"Two queries are named {name!r}.")
        if not isinstance(item.get("sql"), str):
            raise ConfigError(f"The query {name!r} has no SQL.")
        try:
            cleaned = check_read_only_query(item["sql"])
        except ConfigError as exc:
            raise ConfigError(f"Query {name!r}: {exc.message}") from None
        if not _names(item.get("primary_key")):
            raise ConfigError(f"The query {name!r} needs a primary_key (column names).")
        queries[name] = {**item, "sql": cleaned}
    return queries


def _engine(config: Mapping[str, Any]) -> str:
    engine = config.get("engine")
    if engine not in ("postgresql", "mysql"):
        raise ConfigError("The engine must be postgresql or mysql.")
    return str(engine)


def _port(config: Mapping[str, Any]) -> int:
    default = 5432 if config.get("engine") == "postgresql" else 3306
    port = config.get("port") or default
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError("The port must be a number from 1 to 65535.")
    return port


# --- values -----------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """A database value as plain JSON (bytes become None: files are not synced)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _converter(kind: str) -> Callable[[Any], Any]:
    """The conversion for a column of ``kind``: the value the driver usually gives for
    it is tested first (one class check per value), anything else goes the general way."""
    if kind == "boolean":
        return lambda v: None if v is None else bool(v)
    if kind == "integer":
        return lambda v: v if v is None or type(v) is int else _json_value(v)
    if kind == "string":
        return lambda v: v if v is None or type(v) is str else _json_string(v)
    if kind == "number":
        return _number
    if kind == "date":
        return lambda v: v.isoformat() if type(v) is dt.date else _json_value(v)
    if kind == "datetime":
        return _moment
    return _json_value


def _number(value: Any) -> Any:
    if value.__class__ is Decimal:
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    return _json_value(value)


def _moment(value: Any) -> Any:
    if value.__class__ is dt.datetime:
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    return _json_value(value)


def _json_string(value: Any) -> Any:
    converted = _json_value(value)
    return converted if converted is None or isinstance(converted, str) else str(converted)


def _state_value(kind: str, value: Any) -> Any:
    """A checkpoint value (JSON) back into what the driver compares with the column."""
    if value is None:
        return None
    try:
        if kind == "datetime" and isinstance(value, str):
            return dt.datetime.fromisoformat(value.replace("Z", "")).replace(tzinfo=None)
        if kind == "date" and isinstance(value, str):
            return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError("The stored checkpoint is not valid; run a full refresh.") from None
    return value


# --- types -------------------------------------------------------------------------------

_PG_TYPES = {
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "numeric": "number",
    "real": "number",
    "double precision": "number",
    "money": "string",
    "boolean": "boolean",
    "date": "date",
    "timestamp without time zone": "datetime",
    "timestamp with time zone": "datetime",
    "bytea": "",
}
# PostgreSQL type OIDs (for query columns).
_PG_OIDS = {
    16: "boolean",
    20: "integer",
    21: "integer",
    23: "integer",
    700: "number",
    701: "number",
    1700: "number",
    1082: "date",
    1114: "datetime",
    1184: "datetime",
    17: "",
}
_MY_TYPES = {
    "tinyint": "integer",
    "smallint": "integer",
    "mediumint": "integer",
    "int": "integer",
    "integer": "integer",
    "bigint": "integer",
    "year": "integer",
    "decimal": "number",
    "numeric": "number",
    "float": "number",
    "double": "number",
    "date": "date",
    "datetime": "datetime",
    "timestamp": "datetime",
    "binary": "",
    "varbinary": "",
    "tinyblob": "",
    "blob": "",
    "mediumblob": "",
    "longblob": "",
    "bit": "",
    "geometry": "",
}
# pymysql.constants.FIELD_TYPE codes (for query columns).
_MY_CODES = {
    1: "integer",
    2: "integer",
    3: "integer",
    8: "integer",
    9: "integer",
    13: "integer",
    0: "number",
    246: "number",
    4: "number",
    5: "number",
    10: "date",
    7: "datetime",
    12: "datetime",
    249: "",
    250: "",
    251: "",
    252: "",
    16: "",
    255: "",
}


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


# --- engines -----------------------------------------------------------------------------


class _Database:
    """One connection to the source, in read-only mode, with errors translated."""

    engine: str

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def columns_of(self, sql: str) -> list[tuple[str, str]]:
        raise NotImplementedError

    def quote(self, name: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def catalog(
        self, only: Sequence[str]
    ) -> tuple[dict[str, list[tuple[str, str, bool]]], dict[str, list[str]]]:
        """{table: [(column, type, nullable)]}, {table: [primary key columns]}."""
        raise NotImplementedError

    def keyset(self, keys: Sequence[str], count: int) -> str:
        """``WHERE`` condition: the row key after the given key values."""
        raise NotImplementedError


def _translate_pg(exc: Exception) -> ConnectorError:
    import psycopg

    state = getattr(exc, "sqlstate", None) or ""
    text = str(exc)
    lowered = text.lower()
    if (
        state in ("28P01", "28000")
        or "password authentication failed" in lowered
        or ("role" in lowered and "does not exist" in lowered)
    ):
        return ConfigError("PostgreSQL refused the login: wrong user or password.")
    if state == "3D000" or ("database" in lowered and "does not exist" in lowered):
        return ConfigError("PostgreSQL has no such database.")
    if state == "25006":
        return ConfigError("The query tried to write; the connector only reads.")
    if state in ("42P01", "3F000"):
        return ConfigError(f"PostgreSQL has no such table: {text.splitlines()[0]}")
    if state in ("42703", "42601", "42883", "42804", "42P10", "42803"):
        return ConfigError(f"PostgreSQL refused the statement: {text.splitlines()[0]}")
    if state == "42501":
        return ConfigError(f"The user may not read this: {text.splitlines()[0]}")
    if state in ("57014", "40001", "40P01", "55P03", "53300", "57P03", "57P01"):
        return TransientError(f"PostgreSQL is busy: {text.splitlines()[0]}")
    if isinstance(exc, psycopg.OperationalError):
        first = text.splitlines()[0] if text else exc.__class__.__name__
        return TransientError(f"PostgreSQL is not reachable: {first}")
    return SourceSystemError(f"PostgreSQL error: {text.splitlines()[0] if text else exc}")


class _Postgres(_Database):
    engine = "postgresql"

    def __init__(self, config: Mapping[str, Any]) -> None:
        import psycopg

        self.schema = str(config.get("schema") or "public")
        options = (
            "-c default_transaction_read_only=on -c TimeZone=UTC "
            f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}"
        )
        try:
            self.conn = psycopg.connect(
                host=str(config.get("host", "")),
                port=_port(config),
                dbname=str(config.get("database", "")),
                user=str(config.get("user", "")),
                password=str(config.get("password") or ""),
                sslmode=str(config.get("sslmode") or "prefer"),
                connect_timeout=CONNECT_TIMEOUT,
                options=options,
                autocommit=True,
                application_name="tack-connector",
            )
        except psycopg.Error as exc:
            raise _translate_pg(exc) from exc

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            with self.conn.cursor() as cur:
                # Prepared: one statement only (the extended protocol refuses a second one).
                cur.execute(sql.encode(), params, prepare=True)
                return list(cur.fetchall())
        except psycopg.Error as exc:
            raise _translate_pg(exc) from exc

    def columns_of(self, sql: str) -> list[tuple[str, str]]:
        import psycopg

        try:
            with self.conn.cursor() as cur:
                escaped = sql.replace("%", "%%")
                checked = f"SELECT * FROM ({escaped}) AS tack_q LIMIT 0"  # noqa: S608 (a checked SELECT)
                cur.execute(checked.encode(), [], prepare=True)
                return [
                    (d.name, _PG_OIDS.get(d.type_code, "string")) for d in cur.description or []
                ]
        except psycopg.Error as exc:
            raise _translate_pg(exc) from exc

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def table_ref(self, table: str) -> str:
        return f"{self.quote(self.schema)}.{self.quote(table)}"

    def catalog(
        self, only: Sequence[str]
    ) -> tuple[dict[str, list[tuple[str, str, bool]]], dict[str, list[str]]]:
        tables = self.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"  # noqa: S608
            " AND table_type IN ('BASE TABLE', 'VIEW')"
            + (" AND table_name = ANY(%s)" if only else "")
            + " ORDER BY table_name",
            (self.schema, list(only)) if only else (self.schema,),
        )
        names = [str(r[0]) for r in tables]
        columns: dict[str, list[tuple[str, str, bool]]] = {n: [] for n in names}
        for table, column, data_type, nullable in self.rows(
            "SELECT table_name, column_name, data_type, is_nullable"
            " FROM information_schema.columns WHERE table_schema = %s AND table_name = ANY(%s)"
            " ORDER BY table_name, ordinal_position",
            (self.schema, names),
        ):
            kind = _PG_TYPES.get(str(data_type), "string")
            if kind:
                columns[table].append((str(column), kind, nullable == "YES"))
        keys: dict[str, list[str]] = {}
        for table, column in self.rows(
            "SELECT tc.table_name, kcu.column_name"
            " FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage kcu"
            "   ON kcu.constraint_schema = tc.constraint_schema"
            "  AND kcu.constraint_name = tc.constraint_name"
            "  AND kcu.table_name = tc.table_name"
            " WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = %s"
            "   AND tc.table_name = ANY(%s)"
            " ORDER BY tc.table_name, kcu.ordinal_position",
            (self.schema, names),
        ):
            keys.setdefault(str(table), []).append(str(column))
        return columns, keys

    def keyset(self, keys: Sequence[str], count: int) -> str:
        columns = ", ".join(self.quote(k) for k in keys)
        marks = ", ".join(["%s"] * count)
        return f"({columns}) > ({marks})"

    def close(self) -> None:
        self.conn.close()


def _translate_my(exc: Exception) -> ConnectorError:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in (1045, 1698):
        return ConfigError("MySQL refused the login: wrong user or password.")
    if code == 1049:
        return ConfigError("MySQL has no such database.")
    if code in (1044, 1142, 1143, 1227):
        return ConfigError(f"The user may not read this: {text}")
    if code == 1792 or code == 1290:
        return ConfigError("The query tried to write; the connector only reads.")
    if code == 1146:
        return ConfigError(f"MySQL has no such table: {text}")
    if code in (1054, 1064, 1060, 1248, 1305, 1630):
        return ConfigError(f"MySQL refused the statement: {text}")
    if code in (1205, 1213, 1040, 1203, 3024, 1969):
        return TransientError(f"MySQL is busy: {text}")
    if code in (2002, 2003, 2005, 2006, 2013, 2055) or code == 0:
        return TransientError(f"MySQL is not reachable: {text}")
    return SourceSystemError(f"MySQL error {code}: {text}")


class _MySQL(_Database):
    engine = "mysql"

    def __init__(self, config: Mapping[str, Any]) -> None:
        import pymysql  # type: ignore[import-untyped]

        self.database = str(config.get("database", ""))
        try:
            self.conn = pymysql.connect(
                host=str(config.get("host", "")),
                port=_port(config),
                user=str(config.get("user", "")),
                password=str(config.get("password") or ""),
                database=self.database,
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=STATEMENT_TIMEOUT_S,
                charset="utf8mb4",
                autocommit=True,
            )
            with self.conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
                cur.execute("SET time_zone = '+00:00'")
        except pymysql.Error as exc:
            raise _translate_my(exc) from exc
        except OSError as exc:
            raise TransientError(f"MySQL is not reachable: {exc}") from exc

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import pymysql

        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, tuple(params))
                return list(cur.fetchall())
        except pymysql.Error as exc:
            raise _translate_my(exc) from exc

    def columns_of(self, sql: str) -> list[tuple[str, str]]:
        import pymysql

        try:
            with self.conn.cursor() as cur:
                cur.execute(f"SELECT * FROM ({sql}) AS tack_q LIMIT 0")  # noqa: S608
                return [(str(d[0]), _MY_CODES.get(d[1], "string")) for d in cur.description or []]
        except pymysql.Error as exc:
            raise _translate_my(exc) from exc

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def table_ref(self, table: str) -> str:
        return f"{self.quote(self.database)}.{self.quote(table)}"

    def catalog(
        self, only: Sequence[str]
    ) -> tuple[dict[str, list[tuple[str, str, bool]]], dict[str, list[str]]]:
        marks = ", ".join(["%s"] * len(only))
        tables = self.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"  # noqa: S608
            " AND table_type IN ('BASE TABLE', 'VIEW')"
            + (f" AND table_name IN ({marks})" if only else "")
            + " ORDER BY table_name",
            (self.database, *only),
        )
        names = [str(r[0]) for r in tables]
        columns: dict[str, list[tuple[str, str, bool]]] = {n: [] for n in names}
        keys: dict[str, list[str]] = {}
        if not names:
            return columns, keys
        marks = ", ".join(["%s"] * len(names))
        for table, column, data_type, column_type, nullable in self.rows(
            "SELECT table_name, column_name, data_type, column_type, is_nullable"  # noqa: S608
            " FROM information_schema.columns"
            f" WHERE table_schema = %s AND table_name IN ({marks})"
            " ORDER BY table_name, ordinal_position",
            (self.database, *names),
        ):
            data_type = str(data_type).lower()
            kind = _MY_TYPES.get(data_type, "string")
            if str(column_type).lower().startswith("tinyint(1)"):
                kind = "boolean"
            if kind:
                columns[str(table)].append((str(column), kind, nullable == "YES"))
        for table, column in self.rows(
            "SELECT table_name, column_name FROM information_schema.key_column_usage"  # noqa: S608
            f" WHERE table_schema = %s AND constraint_name = 'PRIMARY' AND table_name IN ({marks})"
            " ORDER BY table_name, ordinal_position",
            (self.database, *names),
        ):
            keys.setdefault(str(table), []).append(str(column))
        return columns, keys

    def keyset(self, keys: Sequence[str], count: int) -> str:
        # (a, b) > (x, y) written out: MySQL uses indexes for this form.
        parts = []
        for i in range(len(keys)):
            equal = [f"{self.quote(k)} = %s" for k in keys[:i]]
            parts.append("(" + " AND ".join([*equal, f"{self.quote(keys[i])} > %s"]) + ")")
        return "(" + " OR ".join(parts) + ")"

    def keyset_params(self, values: Sequence[Any]) -> list[Any]:
        params: list[Any] = []
        for i in range(len(values)):
            params += [*values[:i], values[i]]
        return params

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already closed or broken: nothing to release
            self.conn.close()


def _connect(config: Mapping[str, Any]) -> _Postgres | _MySQL:
    from connectors.netpolicy import check_host
    from core.errors import ValidationFailed
    from core.netguard import UnresolvableHost

    engine = _engine(config)
    host = config.get("host")
    if not isinstance(host, str) or not host.strip():
        raise ConfigError("The host is required.")
    if not isinstance(config.get("database"), str) or not config["database"]:
        raise ConfigError("The database is required.")
    if not isinstance(config.get("user"), str) or not config["user"]:
        raise ConfigError("The user is required.")
    try:
        check_host(host, _port(config))
    except UnresolvableHost as exc:
        raise TransientError(exc.message) from exc
    except ValidationFailed as exc:
        raise ConfigError(exc.message) from exc
    return _Postgres(config) if engine == "postgresql" else _MySQL(config)


# --- the connector -------------------------------------------------------------------------


class SQLConnector(ConnectorType):
    type = "sql"
    label = "SQL database"
    description = "Tables and read-only queries from PostgreSQL or MySQL/MariaDB."
    #: ``read`` touches no Django database: the sync engine reads ahead in a thread.
    read_ahead: ClassVar[bool] = True

    def spec(self) -> dict[str, Any]:
        column_names = {
            "oneOf": [
                {"type": "string", "minLength": 1, "maxLength": 200},
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 8,
                    "items": {"type": "string", "minLength": 1, "maxLength": 200},
                },
            ]
        }
        cursor = {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "title": "Cursor column",
            "description": "An updated-at column or an increasing id, for incremental syncs.",
        }
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": False,
            "required": ["engine", "host", "database", "user"],
            "properties": {
                "engine": {"enum": ["postgresql", "mysql"], "title": "Database engine"},
                "host": {"type": "string", "minLength": 1, "maxLength": 255, "title": "Host"},
                "port": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 65535,
                    "title": "Port",
                    "description": "5432 for PostgreSQL, 3306 for MySQL/MariaDB if empty.",
                },
                "database": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 128,
                    "title": "Database",
                },
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 128,
                    "default": "public",
                    "title": "Schema (PostgreSQL)",
                },
                "user": {"type": "string", "minLength": 1, "maxLength": 128, "title": "User"},
                "password": {
                    "type": "string",
                    "maxLength": 200,
                    "title": "Password",
                    "x-secret": True,
                    "writeOnly": True,
                },
                "sslmode": {
                    "enum": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
                    "default": "prefer",
                    "title": "SSL mode (PostgreSQL)",
                },
                "tables": {
                    "type": "array",
                    "maxItems": 500,
                    "title": "Tables",
                    "description": "Tables or views to offer as streams (all if empty).",
                    "items": {"type": "string", "minLength": 1, "maxLength": 200},
                },
                "table_settings": {
                    "type": "array",
                    "maxItems": 500,
                    "title": "Table settings",
                    "description": "A table's primary key or cursor column, where the "
                    "database does not say or the guess (updated_at, modified_at, "
                    "write_date) is wrong.",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1, "maxLength": 200},
                            "primary_key": column_names,
                            "cursor_field": cursor,
                        },
                    },
                },
                "queries": {
                    "type": "array",
                    "maxItems": 100,
                    "title": "Read-only queries",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "sql", "primary_key"],
                        "properties": {
                            "name": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 100,
                                "pattern": "^[A-Za-z0-9_][A-Za-z0-9_ .-]*$",
                            },
                            "sql": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 20000,
                                "description": "One SELECT (or WITH ... SELECT) statement.",
                            },
                            "primary_key": column_names,
                            "cursor_field": cursor,
                        },
                    },
                },
                "page_size": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 50000,
                    "default": DEFAULT_PAGE,
                },
            },
        }

    # --- streams -------------------------------------------------------------------------

    def _streams(
        self, config: Mapping[str, Any], db: _Postgres | _MySQL
    ) -> list[tuple[Stream, _Source]]:
        listed, tables = _table_settings(config)
        queries = _queries(config)
        columns, keys = db.catalog(listed)
        missing = sorted(set(listed) - set(columns))
        if missing:
            raise ConfigError(f"No such table or view (or not visible to the user): {missing[0]}")
        unknown = sorted(set(tables) - set(columns))
        if unknown:
            raise ConfigError(f"Table settings name a table that is not a stream: {unknown[0]}")
        found: list[tuple[Stream, _Source]] = []
        for table, cols in columns.items():
            settings = tables.get(table, {})
            names = {c[0] for c in cols}
            pk = _names(settings.get("primary_key")) or tuple(keys.get(table, ()))
            cursor_field = settings.get("cursor_field")
            if cursor_field is None:
                cursor_field = next(
                    (
                        c[0]
                        for name in CURSOR_CANDIDATES
                        for c in cols
                        if c[0].lower() == name and c[1] in ("datetime", "date")
                    ),
                    None,
                )
            for column in (*pk, *([cursor_field] if cursor_field else [])):
                if column not in names:
                    raise ConfigError(f"The table {table!r} has no column {column!r}.")
            nullable = any(c[2] for c in cols if c[0] == cursor_field)
            found.append(
                (
                    Stream(
                        name=table,
                        label=_label(table),
                        fields=tuple(StreamField(c[0], c[1], _label(c[0])) for c in cols),
                        primary_key=pk,
                        cursor_field=cursor_field,
                    ),
                    _Source(table=table, nullable_cursor=nullable),
                )
            )
        for name, query in queries.items():
            if name in columns:
                raise ConfigError(f"The query {name!r} has the same name as a table.")
            described = [(n, k) for n, k in db.columns_of(query["sql"]) if k]
            names = {n for n, _k in described}
            pk = _names(query.get("primary_key"))
            cursor_field = query.get("cursor_field") or None
            for column in (*pk, *([cursor_field] if cursor_field else [])):
                if column not in names:
                    raise ConfigError(f"The query {name!r} has no column {column!r}.")
            found.append(
                (
                    Stream(
                        name=name,
                        label=_label(name),
                        fields=tuple(StreamField(n, k, _label(n)) for n, k in described),
                        primary_key=pk,
                        cursor_field=cursor_field,
                    ),
                    _Source(query=query["sql"]),
                )
            )
        return found

    def check(self, config: Mapping[str, Any]) -> CheckResult:
        db = _connect(config)
        try:
            streams = self._streams(config, db)
        finally:
            db.close()
        return CheckResult(True, f"Connected; {len(streams)} streams.")

    def discover(self, config: Mapping[str, Any]) -> list[Stream]:
        db = _connect(config)
        try:
            return [stream for stream, _source in self._streams(config, db)]
        finally:
            db.close()

    # --- reading -------------------------------------------------------------------------

    def read(
        self,
        config: Mapping[str, Any],
        stream: Stream,
        state: Mapping[str, Any] | None,
        *,
        batch_size: int = 500,
    ) -> Iterator[RecordMessage | StateMessage]:
        page = int(config.get("page_size") or batch_size or DEFAULT_PAGE)
        db = _connect(config)
        try:
            yield from self._read(db, config, stream, state, page)
        finally:
            db.close()

    def _read(
        self,
        db: _Postgres | _MySQL,
        config: Mapping[str, Any],
        stream: Stream,
        state: Mapping[str, Any] | None,
        page: int,
    ) -> Iterator[RecordMessage | StateMessage]:
        sources = {s.name: src for s, src in self._streams(config, db)}
        if stream.name not in sources:
            raise ConfigError(f"The database has no stream {stream.name!r}.")
        source = sources[stream.name]
        if not stream.primary_key:
            raise ConfigError(
                f"{stream.name!r} has no primary key: set primary_key in the configuration."
            )
        kinds = {f.name: f.type for f in stream.fields}
        columns = list(kinds)
        converters = [_converter(kinds[c]) for c in columns]
        select = ", ".join(db.quote(c) for c in columns)
        if source.table is not None:
            origin = f"{db.table_ref(source.table)} AS tack_t"
        else:
            # Placeholders are %s: a literal % in the query is written %%.
            origin = f"({str(source.query).replace('%', '%%')}) AS tack_t"
        pk = list(stream.primary_key)
        cursor = stream.cursor_field
        order = ([cursor] if cursor else []) + [k for k in pk if k != cursor]
        key_at = [columns.index(k) for k in order]
        pk_at = [columns.index(k) for k in pk]
        state = dict(state or {})

        def page_sql(where: list[str], keys: list[str]) -> str:
            condition = f" WHERE {' AND '.join(where)}" if where else ""
            ordering = ", ".join(db.quote(k) for k in keys)
            # Quoted discovered names, a checked query, placeholders and an integer only.
            return f"SELECT {select} FROM {origin}{condition} ORDER BY {ordering} LIMIT {page}"  # noqa: S608

        def after(keys: list[str], values: list[Any]) -> tuple[str, list[Any]]:
            decoded = [_state_value(kinds[k], v) for k, v in zip(keys, values, strict=True)]
            if isinstance(db, _MySQL):
                return db.keyset(keys, len(keys)), db.keyset_params(decoded)
            return db.keyset(keys, len(keys)), decoded

        def records(rows: list[tuple[Any, ...]]) -> Iterator[RecordMessage]:
            for row in rows:
                yield RecordMessage(
                    {c: f(v) for c, f, v in zip(columns, converters, row, strict=True)}
                )

        # Rows whose cursor is NULL: by primary key, at the start of a full read only.
        if cursor and source.nullable_cursor and ("cursor" not in state):
            last = state.get("nulls_after")
            while True:
                where = [f"{db.quote(cursor)} IS NULL"]
                params: list[Any] = []
                if last is not None:
                    condition, params = after(pk, list(last))
                    where.append(condition)
                rows = db.rows(page_sql(where, pk), params)
                yield from records(rows)
                if rows:
                    last = [_json_value(rows[-1][i]) for i in pk_at]
                    yield StateMessage({"nulls_after": last})
                if len(rows) < page:
                    break
            state = {"cursor": None}
        position = state.get("cursor")
        while True:
            where = [f"{db.quote(cursor)} IS NOT NULL"] if cursor else []
            params = []
            if position is not None:
                if not isinstance(position, list) or len(position) != len(order):
                    raise ConfigError("The stored checkpoint is not valid; run a full refresh.")
                condition, params = after(order, position)
                where.append(condition)
            rows = db.rows(page_sql(where, order), params)
            yield from records(rows)
            if rows:
                position = [_json_value(rows[-1][i]) for i in key_at]
                yield StateMessage({"cursor": position})
            if len(rows) < page:
                break
        if not cursor:
            # Not incremental: the next run reads the whole table again.
            yield StateMessage({"cursor": None, "complete": True})
