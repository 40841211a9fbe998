"""The usage console in a real browser, on the demo: an admin opens it from the module menu,
reads today's DAG status with its reason in plain words, and sees the trend chart drawn
from 90 days of demo activity (30 and 90 days). A platform operator opens the dashboard,
sees the DAG trend, is told why a malformed threshold is refused, and saves a new version.
No console errors, nothing from another host.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ROOT, Server, embedded_env, free_port, start_uvicorn

pytestmark = pytest.mark.e2e

OPERATOR = "operator@tack.example"
OPERATOR_PASSWORD = "operator-e2e-password-1"
MAKE_OPERATOR = f"""
import django
django.setup()
from core.models import User
User.objects.create_user({OPERATOR!r}, {OPERATOR_PASSWORD!r}, display_name="Olga Operator",
                         is_staff=True)
"""


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo (90 days of usage, rolled up) plus a platform operator account."""
    env = embedded_env(tmp_path_factory.mktemp("ops-var"))
    port = free_port()
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([*manage, "demo"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", MAKE_OPERATOR], env=env, cwd=ROOT, check=True)
    process = start_uvicorn(env, port)
    yield Server(f"http://127.0.0.1:{port}", process, "")
    process.terminate()
    process.wait(timeout=10)


WAIT = 15000  # ms


def test_admin_sees_todays_status_and_the_trend(browser, demo_server):
    found = re.search(r"e-mail:\s+(\S+)\s+password:\s+(\S+)", demo_server.output)
    assert found, demo_server.output
    email, password = found.groups()
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    external: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(demo_server.url) or r.url.startswith("data:")
            else external.append(r.url)
        ),
    )
    page.goto(f"{demo_server.url}/login/")
    page.fill("input[type=email], input[name=email], input[name=username]", email)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state("networkidle")

    page.locator("summary[aria-label='Modules']").click()  # the module launcher
    page.locator("[data-metrics-link]").click()
    page.wait_for_url(re.compile(r"/o/\d+/admin/metrics/$"))
    reason = page.locator("[data-metrics-reason]").inner_text()
    assert re.search(
        r"\d+% of members active \(\d+ of \d+\), needs 33%; \d+ of 6 systems used", reason
    ), reason

    canvas = page.locator("canvas[data-metrics-chart]")
    canvas.wait_for(state="visible")
    page.wait_for_selector("canvas[data-metrics-chart][data-rendered=true]", timeout=WAIT)
    summary = page.locator("[data-metrics-summary]").inner_text()
    assert re.search(r"\d+ of 30 days active", summary), summary
    assert int(summary.split(" ")[0]) > 0  # the demo crosses the DAG line in the last month

    # The canvas really has pixels drawn on it (not a blank element).
    painted = page.evaluate(
        """() => {
          const c = document.querySelector('canvas[data-metrics-chart]');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
          return n;
        }"""
    )
    assert painted > 1000

    page.locator("[data-range='90']").click()
    page.wait_for_function(
        "() => /of 90 days active/"
        ".test(document.querySelector('[data-metrics-summary]').textContent)",
        timeout=WAIT,
    )
    assert page.locator("[data-range='90']").get_attribute("aria-pressed") == "true"
    assert page.locator("[data-metrics-departments] tbody tr").count() >= 5

    _change_the_brand_colour_and_see_it_applied(page, demo_server.url)  # (H7: branding)
    assert errors == [], errors
    assert external == [], external
    context.close()


def _brand_colour(page) -> str:
    value = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand')")
    return str(value).strip().lower()


def _save_brand_colour(page, settings_url: str, colour: str) -> None:
    page.goto(settings_url)
    page.locator("input[name=brand_color]").fill(colour)
    page.locator("form button.btn-primary", has_text="Save").click()
    page.wait_for_load_state("networkidle")


def _change_the_brand_colour_and_see_it_applied(page, base_url: str) -> None:
    """In the console's settings the admin picks a new colour; every page wears it."""
    org_path = re.search(r"/o/\d+/", page.url).group(0)
    settings_url = f"{base_url}{org_path}settings/"
    page.goto(settings_url)
    before = _brand_colour(page)
    assert before and before != "#7c3aed"
    try:
        # The live preview follows the picker before anything is saved.
        page.locator("input[name=brand_color]").fill("#7c3aed")
        preview = page.locator("[data-brand-preview-root]").evaluate(
            "el => getComputedStyle(el).getPropertyValue('--preview-brand')"
        )
        assert preview.strip().lower() == "#7c3aed"
        assert _brand_colour(page) == before  # the page itself changes only once saved
        _save_brand_colour(page, settings_url, "#7c3aed")
        assert "Organisation settings saved" in page.content()
        assert _brand_colour(page) == "#7c3aed"
        page.goto(f"{base_url}{org_path}")  # every page of the organisation wears it
        assert _brand_colour(page) == "#7c3aed"
        button = page.locator(".btn-primary").first
        if button.count():
            rgb = button.evaluate("el => getComputedStyle(el).backgroundColor")
            assert rgb.replace(" ", "") == "rgb(124,58,237)"
    finally:
        _save_brand_colour(page, settings_url, before)  # the demo server is shared
    assert _brand_colour(page) == before


def test_operator_sees_the_platform_and_versions_the_rule(browser, ops_server):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "400" not in m.text  # the refused threshold, on purpose
            else None
        ),
    )
    page.goto(f"{ops_server.url}/login/")
    page.fill("input[type=email], input[name=email], input[name=username]", OPERATOR)
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    page.goto(f"{ops_server.url}/ops/metrics/")
    page.wait_for_selector("canvas[data-ops-chart][data-rendered=true]", timeout=WAIT)
    assert int(page.locator("[data-ops-dag]").inner_text()) >= 1
    assert page.locator("[data-ops-buckets] tbody tr").count() == 5
    assert "Harbour Logistics" in page.locator("[data-ops-top]").inner_text()

    page.fill("#def-share", "3/2")
    page.locator("[data-definition-form] button[type=submit]").click()
    error = page.locator("#def-share-error")
    error.wait_for(state="visible", timeout=WAIT)
    assert "1/3" in error.inner_text()

    page.fill("#def-share", "1/4")
    page.fill("#def-systems", "3")
    page.locator("[data-definition-form] button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "() => document.querySelector('#def-share').value === '1/4'", timeout=WAIT
    )
    assert "definition v2" in page.locator(".lead").inner_text()
    assert errors == [], errors
    context.close()
