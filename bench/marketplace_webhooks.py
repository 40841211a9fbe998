"""Webhook delivery throughput: ``run_webhook_bench(count)`` → deliveries per second.

Called by ``bench/marketplace.py`` after it has configured Django (``django.setup()``) on
its benchmark database. It starts a receiver in its own process (a threaded HTTP/1.1
keep-alive server on 127.0.0.1 that answers 204), installs an app subscribed to
``lowcode.record.created`` in a fresh organisation, queues ``count`` deliveries in one
insert (what ``marketplace.events.emit`` does) and times the delivery itself: batches of
``TACK_WEBHOOK_BATCH_SIZE`` through ``marketplace.webhooks.deliver_batch`` (what a Celery
worker runs: claim, sign, POST with one keep-alive session per thread, record every
attempt). It checks that the receiver got every delivery exactly once.

Standalone (its own PostgreSQL database ``tack_bench_webhooks``, Redis DB 12)::

    .venv/bin/python bench/marketplace_webhooks.py [--count 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

RECEIVER = r"""
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
seen = set(); dupes = [0]; lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg = self.headers.get("webhook-id", "")
        with lock:
            if msg in seen: dupes[0] += 1
            seen.add(msg)
        self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        out = ("%d %d" % (len(seen), dupes[0])).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(out)))
        self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H); s.daemon_threads = True
print(s.server_address[1], flush=True); s.serve_forever()
"""


def _log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _start_receiver() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def _receiver_counts(port: int) -> tuple[int, int]:
    import requests

    seen, dupes = requests.get(f"http://127.0.0.1:{port}/", timeout=10).text.split()
    return int(seen), int(dupes)


def _installation(url: str) -> Any:
    import uuid

    from core.models import Membership, Organization, User
    from marketplace.models import App, AppVersion, Installation, Partner

    suffix = uuid.uuid4().hex[:8]
    org = Organization.objects.create(name=f"Hooks {suffix}", slug=f"hooks-{suffix}")
    user = User.objects.create(
        email=f"hooks-{suffix}@bench.invalid", display_name="O", password="!"
    )
    owner = Membership.objects.create(org=org, user=user, role="owner", status="active")
    partner = Partner.objects.create(
        name=f"Bench {suffix}", slug=f"bench-{suffix}", contact_email="b@bench.invalid"
    )
    app = App.objects.create(partner=partner, app_id=f"bench.hooks.{suffix}", name="Hooks")
    scopes = ["lowcode:record.read"]
    manifest = {
        "id": app.app_id,
        "name": "Hooks",
        "version": "1.0.0",
        "scopes": scopes,
        "webhook": {"url": url, "events": ["lowcode.record.created"]},
    }
    version = AppVersion.objects.create(
        app=app, version="1.0.0", manifest=manifest, scopes=scopes, status="published"
    )
    return Installation.objects.create(
        org=org, app=app, version=version, granted_scopes=scopes, installed_by=owner
    )


def _queue(installation: Any, count: int) -> list[int]:
    from django.utils import timezone

    from marketplace.events import create_deliveries

    ids: list[int] = []
    for n in range(count):  # one event per record, as record creation emits them
        ids += create_deliveries(
            installation.org_id,
            "lowcode.record.created",
            {"record": {"id": n, "form_id": 1, "number": n, "data": {"amount": n * 100}}},
            timezone.now(),
            installations=[installation],
        )
    return ids


def run_webhook_bench(count: int) -> float:
    """Deliveries per second to a local receiver (Django must already be set up)."""
    from django.conf import settings

    from marketplace.models import WebhookDelivery
    from marketplace.webhooks import deliver_batch

    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = True  # the receiver is on 127.0.0.1
    proc, port = _start_receiver()
    try:
        installation = _installation(f"http://127.0.0.1:{port}/hooks")
        ids = _queue(installation, count)
        batch = max(1, int(settings.TACK_WEBHOOK_BATCH_SIZE))
        _log(f"webhooks: {len(ids)} queued; delivering in batches of {batch}")
        t0 = time.perf_counter()
        for start in range(0, len(ids), batch):
            deliver_batch(ids[start : start + batch])
        elapsed = time.perf_counter() - t0
        delivered = WebhookDelivery.objects.filter(pk__in=ids, status="delivered").count()
        seen, dupes = _receiver_counts(port)
        _log(f"webhooks: {delivered} delivered, receiver saw {seen} ({dupes} duplicates)")
        if delivered != count or seen != count or dupes:
            raise RuntimeError(f"expected {count} deliveries; delivered {delivered}, saw {seen}")
        return count / elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_support", BENCH_DIR / "_support.py")
    assert spec is not None and spec.loader is not None
    support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(support)
    pg = "postgres://postgres@127.0.0.1:5432"
    env = support.bench_env(f"{pg}/tack_bench_webhooks", "redis://127.0.0.1:6379/15", "webhooks")
    os.environ.update(env)
    support.reset_services(env, pg, ["tack_bench_webhooks"], skip_checks=True)
    import django

    django.setup()
    rate = run_webhook_bench(args.count)
    print(json.dumps({"webhooks_per_s": round(rate, 1), "count": args.count}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
