"""Hostile content: XSS, HTML injection and Markdown abuse in every user-text field.

Each payload goes in through the real write paths (names, messages, card fields, app,
form, field and choice labels, record values) and the pages that show it are opened in
Chromium. No payload may run script (each one tries to set ``window.__xss`` or open a
dialog), and the text must still be there for people to read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import seeded_server

pytestmark = pytest.mark.e2e

PASSWORD = "hostile-e2e-password-1"
WAIT = 8000

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    "<svg/onload=window.__xss=3>",
    '"><script>window.__xss=4</script>',
    "'><img src=x onerror=alert(5)>",
    "[click](javascript:window.__xss=6)",
    '![x](x" onerror="window.__xss=7)',
    "<iframe srcdoc='<script>parent.__xss=8</script>'></iframe>",
    '<a href="javascript:window.__xss=9">link</a>',
    "{{constructor.constructor('window.__xss=10')()}}",
    "<details open ontoggle=window.__xss=11>",
    "<style>body{display:none}</style>",
]
MARK = "HOSTILE"  # every payload carries it so the test can find the text on the page

SEED = f"""
import json, django
django.setup()
from core.actions import do_create_organization
from core.models import Membership, User
from im.actions import do_create_group, do_send_message
from im.bots import do_create_bot, do_post_bot_message
from lowcode.actions import (
    do_create_app, do_create_form, do_create_record, do_publish_form, do_update_app,
    do_save_lookup,
)

payloads = {json.dumps([f"{MARK}{i} {p}" for i, p in enumerate(PAYLOADS)])}
short = [p[:75] for p in payloads]
alice = User.objects.create_user("alice@hostile.example", "{PASSWORD}", display_name=short[0])
bob = User.objects.create_user("bob@hostile.example", "{PASSWORD}", display_name=short[1])
org = do_create_organization(alice, name=short[2])
a = Membership.objects.get(org=org, user=alice)
b = Membership.objects.create(org=org, user=bob, role="member", title=short[3])
group = do_create_group(a, name=short[4], member_ids=[b.pk])
for text in payloads:
    do_send_message(b, group, body=text)
bot = do_create_bot(a, name=short[5][:80], conversation_id=group.pk).bot
card = {{
    "title": short[6],
    "fields": [{{"label": short[7], "value": payloads[8]}}],
    "buttons": [{{"action_id": "go", "label": short[9]}}],
    "footer": payloads[10],
}}
do_post_bot_message(bot, group, text=payloads[11], card=card)

app = do_create_app(a, name=short[0][:80], description=payloads[1])
choices = [{{"id": f"c{{i}}", "label": p[:100]}} for i, p in enumerate(payloads)]
fields = [
    {{"key": "batch", "type": "text", "label": short[2][:100], "help": payloads[3][:300],
      "indexed": True}},
    {{"key": "notes", "type": "long_text", "label": short[4][:100]}},
    {{"key": "kind", "type": "single_select", "label": short[5][:100],
      "options": {{"choices": choices}}}},
]
form = do_create_form(a, app, name=short[6][:80], fields=fields)
do_publish_form(a, form)
do_update_app(a, app, is_published=True)
for i, text in enumerate(payloads):
    do_create_record(a, form, {{"batch": text[:200], "notes": text, "kind": f"c{{i}}"}})
lookup = do_save_lookup(a, form, name=short[7][:80], input_field="batch", columns=["notes", "kind"])
print(json.dumps({{"org": org.pk, "group": group.pk, "app": app.pk, "form": form.pk,
                  "lookup": lookup.pk}}))
"""


@dataclass
class Server:
    url: str
    ids: dict[str, int]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with seeded_server(tmp_path_factory, "hostile", SEED) as (url, ids):
        yield Server(url, ids)


@pytest.fixture(scope="module")
def page(browser, server: Server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", "alice@hostile.example")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    yield page
    context.close()


def assert_inert(page, *, expect_marks: int) -> None:
    """No payload ran, and at least ``expect_marks`` payload texts are readable."""
    page.wait_for_timeout(300)  # let late handlers (onerror, ontoggle) fire if they would
    assert page.evaluate("window.__xss === undefined && parent.__xss === undefined")
    assert page.dialogs == []
    assert page.errors == []  # no script error, no Content-Security-Policy violation
    text = page.inner_text("body")
    shown = {i for i in range(len(PAYLOADS)) if f"{MARK}{i}" in text}
    assert len(shown) >= expect_marks, (shown, text[:2000])
    assert page.evaluate("getComputedStyle(document.body).display") != "none"


def test_chat_shows_hostile_names_messages_and_cards_as_text(page, server: Server):
    page.goto(f"{server.url}/o/{server.ids['org']}/chat/?c={server.ids['group']}")
    page.locator(".room-title").wait_for()
    page.get_by_text(f"{MARK}11", exact=False).first.wait_for()
    assert_inert(page, expect_marks=len(PAYLOADS))
    assert "<script>" in page.inner_text("body")  # shown as text, not swallowed


def test_member_directory_and_home_show_hostile_names_as_text(page, server: Server):
    page.goto(f"{server.url}/o/{server.ids['org']}/members/")
    assert_inert(page, expect_marks=3)
    page.goto(f"{server.url}/o/{server.ids['org']}/")
    assert_inert(page, expect_marks=1)


@pytest.mark.parametrize(
    ("path", "marks", "ready"),
    [
        ("apps/", 1, ".lc-app-card"),
        ("apps/{app}/", 1, "[data-forms]"),
        ("apps/forms/{form}/records/", 6, "tbody tr"),
        ("apps/forms/{form}/fill/", 3, "[data-fill-fields] label"),
        ("apps/forms/{form}/design/", 3, "[data-canvas] li, [data-canvas] > *"),
        ("apps/lookups/{lookup}/", 1, "[data-lookup-q]"),
    ],
)
def test_low_code_pages_show_hostile_values_as_text(page, server: Server, path, marks, ready):
    ids = server.ids
    page.goto(f"{server.url}/o/{ids['org']}/" + path.format(**ids))
    page.locator(ready).first.wait_for()
    page.wait_for_load_state("networkidle")
    assert_inert(page, expect_marks=marks)


def test_a_lookup_for_a_hostile_value_finds_it_and_runs_nothing(page, server: Server):
    ids = server.ids
    page.goto(f"{server.url}/o/{ids['org']}/apps/lookups/{ids['lookup']}/")
    box = page.locator("[data-lookup-q]")
    box.fill(f'{MARK}1 <img src=x onerror="window.__xss=2">')
    box.press("Enter")
    page.get_by_text(f"{MARK}1", exact=False).first.wait_for()
    assert_inert(page, expect_marks=1)
