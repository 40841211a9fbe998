"""`make demo` serves the branded login page and the demo admin can log in."""

import re

import pytest

pytestmark = pytest.mark.e2e


def test_demo_admin_logs_in_to_the_branded_organisation(browser, demo_server):
    found = re.search(r"e-mail:\s+(\S+)\s+password:\s+(\S+)", demo_server.output)
    assert found, demo_server.output
    email, password = found.groups()

    context = browser.new_context()
    page = context.new_page()
    external = []
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(demo_server.url) or r.url.startswith("data:")
            else external.append(r.url)
        ),
    )
    page.goto(f"{demo_server.url}/login/")
    assert page.locator("input[name=password]").is_visible()
    page.fill("input[type=email], input[name=email], input[name=username]", email)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    assert "/login/" not in page.url
    body = page.content()
    assert "Northfield" in body
    # The organisation's brand colour is applied to the page.
    brand = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand')")
    assert brand.strip().lower() == "#0f766e"  # Northfield's colour, not Tack's default
    assert external == [], f"pages must not load anything from another host: {external}"
    context.close()


def test_wrong_password_stays_on_the_login_page(browser, demo_server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{demo_server.url}/login/")
    page.fill(
        "input[type=email], input[name=email], input[name=username]",
        "admin@northfield-dairy.example",
    )
    page.fill("input[name=password]", "definitely-wrong")
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    assert "/login/" in page.url
    context.close()
