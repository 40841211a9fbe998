"""Scale-out: two ASGI server processes share PostgreSQL and Redis.

A message sent through process A reaches a WebSocket held by process B, and a read
made through B shows in the receipts read through A (and on A's sockets). Runs on the
services configuration only (``make test-services`` / CI's second pass): the embedded
mode is one process by definition.
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
import requests
from django.conf import settings
from django.db import connection

from core.actions import do_create_api_token
from im.actions import do_create_group
from tests.e2e.conftest import ROOT, free_port, start_uvicorn

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")),
        reason="needs PostgreSQL and Redis (make test-services)",
    ),
    pytest.mark.django_db(transaction=True),
]


def _server_env() -> dict[str, str]:
    """The test database (committed rows are visible to the servers) and the same Redis."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        REDIS_URL=os.environ["REDIS_URL"],
        DJANGO_SETTINGS_MODULE="config.settings.base",
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def two_servers():
    env = _server_env()
    ports = [free_port(), free_port()]
    processes = [start_uvicorn(env, port) for port in ports]
    yield [f"http://127.0.0.1:{port}" for port in ports]
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=10)


async def _next(ws, kind: str, timeout: float = 10.0) -> dict:
    async def wait() -> dict:
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == kind:
                return frame

    return await asyncio.wait_for(wait(), timeout)


def test_events_and_receipts_cross_processes(two_servers, owner, member):
    import websockets

    server_a, server_b = two_servers
    group = do_create_group(owner, name="Scale-out", member_ids=[member.pk])
    sender = do_create_api_token(owner.user, name="A").secret
    reader = do_create_api_token(member.user, name="B").secret
    org = owner.org_id
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis")

    async def scenario() -> None:
        host_b, host_a = urlparse(server_b).netloc, urlparse(server_a).netloc
        async with (
            websockets.connect(f"ws://{host_b}/ws/?token={reader}", origin=server_b) as on_b,
            websockets.connect(f"ws://{host_a}/ws/?token={sender}", origin=server_a) as on_a,
        ):
            await _next(on_b, "hello")
            await _next(on_a, "hello")
            sent = await asyncio.to_thread(
                requests.post,
                f"{server_a}/api/v1/orgs/{org}/conversations/{group.pk}/messages/",
                json={"body": "sent through A"},
                headers={"Authorization": f"Bearer {sender}"},
                timeout=10,
            )
            assert sent.status_code == 201, sent.text
            message_id = sent.json()["id"]
            event = await _next(on_b, "message.created")
            assert event["message"]["id"] == message_id
            assert event["message"]["body"] == "sent through A"

            read = await asyncio.to_thread(
                requests.post,
                f"{server_b}/api/v1/orgs/{org}/conversations/{group.pk}/read/",
                json={"message_id": message_id},
                headers={"Authorization": f"Bearer {reader}"},
                timeout=10,
            )
            assert read.status_code == 200, read.text
            seen = await _next(on_a, "read")
            assert seen["membership_id"] == member.pk
            assert seen["last_read_message_id"] == message_id

        receipts = requests.get(
            f"{server_a}/api/v1/orgs/{org}/messages/{message_id}/receipts/",
            headers={"Authorization": f"Bearer {sender}"},
            timeout=10,
        )
        assert receipts.status_code == 200, receipts.text
        assert receipts.json()["read_count"] == 1
        assert receipts.json()["unread_count"] == 0

    # In a thread of its own: Playwright's sync API (the e2e tests) keeps a loop running
    # in the main thread for the rest of the session.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()
