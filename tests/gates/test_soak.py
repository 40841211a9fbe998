"""The soak benchmark's reconciliation, short: nothing lost, nothing duplicated.

Runs ``bench/soak.py --quick`` (200 WebSocket clients on two uvicorn processes, 5 groups,
10 s of messages, a few reconnects with catch-up) on the PostgreSQL and Redis servers
the suite itself uses, in the database ``tack_bench_soak`` and Redis DB 12. Only in the
services pass (``make test-services`` / CI's second pass). The long run is ``make soak``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")),
    reason="the soak needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL; make test-services)",
)


def _server(url: str) -> str:
    """``scheme://[user@]host:port`` of a service URL, without its database part."""
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_soak_quick_loses_and_duplicates_nothing():
    result = subprocess.run(
        [
            sys.executable,
            "bench/soak.py",
            "--quick",
            "--pg-server",
            _server(os.environ["DATABASE_URL"]),
            "--redis-server",
            _server(os.environ["REDIS_URL"]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, result.stdout + result.stderr[-3000:]
    line = json.loads(lines[0])
    assert result.returncode == 0, (lines[0], result.stderr[-3000:])
    assert line["lost"] == 0 and line["duplicated"] == 0, lines[0]
    # The reconciliation covered real traffic: every message reached all 40 members of
    # its group, and the reconnecting clients fetched what they missed on catch-up.
    assert line["sent"] > 0 and line["connected"] == line["clients"], lines[0]
    assert line["received"] == line["persisted"] * line["clients"] // line["groups"], lines[0]
    assert line["reconnects"] > 0 and line["catchup_fetched"] > 0, lines[0]
