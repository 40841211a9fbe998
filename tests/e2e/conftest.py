"""Real-browser tests: Debian's Chromium driven by Playwright.

Chromium comes from the system package (``apt-get install chromium``); Playwright's own
browser download is not used. Without Chromium these tests skip, unless
``TACK_REQUIRE_BROWSER=1`` (set by CI), where a missing browser is a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TACK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _require_chromium() -> None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if os.environ.get("TACK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} but TACK_REQUIRE_BROWSER=1")
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embedded_env(var_dir: Path) -> dict[str, str]:
    """The environment of a fresh machine: no services, state under ``var_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(TACK_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="config.settings.base")
    return env


def start_uvicorn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """A real uvicorn serving ``config.asgi:application`` on 127.0.0.1:``port``, once it accepts."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("uvicorn did not start")


class Server:
    def __init__(self, url: str, process: subprocess.Popen[bytes], output: str) -> None:
        self.url, self.process, self.output = url, process, output


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """What ``make demo`` does: migrate, load the demo, serve with uvicorn."""
    var_dir = tmp_path_factory.mktemp("demo-var")
    env = embedded_env(var_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    demo = subprocess.run(
        [*manage, "demo", "--url", url],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    process = start_uvicorn(env, port)
    yield Server(url, process, demo.stdout)
    process.terminate()
    process.wait(timeout=10)


@contextlib.contextmanager
def seeded_server(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    seed: str,
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A fresh embedded Tack: migrate, run the ``seed`` script (its last line of output is
    JSON with the ids the test needs), serve with uvicorn. Yields ``(url, ids)``."""
    env = embedded_env(tmp_path_factory.mktemp(f"{name}-var"))
    env.update(extra_env or {})
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    seeded = subprocess.run(
        [sys.executable, "-c", seed], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    ids = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    process = start_uvicorn(env, port)
    try:
        yield f"http://127.0.0.1:{port}", ids
    finally:
        process.terminate()
        process.wait(timeout=10)


SHOTS = os.environ.get("TACK_E2E_SCREENSHOTS", "")


class BrowserSession:
    """A signed-in browser context that records console and page errors, API answers of
    400 and above, and every request to another host (no page may make one)."""

    def __init__(
        self,
        browser: Any,
        base_url: str,
        email: str,
        password: str,
        *,
        viewport: dict[str, int] | None = None,
        wait_ms: int = 15000,
        shot_prefix: str = "",
    ) -> None:
        self.base_url, self.shot_prefix = base_url, shot_prefix
        self.context = browser.new_context(viewport=viewport or {"width": 1360, "height": 900})
        self.context.set_default_timeout(wait_ms)
        self.page = self.context.new_page()
        self.external: list[str] = []
        self.errors: list[str] = []
        self.failed: list[tuple[str, str, int]] = []
        self.watch(self.page)
        self.page.goto(f"{base_url}/login/")
        self.page.fill("input[name=username]", email)
        self.page.fill("input[name=password]", password)
        self.page.locator("form button[type=submit]").click()
        self.page.wait_for_url(lambda url: "/login/" not in url)

    def watch(self, page: Any) -> None:
        """Record what ``page`` (this session's or another tab of it) does wrong."""

        def request(r: Any) -> None:
            if not (r.url.startswith(self.base_url) or r.url.startswith("data:")):
                self.external.append(r.url)

        def console(message: Any) -> None:
            # A 4xx answer is also logged by Chromium ("Failed to load resource"); answers
            # are recorded in ``failed`` instead.
            if message.type == "error" and not message.text.startswith("Failed to load"):
                self.errors.append(message.text)

        def response(r: Any) -> None:
            if r.status >= 400:
                self.failed.append((r.request.method, r.url, r.status))

        page.on("request", request)
        page.on("console", console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", response)

    def shot(self, name: str) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            path = Path(SHOTS) / f"{self.shot_prefix}{name}.png"
            self.page.screenshot(path=str(path), full_page=True)

    def check_clean(self) -> None:
        """No script error and no request to another host; then close."""
        assert self.errors == [], self.errors
        assert self.external == [], self.external
        self.context.close()

    def close(self) -> None:
        self.context.close()
