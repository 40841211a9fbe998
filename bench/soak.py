"""Soak: many WebSocket clients in groups, steady messages, then a reconciliation.

    .venv/bin/python bench/soak.py [--quick] [--clients N] [--groups G] [--seconds S]
                                   [--rate R] [--json-only]

Creates (drops first) the PostgreSQL database ``tack_bench_soak`` and flushes Redis DB 12
(servers: 127.0.0.1 by default, ``--pg-server`` / ``--redis-server`` to change), migrates,
seeds in bulk (one organisation, N members with bearer tokens spread over G group
conversations, a few sender members in every group), starts **two** uvicorn processes
and connects the N clients round-robin to them, so every message also crosses processes
through the Redis channel layer.

Sender tasks post messages through the HTTP API at R messages/s, spread over groups and
servers, for S seconds. Each client records every ``message.created`` it receives. A few
clients close their socket mid-run, reconnect and catch up with
``GET /api/v1/orgs/<org>/events/?after=<last event id>``; a socket the server closes is
treated the same way (and counted). After sending stops the run waits (up to 10 s) for
delivery to drain, then reconciles against the database: every persisted message must
have reached every member of its conversation holding a client, live or on catch-up,
exactly once.

* ``lost``        (client, message) pairs neither received live nor fetched on catch-up
* ``duplicated``  pairs received more than once over the sockets, or more than once on
                  catch-up (one live copy plus one catch-up copy is the overlap of the
                  reconnect window and is not a duplicate)
* ``p99_ms``      p99 of "HTTP send issued" -> "message.created received" over live copies
* ``rss_mb_per_1k_sockets``  growth of the two servers' RSS (VmRSS) from before the
                  clients connected to after, per 1,000 sockets

Prints exactly one JSON line on stdout; progress goes to stderr. Exits 1 when anything
was lost or duplicated (or nothing was sent), so CI fails on a real loss.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(ROOT))


def _load_support() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_support", BENCH_DIR / "_support.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_bench_support"] = module
    spec.loader.exec_module(module)
    return module


_support = _load_support()
from _bench_support import (  # noqa: E402
    HttpClient,
    bench_env,
    free_port,
    loadavg,
    log,
    machine_info,
    percentile,
    reset_services,
    start_server,
    stop_server,
    wait_ready,
)

DB_NAME = "tack_bench_soak"
REDIS_DB = 12
HOST = "127.0.0.1"
N_SERVERS = 2
DRAIN_S = 10.0


def seed(n_clients: int, n_groups: int, n_senders: int) -> dict[str, Any]:
    """Org, members with tokens; member i in group i % G; every sender in every group."""
    import django

    django.setup()
    from django.db import connections, transaction
    from django.utils import timezone

    from core.auth import hash_token, new_token_secret
    from core.models import ApiToken, Membership, Organization, User
    from im.models import Conversation, ConversationMember

    t0 = time.perf_counter()
    now = timezone.now()
    n_users = n_clients + n_senders
    batch = 2000
    with transaction.atomic():
        org = Organization.objects.create(name="Soak", slug="soak", member_limit=10**7)
        users = User.objects.bulk_create(
            [
                User(email=f"s{i}@soak.invalid", display_name=f"Soak {i}", password="!")
                for i in range(n_users)
            ],
            batch_size=batch,
        )
        members = Membership.objects.bulk_create(
            [Membership(org=org, user=u, role="member", status="active") for u in users],
            batch_size=batch,
        )
        clients, senders = members[:n_clients], members[n_clients:]
        groups = Conversation.objects.bulk_create(
            [
                Conversation(
                    org=org,
                    kind="group",
                    name=f"Soak {g}",
                    member_count=len(range(g, n_clients, n_groups)) + n_senders,
                    owner=senders[0],
                )
                for g in range(n_groups)
            ]
        )
        links = [
            ConversationMember(
                org=org, conversation=groups[i % n_groups], membership=m, joined_at=now
            )
            for i, m in enumerate(clients)
        ]
        links += [
            ConversationMember(
                org=org,
                conversation=c,
                membership=m,
                role="owner" if j == 0 else "member",
                joined_at=now,
            )
            for c in groups
            for j, m in enumerate(senders)
        ]
        ConversationMember.objects.bulk_create(links, batch_size=batch)
        secrets: dict[int, str] = {}
        tokens = []
        for m in members:
            secret = new_token_secret()
            secrets[m.pk] = secret
            tokens.append(
                ApiToken(
                    user_id=m.user_id,
                    name="soak",
                    prefix=secret[:12],
                    token_hash=hash_token(secret),
                    expires_at=now + dt.timedelta(days=2),
                    last_used_at=now,
                )
            )
        ApiToken.objects.bulk_create(tokens, batch_size=batch)
    with connections["default"].cursor() as cursor:
        cursor.execute("ANALYZE")
    out = {
        "org": org.pk,
        "groups": [c.pk for c in groups],
        "clients": [
            {"membership": m.pk, "token": secrets[m.pk], "conversation": groups[i % n_groups].pk}
            for i, m in enumerate(clients)
        ],
        "senders": [secrets[m.pk] for m in senders],
    }
    connections.close_all()
    log(f"seeded {n_users} members, {len(links)} links in {time.perf_counter() - t0:.1f}s")
    return out


# --- Servers --------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident set size of one process (``VmRSS`` in /proc/<pid>/status), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# --- Clients --------------------------------------------------------------------------


class Client:
    """One member's socket: live copies per message id, catch-up copies, last event id."""

    def __init__(self, spec: dict[str, Any], port: int, org: int) -> None:
        self.token: str = spec["token"]
        self.conversation: int = spec["conversation"]
        self.port = port
        self.org = org
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None
        self.live: dict[int, int] = defaultdict(int)
        self.live_at: dict[int, float] = {}
        self.catchup: dict[int, int] = defaultdict(int)
        self.last_event = 0
        self.closing = False
        self.dropped = 0  # sockets the server closed under us
        self.reconnects = 0
        self.catchup_fetched = 0
        self.catchup_errors = 0

    async def open(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        ws = await asyncio.wait_for(
            connect(
                f"ws://{HOST}:{self.port}/ws/?token={self.token}",
                origin=Origin(f"http://{HOST}:{self.port}"),
                open_timeout=30,
                ping_interval=None,
                max_queue=None,
            ),
            30,
        )
        hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if hello.get("type") != "hello":
            raise RuntimeError(f"unexpected first frame {hello}")
        self.ws = ws
        self.task = asyncio.create_task(self.read(ws))

    async def read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                now = time.perf_counter()
                event = json.loads(raw)
                if isinstance(event.get("id"), int) and "org_id" in event:
                    self.last_event = max(self.last_event, event["id"])
                if event.get("type") == "message.created":
                    mid = event["message"]["id"]
                    self.live[mid] += 1
                    self.live_at.setdefault(mid, now)
        except Exception:  # closed by us, or by the server
            pass
        if not self.closing and ws is self.ws:
            self.dropped += 1
            asyncio.get_running_loop().create_task(self.reconnect(pause=0.5))

    async def close(self) -> None:
        self.closing = True
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)

    async def reconnect(self, pause: float) -> None:
        """Close (if open), stay away ``pause`` seconds, reconnect, then catch up."""
        await self.close()
        await asyncio.sleep(pause)
        self.closing = False
        for attempt in range(5):
            try:
                await self.open()
                break
            except Exception as exc:
                log(f"reconnect failed ({attempt}): {exc!r}")
                await asyncio.sleep(1)
        else:
            return
        self.reconnects += 1
        await self.catch_up()

    async def catch_up(self) -> None:
        http = HttpClient(HOST, self.port, self.token)
        after = self.last_event
        try:
            while True:
                status, events = await http.request(
                    "GET", f"/api/v1/orgs/{self.org}/events/?after={after}"
                )
                if status != 200 or not isinstance(events, list):
                    self.catchup_errors += 1
                    log(f"catch-up -> {status}: {str(events)[:200]}")
                    return
                for event in events:
                    after = max(after, event["id"])
                    if event.get("type") == "message.created":
                        self.catchup[event["message"]["id"]] += 1
                        self.catchup_fetched += 1
                if len(events) < 500:
                    return
        finally:
            await http.close()


async def connect_all(clients: list[Client]) -> int:
    gate = asyncio.Semaphore(50)
    failed = 0

    async def one(c: Client) -> None:
        nonlocal failed
        async with gate:
            try:
                await c.open()
            except Exception as exc:
                failed += 1
                if failed <= 3:
                    log(f"ws connect failed: {exc!r}")

    await asyncio.gather(*(one(c) for c in clients))
    return failed


async def send_loop(
    port: int,
    token: str,
    org: int,
    conversations: list[int],
    rate: float,
    until: float,
    sent_at: dict[int, float],
    stats: dict[str, int],
) -> None:
    """Post at ``rate`` messages/s (on a fixed schedule) round-robin over conversations."""
    http = HttpClient(HOST, port, token)
    interval = 1.0 / rate
    nxt = time.perf_counter()
    i = 0
    try:
        while nxt < until:
            delay = nxt - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            conversation = conversations[i % len(conversations)]
            i += 1
            nxt += interval
            cmid = uuid.uuid4().hex
            t0 = time.perf_counter()
            try:
                status, body = await http.request(
                    "POST",
                    f"/api/v1/orgs/{org}/conversations/{conversation}/messages/",
                    {"body": f"soak {cmid}", "client_msg_id": cmid},
                )
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                status, body = 0, repr(exc)
            if status == 201:
                sent_at[body["id"]] = t0
                stats["sent_ok"] += 1
            else:
                stats["send_errors"] += 1
                if stats["send_errors"] <= 3:
                    log(f"send -> {status}: {str(body)[:300]}")
    finally:
        await http.close()


async def soak(
    ports: list[int],
    procs: list[subprocess.Popen[bytes]],
    seeded: dict[str, Any],
    seconds: float,
    rate: float,
) -> dict[str, Any]:
    org = seeded["org"]
    for port, proc in zip(ports, procs, strict=True):
        await wait_ready(port, proc)
    # Warm each server (imports, pools) before the baseline RSS.
    for port in ports:
        http = HttpClient(HOST, port, seeded["senders"][0])
        await http.request("GET", f"/api/v1/orgs/{org}/events/?after=0")
        await http.close()
    await asyncio.sleep(1)
    rss_before = sum(rss_mb(p.pid) for p in procs)

    clients = [Client(spec, ports[i % len(ports)], org) for i, spec in enumerate(seeded["clients"])]
    t0 = time.perf_counter()
    failed = await connect_all(clients)
    connected = [c for c in clients if c.ws is not None]
    log(f"ws: {len(connected)}/{len(clients)} connected in {time.perf_counter() - t0:.1f}s")
    await asyncio.sleep(2)
    rss_after = sum(rss_mb(p.pid) for p in procs)
    rss_per_1k = (rss_after - rss_before) / (max(len(connected), 1) / 1000)
    log(f"rss {rss_before:.0f} -> {rss_after:.0f} MB")

    # Planned reconnects: ~2% of the clients (at least 3), a third of the way in.
    n_reconnect = max(3, len(connected) // 50)
    step = max(1, len(connected) // n_reconnect)
    reconnecting = connected[::step][:n_reconnect]

    sent_at: dict[int, float] = {}
    stats = {"sent_ok": 0, "send_errors": 0}
    senders = seeded["senders"]
    groups = seeded["groups"]
    start = time.perf_counter()
    until = start + seconds
    loops = [
        send_loop(
            ports[k % len(ports)],
            token,
            org,
            groups[k:] + groups[:k],
            rate / len(senders),
            until,
            sent_at,
            stats,
        )
        for k, token in enumerate(senders)
    ]

    async def planned() -> None:
        await asyncio.sleep(seconds / 3)
        log(f"reconnecting {len(reconnecting)} clients")
        await asyncio.gather(*(c.reconnect(pause=1.5) for c in reconnecting))

    await asyncio.gather(*loops, planned())
    log(f"sent {stats['sent_ok']} ({stats['send_errors']} errors) in {seconds:.0f}s")

    # Drain: until every connected client holds every message of its conversation.
    expected_per_conv: dict[int, set[int]] = defaultdict(set)
    for mid, conv in persisted_messages(groups).items():
        expected_per_conv[conv].add(mid)
    drain_start = time.perf_counter()
    while time.perf_counter() - drain_start < DRAIN_S:
        missing = sum(
            1
            for c in connected
            for mid in expected_per_conv[c.conversation]
            if mid not in c.live and mid not in c.catchup
        )
        if not missing:
            break
        await asyncio.sleep(0.25)
    log(f"drained in {time.perf_counter() - drain_start:.1f}s")
    for c in clients:
        await c.close()
    return {
        "clients": clients,
        "connected": connected,
        "connect_failed": failed,
        "sent_at": sent_at,
        "stats": stats,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "rss_per_1k": rss_per_1k,
    }


def persisted_messages(groups: list[int]) -> dict[int, int]:
    """Message id -> conversation id, from the database (psycopg, outside the event loop)."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT id, conversation_id FROM im_message WHERE conversation_id = ANY(%s)",
            [groups],
        ).fetchall()
    return {int(mid): int(conv) for mid, conv in rows}


def reconcile(run: dict[str, Any], groups: list[int]) -> dict[str, Any]:
    persisted = persisted_messages(groups)
    by_conv: dict[int, list[int]] = defaultdict(list)
    for mid, conv in persisted.items():
        by_conv[conv].append(mid)
    sent_at = run["sent_at"]
    lost = duplicated = received = 0
    latencies: list[float] = []
    lost_samples: list[dict[str, int]] = []
    for c in run["connected"]:
        for mid in by_conv[c.conversation]:
            live, fetched = c.live.get(mid, 0), c.catchup.get(mid, 0)
            if live == 0 and fetched == 0:
                lost += 1
                if len(lost_samples) < 5:
                    lost_samples.append({"message": mid, "conversation": c.conversation})
                continue
            received += 1
            if live > 1 or fetched > 1:
                duplicated += 1
            if live and mid in sent_at:
                latencies.append((c.live_at[mid] - sent_at[mid]) * 1000)
    # Copies of messages the client's conversation does not hold would be misrouted.
    misrouted = sum(
        1
        for c in run["connected"]
        for mid in c.live
        if persisted.get(mid, c.conversation) != c.conversation
    )
    return {
        "persisted": len(persisted),
        "lost": lost,
        "duplicated": duplicated,
        "received": received,
        "misrouted": misrouted,
        "latencies": latencies,
        "lost_samples": lost_samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 clients, 5 groups, 10 s")
    parser.add_argument("--clients", type=int, default=None, help="WebSocket clients (1000)")
    parser.add_argument("--groups", type=int, default=None, help="group conversations (20)")
    parser.add_argument("--seconds", type=float, default=None, help="sending time (60)")
    parser.add_argument("--rate", type=float, default=20.0, help="messages/s over all senders")
    parser.add_argument("--senders", type=int, default=4, help="sender members (and tasks)")
    parser.add_argument(
        "--pg-server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server"
    )
    parser.add_argument("--redis-server", default="redis://127.0.0.1:6379", help="Redis server")
    parser.add_argument("--json-only", action="store_true", help="no progress on stderr")
    args = parser.parse_args()
    if args.json_only:
        sys.stderr = Path(os.devnull).open("w")  # noqa: SIM115
    defaults = (200, 5, 10.0) if args.quick else (1000, 20, 60.0)
    n_clients = args.clients or defaults[0]
    n_groups = args.groups or defaults[1]
    seconds = args.seconds or defaults[2]
    started = time.perf_counter()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    load_before = loadavg()
    pg = args.pg_server.rstrip("/")
    env = bench_env(
        f"{pg}/{DB_NAME}",
        f"{args.redis_server.rstrip('/')}/{REDIS_DB}",
        "soak",
        TACK_CACHE_PREFIX="tacksoak",
    )
    os.environ.update(env)  # for the in-process seeding (django.setup())
    versions = reset_services(env, pg, [DB_NAME])
    seeded = seed(n_clients, n_groups, args.senders)
    ports = [free_port() for _ in range(N_SERVERS)]
    procs = [start_server(env, port) for port in ports]
    try:
        run = asyncio.run(soak(ports, procs, seeded, seconds, args.rate))
    finally:
        for proc in procs:
            stop_server(proc)
    result = reconcile(run, seeded["groups"])
    connected = run["connected"]
    line = {
        "sent": run["stats"]["sent_ok"],
        "lost": result["lost"],
        "duplicated": result["duplicated"],
        "p99_ms": round(percentile(result["latencies"], 99), 1),
        "rss_mb_per_1k_sockets": round(run["rss_per_1k"], 1),
        "received": result["received"],
        "p50_ms": round(percentile(result["latencies"], 50), 1),
        "max_ms": round(max(result["latencies"], default=0.0), 1),
        "persisted": result["persisted"],
        "send_errors": run["stats"]["send_errors"],
        "clients": n_clients,
        "connected": len(connected),
        "connect_failed": run["connect_failed"],
        "groups": n_groups,
        "seconds": seconds,
        "rate_per_s": args.rate,
        "servers": N_SERVERS,
        "reconnects": sum(c.reconnects for c in run["clients"]),
        "dropped_by_server": sum(c.dropped for c in run["clients"]),
        "catchup_fetched": sum(c.catchup_fetched for c in run["clients"]),
        "catchup_errors": sum(c.catchup_errors for c in run["clients"]),
        "misrouted": result["misrouted"],
        "lost_samples": result["lost_samples"],
        "server_rss_mb_before_after": [round(run["rss_before"], 1), round(run["rss_after"], 1)],
        "mode": "quick" if args.quick else "full",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {**machine_info(), **versions},
        "loadavg_before_after": [load_before, loadavg()],
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(line), flush=True)
    ok = line["sent"] > 0 and line["connected"] > 0 and not line["lost"] and not line["duplicated"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
