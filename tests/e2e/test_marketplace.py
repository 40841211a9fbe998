"""The marketplace in a real browser: from a partner's manifest to an installed app.

Pat (a developer) signs "Acme Apps" up as a partner, creates the app ``com.acme.expense``
(its OAuth client secret is shown once), pastes a manifest (a broken one first: every
problem is listed by its JSON path), fixes it and submits it. Olga, an operator, opens
the review queue and approves it; Pat publishes it. Alice, an organisation admin, finds
it in the catalogue by searching, reads what it may do, consents and installs it, and
sees it on the installed-apps page. In the chat she adds it to her "Expenses" group from
the group's details panel; the app, with a client-credentials token fetched by authlib,
posts a card there and updates it, and both appear live in her browser. Then she
uninstalls it. No console errors, no request to another host.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.conftest import BrowserSession, seeded_server

pytestmark = pytest.mark.e2e

PASSWORD = "marketplace-e2e-password-1"
WAIT = 15000  # ms
SHOTS = os.environ.get("TACK_E2E_SCREENSHOTS", "")

SEED = f"""
import json, django
django.setup()
from core.actions import do_create_organization
from core.models import Membership, User
from im.actions import do_create_group

pat = User.objects.create_user("pat@partner.example", "{PASSWORD}", display_name="Pat Partner")
olga = User.objects.create_user(
    "olga@ops.example", "{PASSWORD}", display_name="Olga Operator", is_staff=True
)
alice = User.objects.create_user("alice@harbour.example", "{PASSWORD}", display_name="Alice Chen")
org = do_create_organization(alice, name="Harbour Foods")
group = do_create_group(Membership.objects.get(org=org, user=alice), name="Expenses", member_ids=[])
print(json.dumps({{"org": org.pk, "group": group.pk}}))
"""

MANIFEST = {
    "id": "com.acme.expense",
    "name": "Quick Expense",
    "summary": "Expense claims from chat.",
    "description": "Submit and approve expense claims without leaving the chat.",
    "version": "1.0.0",
    "categories": ["finance"],
    "scopes": ["core:member.read", "im:card.write"],
    "webhook": {"url": "https://127.0.0.1:9/hooks", "events": ["app.installed"]},
    "cards": [
        {
            "id": "claim",
            "name": "Expense claim",
            "callback_url": "https://127.0.0.1:9/cards",
            "sample": {"title": "Taxi 58.00 CNY"},
        }
    ],
    "oauth": {"redirect_uris": ["https://expense.example.test/oauth/callback"]},
    "pricing": {
        "plans": [
            {"code": "free", "name": "Free", "type": "free"},
            {
                "code": "team",
                "name": "Team",
                "type": "per_seat",
                "interval": "month",
                "amount": 1200,
                "currency": "CNY",
                "trial_days": 14,
            },
        ]
    },
}


@dataclass
class Server:
    url: str
    ids: dict[str, int]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    extra = {"TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS": "1"}
    with seeded_server(tmp_path_factory, "marketplace", SEED, extra) as (url, ids):
        yield Server(url, ids)


def signed_in(browser, server: Server, email: str) -> BrowserSession:
    return BrowserSession(
        browser, server.url, email, PASSWORD, wait_ms=WAIT, shot_prefix="marketplace-"
    )


def test_partner_submits_operator_approves_admin_installs_with_consent(browser, server):
    from playwright.sync_api import expect

    base, org = server.url, server.ids["org"]

    # --- Pat: partner sign-up, app, manifest, submit ----------------------------------
    pat = signed_in(browser, server, "pat@partner.example")
    page = pat.page
    page.goto(f"{base}/partners/")
    page.get_by_label("Company name").fill("Acme Apps")
    page.get_by_role("button", name="Create partner").click()
    page.wait_for_url(lambda url: url.rstrip("/").split("/")[-1].isdigit())
    expect(page.locator("h1")).to_have_text("Acme Apps")
    page.get_by_label("App id (reverse-DNS)").fill("com.acme.expense")
    page.get_by_label("Name", exact=True).fill("Quick Expense")
    page.get_by_label("OAuth redirect URIs (one per line)").fill(
        "https://expense.example.test/oauth/callback"
    )
    page.get_by_role("button", name="Create app").click()
    result = page.locator("[data-mp-result]")
    expect(result).to_be_visible()
    secret = result.locator('[data-mp-field="client_secret"]').inner_text()
    client_id = result.locator('[data-mp-field="client_id"]').inner_text()
    assert len(secret) >= 30 and client_id
    pat.shot("app-created")
    result.get_by_role("link", name="Continue to the app").click()
    page.wait_for_url(lambda url: "/partners/apps/" in url)
    assert secret not in page.content()  # shown once only

    editor = page.locator("textarea[data-json]")
    broken = {**MANIFEST, "scopes": ["core:member.read"], "version": "1.0"}
    editor.fill(json.dumps(broken))
    page.get_by_role("button", name="Save draft").click()
    errors = page.locator("[data-mp-manifest-form] [data-mp-errors]")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("version")
    expect(errors).to_contain_text("cards")  # cards need im:card.write
    pat.shot("manifest-errors")
    editor.fill(json.dumps(MANIFEST, indent=2))
    page.get_by_role("button", name="Save draft").click()
    version = page.locator("article.mp-version").first
    expect(version.locator("[data-version-status]")).to_have_text("Draft")
    version.get_by_role("button", name="Submit for review").click()
    expect(page.locator("article.mp-version").first.locator("[data-version-status]")).to_have_text(
        "Submitted for review"
    )
    pat.shot("submitted")
    app_page = page.url

    # --- Olga: review queue, approve ------------------------------------------------
    olga = signed_in(browser, server, "olga@ops.example")
    page = olga.page
    page.goto(f"{base}/ops/review/")
    page.locator("[data-mp-queue]").get_by_role("link", name="Quick Expense").click()
    expect(page.locator(".mp-scope.is-new")).to_have_count(2)  # first version: all new
    olga.shot("review")
    page.locator("[data-mp-approve]").click()
    page.wait_for_url(f"{base}/ops/review/")
    expect(page.get_by_text("Nothing to review")).to_be_visible()
    olga.check_clean()

    # --- Pat publishes -----------------------------------------------------------------
    page = pat.page
    page.goto(app_page)
    version = page.locator("article.mp-version").first
    expect(version.locator("[data-version-status]")).to_have_text("Approved")
    version.get_by_role("button", name="Publish").click()
    page.locator("#confirm-dialog [data-confirm-ok]").click()
    expect(page.locator("article.mp-version").first.locator("[data-version-status]")).to_have_text(
        "Published"
    )
    pat.check_clean()

    # --- Alice: catalogue, consent, install -------------------------------------------
    alice = signed_in(browser, server, "alice@harbour.example")
    page = alice.page
    page.goto(f"{base}/o/{org}/")
    page.locator("details.launcher summary").click()
    page.locator(".launcher-item", has_text="Marketplace").click()
    page.wait_for_url(f"{base}/o/{org}/marketplace/")
    page.get_by_role("searchbox").fill("expense")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("[data-mp-apps] .mp-tile")).to_have_count(1)
    alice.shot("catalogue")
    page.locator("[data-mp-apps]").get_by_text("Quick Expense").click()
    expect(page.locator("h1")).to_have_text("Quick Expense")
    expect(page.locator(".mp-scopes")).to_contain_text("See the member directory")
    expect(page.locator(".mp-plans")).to_contain_text("12.00 CNY per member / month")
    alice.shot("app-page")
    page.locator("[data-mp-install-link]").click()
    submit = page.get_by_role("button", name="Consent and install")
    expect(submit).to_be_disabled()
    expect(page.locator(".mp-scope.is-write")).to_contain_text("im:card.write")
    page.locator("[data-mp-agree]").check()
    alice.shot("consent")
    submit.click()
    page.wait_for_url(f"{base}/o/{org}/marketplace/installed/")
    installed = page.locator(".mp-installed")
    expect(installed).to_have_count(1)
    expect(installed).to_contain_text("Quick Expense")
    expect(installed).to_contain_text("Post and update interactive cards")
    alice.shot("installed")

    # --- Alice adds the app to her "Expenses" group chat --------------------------------
    group = server.ids["group"]
    page.goto(f"{base}/o/{org}/chat/?c={group}")
    expect(page.locator("[data-room-title]")).to_have_text("Expenses")
    page.get_by_role("button", name="Group details").click()
    apps = page.locator("[data-chat-apps]")
    expect(apps).to_contain_text("No apps in this group yet.")
    apps.get_by_label("Add an app").select_option(label="Quick Expense")
    apps.get_by_role("button", name="Add", exact=True).click()
    added = apps.locator("[data-cool-app]")
    expect(added).to_have_count(1)
    expect(added).to_contain_text("Quick Expense")
    expect(added).to_contain_text("Added by Alice Chen")
    expect(added.get_by_role("button", name="Remove Quick Expense from this group")).to_be_visible()
    expect(apps.get_by_label("Add an app")).to_have_count(0)  # nothing else can post cards
    alice.shot("chat-apps")

    # --- The app, server to server: a client-credentials token, then a card -------------
    with OAuth2Session(client_id, secret, scope="im:card.write") as app:
        token = app.fetch_token(
            f"{base}/oauth/token/", grant_type="client_credentials", org=str(org)
        )
        assert token["scope"] == "im:card.write"
        card = {
            "title": "Taxi 58.00 CNY",
            "fields": [{"label": "Submitted by", "value": "Alice Chen"}],
            "buttons": [{"action_id": "approve", "label": "Approve", "style": "primary"}],
            "footer": "Quick Expense",
        }
        posted = app.post(
            f"{base}/api/v1/orgs/{org}/app-cards/",
            json={"conversation_id": group, "card": card, "idempotency_key": "claim-1"},
        )
        assert posted.status_code == 201, posted.text
        message = page.locator(f'[data-message-id="{posted.json()["id"]}"]')
        expect(message.locator(".msg-sender")).to_have_text("Quick Expense")  # live, no reload
        shown = message.locator(".msg-card")
        expect(shown.locator(".msg-card-title")).to_have_text("Taxi 58.00 CNY")
        expect(shown).to_contain_text("Submitted by")
        expect(shown).to_contain_text("Alice Chen")
        expect(shown.get_by_role("button", name="Approve")).to_be_visible()
        alice.shot("chat-card")

        updated = app.patch(
            f"{base}/api/v1/orgs/{org}/app-cards/{posted.json()['id']}/",
            json={"card": {**card, "fields": [{"label": "Status", "value": "Approved"}]}},
        )
        assert updated.status_code == 200, updated.text
        expect(shown).to_contain_text("Approved")
        expect(shown).not_to_contain_text("Submitted by")

    # A click goes to the app's callback, which is not listening here: a clear error.
    shown.get_by_role("button", name="Approve").click()
    expect(page.locator("[data-toasts]")).to_contain_text("did not answer")

    # Removing the app from the group asks first.
    added.get_by_role("button", name="Remove Quick Expense from this group").click()
    page.locator("#confirm-dialog [data-confirm-ok]").click()
    expect(apps).to_contain_text("No apps in this group yet.")
    expect(apps.get_by_label("Add an app").locator("option")).to_have_text(["Quick Expense"])

    # Uninstalling asks first, then the app's access is gone.
    page.goto(f"{base}/o/{org}/marketplace/installed/")
    installed = page.locator(".mp-installed")
    installed.get_by_role("button", name="Uninstall").click()
    page.locator("#confirm-dialog [data-confirm-ok]").click()
    expect(page.get_by_text("No apps installed")).to_be_visible()
    expect(page.locator(".mp-removed")).to_contain_text("Quick Expense")
    alice.check_clean()
