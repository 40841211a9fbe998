"""Fault tests: Redis stopped while members chat, PostgreSQL restarted under load.

Both run against private service instances started here on free ports (never the
machine's shared Redis or PostgreSQL). Without ``redis-server`` or PostgreSQL's
``initdb``/``pg_ctl`` they skip, unless ``TACK_REQUIRE_SERVICES=1`` (then they fail).
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

import pytest
import requests

from tests.e2e.conftest import ROOT, free_port

pytestmark = [pytest.mark.integration]


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("TACK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} but TACK_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def _require(binary: str | None, what: str) -> str:
    if binary and (shutil.which(binary) or Path(binary).exists()):
        return binary
    _unavailable(f"{what} is not installed")


def _wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nothing listens on port {port}")


def _bind(port: int) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]


def _start_uvicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Like the e2e ``start_uvicorn``, keeping the server's output for the failure report."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", *_bind(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_port(port, timeout=30)
    except BaseException:
        process.kill()
        raise
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def _next(ws: Any, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == kind:
                return dict(frame)

    return await asyncio.wait_for(wait(), timeout)


def _in_thread(coroutine: Any) -> Any:
    # Playwright's sync API (the e2e tests) keeps a loop running in the main thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# --- Redis stopped while members chat ------------------------------------------------


class PrivateRedis:
    def __init__(self, binary: str, directory: Path) -> None:
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(_require("redis-server", "redis-server"), tmp_path)
    redis.start()
    yield redis
    if redis.process is not None and redis.process.poll() is None:
        redis.kill()


def _test_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Chat:
    """One web process on a private Redis; member A sends, member B reads."""

    server: str
    redis: PrivateRedis
    process: subprocess.Popen[bytes]
    sender: str
    reader: str
    org: int
    group: int

    @property
    def ws_url(self) -> str:
        return f"ws://{urlparse(self.server).netloc}/ws/?token={self.reader}"

    def send(self, body: str) -> requests.Response:
        return requests.post(
            f"{self.server}/api/v1/orgs/{self.org}/conversations/{self.group}/messages/",
            json={"body": body},
            headers={"Authorization": f"Bearer {self.sender}"},
            timeout=15,
        )

    def health(self) -> requests.Response:
        return requests.get(f"{self.server}/healthz", timeout=15)

    def events_after(self, after: int) -> requests.Response:
        return requests.get(
            f"{self.server}/api/v1/orgs/{self.org}/events/",
            params={"after": after},
            headers={"Authorization": f"Bearer {self.reader}"},
            timeout=15,
        )

    async def wait_healthy(self, within: float = 15) -> float:
        started = time.monotonic()
        while True:
            answer = await asyncio.to_thread(self.health)
            if answer.status_code == 200:
                assert answer.json() == {"status": "ok", "database": "ok", "cache": "ok"}
                return time.monotonic() - started
            assert time.monotonic() - started < within, answer.text
            await asyncio.sleep(0.2)


@pytest.fixture
def chat(private_redis, owner, member, tmp_path) -> Iterator[Chat]:
    from core.actions import do_create_api_token
    from im.actions import do_create_group

    env = dict(os.environ)
    env.update(
        DATABASE_URL=_test_database_url(),
        REDIS_URL=f"redis://127.0.0.1:{private_redis.port}/0",
        DJANGO_SETTINGS_MODULE="config.settings.base",
        PYTHONPATH=str(ROOT),
    )
    port = free_port()
    log = tmp_path / "uvicorn.log"
    process = _start_uvicorn(env, port, log)
    group = do_create_group(owner, name="Faults", member_ids=[member.pk])
    try:
        yield Chat(
            server=f"http://127.0.0.1:{port}",
            redis=private_redis,
            process=process,
            sender=do_create_api_token(owner.user, name="A").secret,
            reader=do_create_api_token(member.user, name="B").secret,
            org=owner.org_id,
            group=group.pk,
        )
        assert process.poll() is None, "the web process died"
    finally:
        _stop(process)
        # The server's log (tracebacks included) shows with a failure's captured output.
        print(log.read_text(errors="replace")[-8000:])


def _stored_messages(ids: list[int]) -> set[int]:
    """The ids among ``ids`` in the test database (from a worker thread, closed after)."""
    from django.db import connection

    from im.models import Message

    try:
        return set(Message.objects.filter(pk__in=ids).values_list("pk", flat=True))
    finally:
        connection.close()


needs_shared_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"),
    reason="the web process needs PostgreSQL shared with the test (make test-services)",
)


@needs_shared_postgres
@pytest.mark.django_db(transaction=True)
def test_sends_persist_while_redis_is_down_and_clients_catch_up(chat):
    """Redis stopped while members chat: sends still answer 201 and are stored, /healthz
    reports the cache, and a client reconnecting afterwards catches up exactly once."""
    import websockets

    async def scenario() -> dict[str, float]:
        timings: dict[str, float] = {}
        async with websockets.connect(chat.ws_url, origin=chat.server) as ws:
            await _next(ws, "hello")
            first = await asyncio.to_thread(chat.send, "before the outage")
            assert first.status_code == 201, first.text
            live = await _next(ws, "message.created")
            assert live["message"]["id"] == first.json()["id"]
            last_seen = live["id"]

            chat.redis.kill()
            started = time.monotonic()
            sent_while_down = []
            for n in range(3):
                answer = await asyncio.to_thread(chat.send, f"while Redis is down {n}")
                assert answer.status_code == 201, (answer.status_code, answer.text)
                sent_while_down.append(answer.json()["id"])
            timings["3 sends with Redis down"] = time.monotonic() - started
            down = await asyncio.to_thread(chat.health)
            assert down.status_code == 503, down.text
            assert down.json() == {"status": "error", "database": "ok", "cache": "error"}
            # Stored, not merely acknowledged.
            stored = await asyncio.to_thread(_stored_messages, sent_while_down)
            assert stored == set(sent_while_down)

            chat.redis.start()
            timings["healthz ok after Redis start"] = await chat.wait_healthy()

        # The old socket may or may not have survived: reconnect as a browser would, then
        # catch up from the last event id seen.
        async with websockets.connect(chat.ws_url, origin=chat.server) as ws:
            await _next(ws, "hello")
            missed = await asyncio.to_thread(chat.events_after, last_seen)
            assert missed.status_code == 200, missed.text
            caught_up = [
                e["message"]["id"] for e in missed.json() if e["type"] == "message.created"
            ]
            assert caught_up == sent_while_down  # every one, once, in order
        return timings

    print(_in_thread(scenario()))


@needs_shared_postgres
@pytest.mark.django_db(transaction=True)
def test_live_delivery_resumes_when_redis_returns(chat):
    """After Redis comes back, a reconnected socket hears new messages live again."""
    import websockets

    async def scenario() -> dict[str, float]:
        timings: dict[str, float] = {}
        async with websockets.connect(chat.ws_url, origin=chat.server) as ws:
            await _next(ws, "hello")
            first = await asyncio.to_thread(chat.send, "before the outage")
            assert first.status_code == 201, first.text
            assert (await _next(ws, "message.created"))["message"]["id"] == first.json()["id"]
            chat.redis.kill()
            chat.redis.start()
            timings["healthz ok after Redis start"] = await chat.wait_healthy()

        async with websockets.connect(chat.ws_url, origin=chat.server) as ws:
            await _next(ws, "hello")
            started = time.monotonic()
            # Each attempt is a new message: the server may take a moment to reconnect its
            # own Redis connections, but within 10 s new messages must arrive live again.
            sent = []
            while time.monotonic() - started < 10:
                answer = await asyncio.to_thread(chat.send, "after the outage")
                assert answer.status_code == 201, answer.text
                sent.append(answer.json()["id"])
                try:
                    live = await _next(ws, "message.created", timeout=1)
                except TimeoutError:
                    continue
                break
            else:
                pytest.fail(f"none of {len(sent)} messages sent after the outage came live")
            assert live["message"]["id"] in sent
            timings["live delivery resumed after"] = time.monotonic() - started
            for n in range(2):
                answer = await asyncio.to_thread(chat.send, f"steady {n}")
                assert answer.status_code == 201, answer.text
                received = await _next(ws, "message.created", timeout=5)
                while received["message"]["id"] in sent:  # late copies of the retries
                    received = await _next(ws, "message.created", timeout=5)
                assert received["message"]["id"] == answer.json()["id"]
        return timings

    print(_in_thread(scenario()))


# --- PostgreSQL restarted under load --------------------------------------------------


SEED = """
import json, django
django.setup()
from core.actions import do_create_api_token, do_create_organization
from core.models import Membership, User
from im.actions import do_create_group

alice = User.objects.create_user("alice@faults.example", "a long password 1", display_name="A")
bob = User.objects.create_user("bob@faults.example", "a long password 2", display_name="B")
org = do_create_organization(alice, name="Faults")
a = Membership.objects.get(org=org, user=alice)
b = Membership.objects.create(org=org, user=bob, role="member")
group = do_create_group(a, name="Load", member_ids=[b.pk])
print(json.dumps({"org": org.pk, "group": group.pk,
                  "token": do_create_api_token(alice, name="load").secret}))
"""


def _pg_binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its programs as ``postgres``."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("runuser"):
        _unavailable("running as root without runuser")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        _unavailable("running as root and there is no postgres user")
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PrivatePostgres:
    pg_ctl: str
    data: Path
    port: int
    prefix: list[str]

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/tack"

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data), "-w", "-t", "30", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.ctl("-o", options, "-l", str(self.data / "server.log"), "start")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    initdb = _require(_pg_binary("initdb"), "PostgreSQL's initdb")
    pg_ctl = _require(_pg_binary("pg_ctl"), "PostgreSQL's pg_ctl")
    prefix = _as_postgres_user()
    # Not under pytest's tmp_path: the postgres user must be able to reach it.
    home = Path(tempfile.mkdtemp(prefix="tack-faults-pg-"))
    data = home / "data"
    if prefix:
        owner = pwd.getpwnam("postgres")
        os.chown(home, owner.pw_uid, owner.pw_gid)
    command = [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
    subprocess.run(
        [*prefix, *command, "--no-sync"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pg = PrivatePostgres(pg_ctl, data, free_port(), prefix)
    try:
        pg.start()
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import psycopg, sys; psycopg.connect(sys.argv[1], autocommit=True)"
                ".execute('CREATE DATABASE tack')",
                f"postgres://postgres@127.0.0.1:{pg.port}/postgres",
            ],
            check=True,
        )
        yield pg
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class Outcome:
    at: float
    kind: str  # "send" or "health"
    status: int | None  # None: no answer (timeout, connection refused or reset)
    body: Any
    error: str = ""


def test_database_restarted_under_load(private_postgres, tmp_path):
    """Requests fail cleanly while PostgreSQL is away and succeed again once it is back,
    without restarting the web process; nothing acknowledged is lost."""
    import psycopg

    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DATABASE_URL=private_postgres.url,
        DJANGO_SETTINGS_MODULE="config.settings.base",
        PYTHONPATH=str(ROOT),
        TACK_VAR_DIR=str(tmp_path / "var"),
    )
    if os.environ.get("REDIS_URL"):
        shared = urlparse(os.environ["REDIS_URL"])
        env["REDIS_URL"] = shared._replace(path="/9").geturl()
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    seeded = subprocess.run(
        [sys.executable, "-c", SEED], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    ids = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    log = tmp_path / "uvicorn.log"
    uvicorn = _start_uvicorn(env, port, log)
    messages_url = f"{server}/api/v1/orgs/{ids['org']}/conversations/{ids['group']}/messages/"
    headers = {"Authorization": f"Bearer {ids['token']}"}
    outcomes: list[Outcome] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def client(worker: int) -> None:
        session = requests.Session()
        n = 0
        while not stop.is_set():
            n += 1
            for kind in ("send", "health"):
                try:
                    if kind == "send":
                        answer = session.post(
                            messages_url,
                            json={"body": f"load {worker}-{n}"},
                            headers=headers,
                            timeout=15,
                        )
                    else:
                        answer = session.get(f"{server}/healthz", timeout=15)
                except requests.RequestException as exc:
                    outcomes.append(Outcome(time.monotonic() - t0, kind, None, None, repr(exc)))
                    continue
                try:
                    body = answer.json()
                except ValueError:
                    body = answer.text
                outcomes.append(Outcome(time.monotonic() - t0, kind, answer.status_code, body))
            time.sleep(0.05)

    def recovered(since: float) -> dict[str, float]:
        """How long after ``since`` a send and a health check succeeded again (<= 10 s)."""
        deadline = time.monotonic() + 12
        while True:
            after = [o for o in outcomes if o.at > since]
            send = [o.at for o in after if o.kind == "send" and o.status == 201]
            health = [o.at for o in after if o.kind == "health" and o.status == 200]
            if send and health:
                break
            assert time.monotonic() < deadline, f"no recovery: {after[-6:]}"
            time.sleep(0.1)
        delays = {"sends": min(send) - since, "healthz": min(health) - since}
        assert max(delays.values()) < 10, delays
        return delays

    workers = [threading.Thread(target=client, args=(w,)) for w in range(3)]
    timings: dict[str, Any] = {}
    try:
        for worker in workers:
            worker.start()
        time.sleep(2)
        assert any(o.status == 201 for o in outcomes), outcomes[-5:]
        # 1. A restart: the outage is short, so requests mostly wait for a connection.
        started = time.monotonic()
        private_postgres.ctl("-m", "fast", "restart")
        timings["restart took"] = time.monotonic() - started
        timings["recovered after restart"] = recovered(time.monotonic() - t0)
        time.sleep(1)
        # 2. An outage longer than the pool's 10 s wait for a connection: requests must
        # give up cleanly (500 envelope, healthz 503), not hang.
        outage_from = time.monotonic() - t0
        private_postgres.ctl("-m", "fast", "stop")
        time.sleep(12)
        private_postgres.start()
        outage_to = time.monotonic() - t0
        timings["recovered after outage"] = recovered(outage_to)
        time.sleep(2)  # keep the load on after recovery
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        alive = uvicorn.poll() is None
        _stop(uvicorn)
        print(log.read_text(errors="replace")[-8000:])
    assert alive, "the web process died"

    during = [o for o in outcomes if outage_from < o.at <= outage_to]
    assert any(o.kind == "health" and o.status == 503 for o in during), during
    assert any(o.kind == "send" and o.status == 500 for o in during), during
    # Every answer was clean: no hang, no dropped connection, errors in the JSON envelope.
    unanswered = [o for o in outcomes if o.status is None]
    assert not unanswered, unanswered[:5]
    for o in outcomes:
        if o.kind == "health":
            assert o.status in (200, 503), o
            assert isinstance(o.body, dict) and o.body["cache"] == "ok", o
            if o.status == 503:
                assert o.body["database"] == "error", o
        elif o.status != 201:
            assert o.status is not None and o.status >= 500, o
            assert isinstance(o.body, dict) and "code" in o.body.get("error", {}), o
    # Once recovered, it stays recovered: the last second of load is all successes.
    tail = [o for o in outcomes if o.at > outcomes[-1].at - 1]
    assert all(o.status in (200, 201) for o in tail), tail

    acknowledged = {o.body["id"] for o in outcomes if o.kind == "send" and o.status == 201}
    with psycopg.connect(private_postgres.url) as conn:
        rows = conn.execute(
            "SELECT id FROM im_message WHERE id = ANY(%s)", (list(acknowledged),)
        ).fetchall()
    assert {row[0] for row in rows} == acknowledged
    failed = sum(1 for o in outcomes if o.status not in (200, 201))
    timings["requests"] = len(outcomes)
    timings["failed requests"] = failed
    print(timings)
