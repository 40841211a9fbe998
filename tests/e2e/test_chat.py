"""The chat page in a real browser: two people, live messages, receipts and a DING."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import seeded_server

pytestmark = pytest.mark.e2e

PASSWORD = "chat-e2e-password-1"
WAIT = 8000  # ms; every step is live, so anything slower than this is a bug

SEED = f"""
import json, django
django.setup()
from core.actions import do_create_organization
from core.models import Membership, User
from im.actions import do_create_group, do_send_message

alice = User.objects.create_user("alice@chat.example", "{PASSWORD}", display_name="Alice Chen")
bob = User.objects.create_user("bob@chat.example", "{PASSWORD}", display_name="Bob Li")
org = do_create_organization(alice, name="Harbour Logistics")
a = Membership.objects.get(org=org, user=alice)
b = Membership.objects.create(org=org, user=bob, role="member")
launch = do_create_group(a, name="Launch team", member_ids=[b.pk])
random = do_create_group(a, name="Random", member_ids=[b.pk])
do_send_message(b, random, body="Lunch at noon?")
print(json.dumps({{"org": org.pk, "launch": launch.pk, "random": random.pk,
                  "alice": a.pk, "bob": b.pk}}))
"""


@dataclass
class ChatServer:
    url: str
    ids: dict[str, int]


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    """uvicorn on the embedded default (SQLite, in-memory channel layer) with two members."""
    with seeded_server(tmp_path_factory, "chat", SEED) as (url, ids):
        yield ChatServer(url, ids)


def signed_in(browser, server: ChatServer, email: str, conversation: int):
    """A fresh context signed in as ``email`` through the login form, with a conversation open.

    Returns ``(context, page, external)``; ``external`` collects requests to other hosts.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT)
    page = context.new_page()
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.url) else external.append(r.url))
    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto(f"{server.url}/o/{server.ids['org']}/chat/?c={conversation}")
    page.locator(".room-title").wait_for()
    page.wait_for_function("document.querySelector('[data-connection]').dataset.state === 'up'")
    return context, page, external


def send(page, text: str) -> None:
    page.locator("[data-composer-input]").fill(text)
    page.locator("[data-composer-input]").press("Enter")


def test_live_messages_unread_badges_and_read_receipts(browser, chat_server):
    from playwright.sync_api import expect

    ids = chat_server.ids
    ctx_a, alice, alice_external = signed_in(
        browser, chat_server, "alice@chat.example", ids["launch"]
    )
    ctx_b, bob, bob_external = signed_in(browser, chat_server, "bob@chat.example", ids["launch"])
    try:
        expect(alice.locator(".room-title")).to_have_text("Launch team")

        # A sends; it appears in B's open conversation without a reload, and B reads it.
        send(alice, "Hello **team**")
        first = bob.locator(".msg", has_text="Hello team")
        expect(first).to_be_visible()
        expect(first.locator(".msg-sender")).to_have_text("Alice Chen")
        expect(first.locator("strong")).to_have_text("team")  # rendered Markdown
        mine = alice.locator(".msg", has_text="Hello team")
        expect(mine.locator(".receipt")).to_have_text("All read")

        # B looks at another conversation: the list's red dot counts A's next message live.
        bob.locator(f'a[data-conv-id="{ids["random"]}"]').click()
        expect(bob.locator(".room-title")).to_have_text("Random")
        send(alice, "Are we ready to ship?")
        second = alice.locator(".msg", has_text="Are we ready to ship?")
        expect(second.locator(".receipt")).to_have_text("1 unread")
        launch_item = bob.locator(f'a[data-conv-id="{ids["launch"]}"]')
        expect(launch_item.locator(".conv-badge")).to_have_text("1")

        # B opens it: the badge clears and A's label turns to "All read" without a reload.
        launch_item.click()
        expect(bob.locator(".msg", has_text="Are we ready to ship?")).to_be_visible()
        expect(launch_item.locator(".conv-badge")).to_have_count(0)
        expect(second.locator(".receipt")).to_have_text("All read")

        # The receipt panel lists B among those who have read it.
        second.locator(".receipt").click()
        expect(alice.locator("[data-panel]")).to_contain_text("Bob Li")

        assert alice_external == [] and bob_external == [], "no page may load from another host"
    finally:
        ctx_a.close()
        ctx_b.close()


def test_ding_is_confirmed_by_the_recipient_and_the_sender_sees_it_live(browser, chat_server):
    from playwright.sync_api import expect

    ids = chat_server.ids
    ctx_a, alice, _ = signed_in(browser, chat_server, "alice@chat.example", ids["launch"])
    ctx_b, bob, _ = signed_in(browser, chat_server, "bob@chat.example", ids["random"])
    try:
        alice.locator("[data-composer-input]").fill("Sign the release checklist by 17:00")
        alice.locator('[data-action="ding"]').click()
        dialog = alice.locator('[data-dialog="ding"]')
        expect(dialog).to_be_visible()
        dialog.locator(".member-option", has_text="Bob Li").click()
        dialog.locator('[data-action="send-ding"]').click()
        expect(dialog).to_be_hidden()

        ding = alice.locator(".msg-ding", has_text="Sign the release checklist")
        expect(ding.locator(".ding-status")).to_have_text("0 of 1 confirmed")
        ding.locator(".ding-status").click()
        panel = alice.locator("[data-panel]")
        expect(panel.locator("[data-ding-confirmed]")).not_to_contain_text("Bob Li")

        banner = bob.locator(".ding-banner")
        expect(banner).to_contain_text("DING from Alice Chen")
        expect(banner).to_contain_text("Sign the release checklist by 17:00")
        banner.locator('[data-action="confirm-ding"]').click()
        expect(banner).to_have_count(0)

        expect(panel.locator("[data-ding-confirmed]")).to_contain_text("Bob Li")
        expect(ding.locator(".ding-status")).to_have_text("1 of 1 confirmed")
    finally:
        ctx_a.close()
        ctx_b.close()
