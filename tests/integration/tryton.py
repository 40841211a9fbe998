"""A real Tryton server for the connector tests (trytond from the package registry).

The database is initialised once (``trytond-admin --all`` with party, product, sale and
sale_opportunity, then a company, currency, employee and product made through Tryton's
own RPC) and cached under ``var/cache/``; each test session copies the cached SQLite file
and serves it with ``trytond`` on a free port.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULES = ["party", "product", "sale", "sale_opportunity"]
DATABASE = "tack"
USER = "admin"
PASSWORD = "tryton-admin-password"


@dataclass
class TrytonServer:
    url: str
    database: str = DATABASE
    username: str = USER
    password: str = PASSWORD
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def config(self) -> dict[str, str]:
        return {
            "url": self.url,
            "database": self.database,
            "username": self.username,
            "password": self.password,
        }

    def client(self):  # type: ignore[no-untyped-def]
        from connectors.builtin.tryton import TrytonClient

        return TrytonClient(self.config)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_config(directory: Path, port: int) -> Path:
    conf = directory / "trytond.conf"
    conf.write_text(
        f"[database]\nuri = sqlite://\npath = {directory}\n"
        f"[web]\nlisten = 127.0.0.1:{port}\n"
        "[session]\nmax_attempt = 1000\n"
    )
    return conf


def start(directory: Path) -> TrytonServer:
    port = _free_port()
    conf = _write_config(directory, port)
    log = directory / "trytond.log"
    process = subprocess.Popen(
        [str(BIN / "trytond"), "-c", str(conf), "-d", DATABASE],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=directory,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"trytond exited: {log.read_text()[-2000:]}")
        try:
            requests.post(
                f"{url}/{DATABASE}/",
                json={"id": 0, "method": "common.server.version", "params": []},
                timeout=2,
            )
            return TrytonServer(url=url, process=process, log=log)
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("trytond did not start")


def _seed(server: TrytonServer) -> None:
    """What a real installation has before sales: currency, company, employee, a product."""
    from decimal import Decimal

    c = server.client()
    (currency,) = c.call(
        "currency.currency",
        "create",
        [
            {
                "name": "Yuan Renminbi",
                "code": "CNY",
                "symbol": "¥",
                "rounding": Decimal("0.01"),
                "digits": 2,
            }
        ],
    )
    (company_party, employee_party) = c.call(
        "party.party", "create", [{"name": "Tack Dairy Co."}, {"name": "Sales Rep"}]
    )
    (company,) = c.call(
        "company.company", "create", [{"party": company_party, "currency": currency}]
    )
    (employee,) = c.call(
        "company.employee", "create", [{"party": employee_party, "company": company}]
    )
    (user_id,) = c.call("res.user", "search", [("login", "=", USER)])
    c.call(
        "res.user",
        "write",
        [user_id],
        {
            "companies": [["add", [company]]],
            "company": company,
            "employees": [["add", [employee]]],
            "employee": employee,
        },
    )
    c = server.client()  # a new session: its context now carries the company
    (unit,) = c.call("product.uom", "search", [("symbol", "=", "u")], 0, 1, None)
    c.call(
        "product.template",
        "create",
        [
            {
                "name": "Milk powder 1 kg",
                "type": "goods",
                "default_uom": unit,
                "salable": True,
                "sale_uom": unit,
                "list_price": Decimal("56.00"),
                "products": [["create", [{"suffix_code": "MP-1"}]]],
            }
        ],
    )


def _cache_dir() -> Path:
    import trytond

    key = hashlib.sha256(f"{trytond.__version__}:{','.join(MODULES)}:v1".encode()).hexdigest()
    return ROOT / "var" / "cache" / f"tryton-{key[:12]}"


def cached_database() -> Path:
    """The initialised database file, built on first use (about a minute)."""
    cache = _cache_dir()
    target = cache / f"{DATABASE}.sqlite"
    if target.exists():
        return target
    building = cache.with_name(cache.name + f".building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    (building / f"{DATABASE}.sqlite").touch()
    conf = _write_config(building, _free_port())
    password_file = building / "admin-password"
    password_file.write_text(PASSWORD)
    subprocess.run(
        [
            str(BIN / "trytond-admin"),
            "-c",
            str(conf),
            "-d",
            DATABASE,
            "--all",
            "--email",
            "admin@tack.invalid",
            "-u",
            *MODULES,
            "--activate-dependencies",
        ],
        env={**os.environ, "TRYTONPASSFILE": str(password_file)},
        check=True,
        capture_output=True,
        cwd=building,
    )
    server = start(building)
    try:
        _seed(server)
    finally:
        server.stop()
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(building / f"{DATABASE}.sqlite", target)
    shutil.rmtree(building, ignore_errors=True)
    return target


def tryton_available() -> bool:
    return (BIN / "trytond").exists() and (BIN / "trytond-admin").exists()


@pytest.fixture(scope="session")
def tryton_database() -> Path:
    if not tryton_available():
        pytest.fail("trytond is not installed: make install (it is a dev dependency)")
    return cached_database()


@pytest.fixture
def tryton(tryton_database: Path, tmp_path: Path) -> Iterator[TrytonServer]:
    """A fresh Tryton server per test, on a copy of the cached database."""
    shutil.copyfile(tryton_database, tmp_path / f"{DATABASE}.sqlite")
    server = start(tmp_path)
    yield server
    server.stop()
