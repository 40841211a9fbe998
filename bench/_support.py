"""Small helpers shared by the benchmarks: a keep-alive HTTP/1.1 client, stats, machine info.

The HTTP client is deliberately tiny (asyncio streams, one request in flight per
connection) so the load generator costs as little CPU as possible on the same machine
as the server. It speaks only what the benchmarks need: JSON bodies, Content-Length
or chunked responses, keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def log(*parts: Any) -> None:
    """Progress goes to stderr; stdout carries only the one JSON line."""
    print(*parts, file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100); 0.0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cmd(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group ``pgid`` (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields[0] is the state (field 3); pgrp is field 5, utime 14, stime 15.
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def print_result_line(
    bench: str,
    mode: str,
    results: dict[str, Any],
    *,
    targets: dict[str, tuple[str, float]],
    verdicts: dict[str, Any],
    sizes: dict[str, Any],
    versions: dict[str, Any],
    load_before: list[float],
    started: float,
) -> None:
    """The one JSON line a benchmark prints: headline figures, their targets and verdicts,
    sizes, every other measurement under ``details``, the date, machine and load."""
    import datetime as dt

    line = {
        "bench": bench,
        "mode": mode,
        **{k: _rounded(results.get(k)) for k in targets},
        "targets": {k: f"{op} {v}" for k, (op, v) in targets.items()},
        "pass": verdicts,
        "sizes": sizes,
        "details": {k: _rounded(v) for k, v in results.items() if k not in targets},
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {**machine_info(), **versions},
        "loadavg_before_after": [load_before, loadavg()],
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(line, ensure_ascii=False), flush=True)


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        with Path("/proc/cpuinfo").open() as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        with Path("/proc/meminfo").open() as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "mem_gb": mem_gb,
        "cpu": cpu or platform.processor(),
        "python": platform.python_version(),
    }


class HttpError(Exception):
    pass


class HttpClient:
    """One keep-alive connection; ``request`` returns (status, parsed JSON or None)."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host = host
        self.port = port
        self.token = token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
            self._writer = None

    async def request(
        self, method: str, path: str, body: Any = None, *, timeout: float = 30.0
    ) -> tuple[int, Any]:
        reused = self._writer is not None
        try:
            return await asyncio.wait_for(self._request(method, path, body), timeout)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            # Retry once only when the server had closed an idle keep-alive connection
            # (uvicorn's keep-alive timeout): nothing came back, so nothing was processed.
            idle_close = isinstance(exc, ConnectionError) or not exc.partial
            if not (reused and idle_close):
                raise
            return await asyncio.wait_for(self._request(method, path, body), timeout)
        except TimeoutError:
            await self.close()  # the stream is mid-response; never reuse it
            raise

    async def _request(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if self._writer is None:
            await self._connect()
        assert self._reader is not None and self._writer is not None
        payload = b"" if body is None else json.dumps(body).encode()
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Accept: application/json",
            "Connection: keep-alive",
        ]
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        if body is not None:
            head.append("Content-Type: application/json")
        head.append(f"Content-Length: {len(payload)}")
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await self._writer.drain()
        raw_head = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            data = await self._reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                if size == 0:
                    await self._reader.readuntil(b"\r\n")
                    break
                chunks.append(await self._reader.readexactly(size))
                await self._reader.readexactly(2)
            data = b"".join(chunks)
        else:
            raise HttpError(f"response without length: {headers}")
        if headers.get("connection", "").lower() == "close":
            await self.close()
        parsed = None
        if data and headers.get("content-type", "").startswith("application/json"):
            parsed = json.loads(data)
        return status, parsed


async def timed(coro: Any) -> tuple[float, Any]:
    """(milliseconds, result) of awaiting ``coro``."""
    t0 = time.perf_counter()
    result = await coro
    return (time.perf_counter() - t0) * 1000, result


# --- the server under test --------------------------------------------------------------


def start_server(env: dict[str, str], port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """uvicorn serving Tack on ``port`` in its own process group (for CPU accounting)."""
    cmd = [
        sys.executable, "-m", "uvicorn", "config.asgi:application",
        "--host", HOST, "--port", str(port), "--lifespan", "off",
        "--workers", str(workers), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    log("server:", " ".join(cmd[1:]))
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr,
                            start_new_session=True)  # fmt: skip


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


async def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until ``/healthz`` answers (any status below 500)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        client = HttpClient(HOST, port)
        try:
            status, _ = await client.request("GET", "/healthz", timeout=5)
            if status < 500:
                return
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            await client.close()
        await asyncio.sleep(0.2)
    raise RuntimeError("server did not become ready")


# --- the services under the benchmark ---------------------------------------------------


def bench_env(database_url: str, redis_url: str, name: str, **extra: str) -> dict[str, str]:
    """The server's environment: its own database and Redis, a var dir per benchmark,
    no rate limit in the way, quiet logs. ``extra`` overrides or adds variables."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_SECRET_KEY": "bench-only-" + "x" * 40,
            "DJANGO_DEBUG": "0",
            "TACK_THROTTLE_USER": "1000000/min",
            "TACK_CACHE_PREFIX": f"tack{name}",
            "TACK_LOG_LEVEL": "WARNING",
            "TACK_VAR_DIR": str(Path(tempfile.gettempdir()) / f"tack-bench-{name}-var"),
            **extra,
        }
    )
    Path(env["TACK_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    return env


def reset_services(
    env: dict[str, str], pg_server: str, databases: list[str], *, skip_checks: bool = False
) -> dict[str, str]:
    """Drop and recreate ``databases`` on ``pg_server`` (``postgres://user@host:port``),
    empty the benchmark's Redis database, migrate; the server versions, for the results."""
    import psycopg
    import redis

    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        for name in databases:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        pg_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    r = redis.Redis.from_url(env["REDIS_URL"])
    r.flushdb()
    redis_version = str(r.info("server").get("redis_version", ""))
    r.close()
    t0 = time.perf_counter()
    command = [sys.executable, "manage.py", "migrate", "-v0"]
    if skip_checks:
        command.append("--skip-checks")
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=300)
    log(f"migrated in {time.perf_counter() - t0:.1f}s")
    return {"postgresql": pg_version, "redis": redis_version}
