"""Hostile content in the marketplace, billing, OAuth, metrics and settings pages.

The same corpus as ``test_hostile_content`` (XSS, HTML injection, Markdown abuse) goes in
through the real write paths: partner, partner member and payout names, app manifests
(name, summary, description, card definitions, price plan names), review notes and
rejection reasons, an app's chat card (title, fields, button, footer), messages that
become webhook payloads, organisation, brand, department and low-code app names, and the
OAuth ``state`` and catalogue search parameters. Each page that shows them is opened in
Chromium as the person who would see it (partner owner, operator, organisation admin):
no payload runs script, and each one is still readable, as text, not as escaped markup.

Fields with a strict format (ids, URLs, versions, categories, currencies) cannot carry a
payload: the manifest validation refuses them before any page could show them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest

from tests.e2e.conftest import seeded_server
from tests.e2e.test_hostile_content import MARK, PAYLOADS, assert_inert

pytestmark = pytest.mark.e2e

PASSWORD = "hostile-market-password-1"
WAIT = 10000
APP_ID = "com.hostile.cards"
CALLBACK = "https://hostile.example.test/oauth/callback"
CHALLENGE = "c" * 43  # PKCE S256 challenge: 43 base64url characters
#: An SVG icon that tries to run script; shown through <img>, it must stay inert.
ICON = (
    "data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="parent.__xss=20" width="8" height="8">'
        b"<script>parent.__xss=21</script><rect width='8' height='8'/></svg>"
    ).decode()
)


def hostile(i: int, tag: str, n: int = 4000) -> str:
    """Payload ``i`` labelled with the field it went into: ``HOSTILE3 [bank] <svg ...>``."""
    i %= len(PAYLOADS)
    return f"{MARK}{i} [{tag}] {PAYLOADS[i]}"[:n]


SEED = f"""
import json, django
django.setup()
from django.utils import timezone
from core.actions import (
    do_add_department_member, do_create_department, do_create_organization,
    do_update_organization,
)
from core.metrics.recording import note_activity
from core.metrics.rollup import rollup_day
from core.models import Membership, User
from core.security.actions import do_update_security_policy
from im.actions import do_create_group, do_send_message
from lowcode.actions import do_create_app as do_create_lowcode_app
from marketplace.actions import (
    do_add_partner_member, do_approve_version, do_create_app, do_create_partner,
    do_create_version, do_install_app, do_publish_version, do_reject_version,
    do_set_payout_details, do_submit_version,
)
from marketplace.coolapps import do_add_cool_app, do_post_app_card

PAYLOADS = {json.dumps(PAYLOADS)}
MARK = {MARK!r}
ICON = {ICON!r}


def h(i, tag, n=4000):
    i %= len(PAYLOADS)
    return f"{{MARK}}{{i}} [{{tag}}] {{PAYLOADS[i]}}"[:n]


def user(email, i, tag, **extra):
    return User.objects.create_user(email, {PASSWORD!r}, display_name=h(i, tag, 80), **extra)


alice = user("alice@hostile.example", 0, "alice")
pat = user("pat@hostile.example", 1, "pat")
fin = user("fin@hostile.example", 2, "fin")
olga = user("olga@hostile.example", 3, "olga", is_staff=True)

org = do_create_organization(alice, name=h(4, "org", 120))
org2 = do_create_organization(alice, name=h(5, "org2", 120))
org3 = do_create_organization(alice, name=h(6, "org3", 120))
a = Membership.objects.get(org=org, user=alice)
a2 = Membership.objects.get(org=org2, user=alice)

# --- the partner, its people and payout details ---
pm = do_create_partner(pat, name=h(7, "partner", 120), contact_email="pat@hostile.example")
do_add_partner_member(pm, email="fin@hostile.example", role="finance")
do_set_payout_details(
    pm,
    {{"account_name": h(8, "payee", 200), "bank_name": h(9, "bank", 200),
      "account_number": "DE89370400440532013000"}},
    currency="EUR",
)
app, client_id, _secret, _webhook_secret = do_create_app(
    pm, app_id={APP_ID!r}, name=h(10, "draftname", 80), redirect_uris=[{CALLBACK!r}]
)


def manifest(version, name):
    return {{
        "id": {APP_ID!r},
        "name": name,
        "summary": h(11, "summary", 200),
        "description": "\\n".join(h(i, "desc") for i in range(len(PAYLOADS))),
        "icon": ICON,
        "version": version,
        "categories": ["productivity"],
        "scopes": ["core:member.read", "im:card.write", "im:message.read"],
        "webhook": {{"url": "https://127.0.0.1:9/hooks",
                     "events": ["app.installed", "im.message.created"]}},
        "cards": [{{"id": "hostile", "name": h(0, "cardname", 80),
                    "description": h(1, "carddesc", 500),
                    "callback_url": "https://127.0.0.1:9/cards",
                    "sample": {{"title": h(2, "sample", 150)}}}}],
        "oauth": {{"redirect_uris": [{CALLBACK!r}]}},
        "pricing": {{"plans": [
            {{"code": "free", "name": h(2, "planfree", 80), "type": "free"}},
            {{"code": "pro", "name": h(3, "planpro", 80), "type": "flat", "interval": "month",
              "amount": 9900, "currency": "CNY"}},
        ]}},
    }}


# --- versions in every review state ---
rejected = do_create_version(pm, app, manifest("0.9.0", h(4, "name09", 80)))
do_submit_version(pm, rejected)
do_reject_version(olga, rejected, reason=h(6, "rejected"))
live = do_create_version(pm, app, manifest("1.0.0", h(10, "appname", 80)))
do_submit_version(pm, live)
do_approve_version(olga, live, note=h(7, "note10"))
do_publish_version(pm, live)
approved = do_create_version(pm, app, manifest("1.1.0", h(9, "name11", 80)))
do_submit_version(pm, approved)
do_approve_version(olga, approved, note=h(8, "note11"))
queued = do_create_version(pm, app, manifest("1.2.0", h(5, "queued", 80)))
do_submit_version(pm, queued)

# --- installed in two organisations (a paid plan is invoiced at once) ---
app.refresh_from_db()
inst, _ = do_install_app(a, app, scopes=live.scopes, plan="pro")
do_install_app(a2, app, scopes=live.scopes, plan="free")

# --- the app in a group chat: its card, then messages it receives as webhooks ---
group = do_create_group(a, name=h(0, "group", 80), member_ids=[])
do_add_cool_app(a, group, installation_id=inst.pk, card_id="hostile")
inst.refresh_from_db()
card = {{
    "title": h(1, "cardtitle", 150),
    "fields": [{{"label": h(2, "fieldlabel", 100), "value": h(3, "fieldvalue", 2000)}}],
    "buttons": [{{"action_id": "go", "label": h(4, "button", 75)}}],
    "footer": h(5, "footer", 300),
}}
do_post_app_card(inst.app_member, conversation_id=group.pk, card=card, text=h(6, "cardtext"))
for i in range(len(PAYLOADS)):
    do_send_message(a, group, body=h(i, "msg"))

# --- branding, security policy, departments, a low-code app, usage ---
do_update_organization(a, {{"brand_name": h(2, "brand", 60)}})
do_update_security_policy(a, {{"password_min_length": 12}})
for i, tag in ((9, "dept"), (10, "dept2")):
    department = do_create_department(a, name=h(i, tag, 100))
    do_add_department_member(a, department, a)
lowcode = do_create_lowcode_app(a, name=h(11, "lowcode", 80))
note_activity(org.pk, a.pk, alice.pk, systems=[f"lowcode_app:{{lowcode.pk}}", f"app:{{inst.pk}}"])
note_activity(org2.pk, a2.pk, alice.pk, systems=[])
rollup_day(timezone.localdate())

print(json.dumps({{
    "org": org.pk, "org2": org2.pk, "org3": org3.pk, "group": group.pk,
    "partner": pm.partner_id, "app": app.pk, "client_id": client_id,
    "rejected": rejected.pk, "queued": queued.pk,
}}))
"""


@dataclass
class Server:
    url: str
    ids: dict[str, object]
    pages: dict[str, object] = field(default_factory=dict)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    extra = {"TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS": "1"}  # deliveries fail fast on 127.0.0.1:9
    with seeded_server(tmp_path_factory, "hostile-market", SEED, extra) as (url, ids):
        yield Server(url, ids)


@pytest.fixture(scope="module")
def signed_in(browser, server: Server):
    """``signed_in("alice")``: a page signed in as that person (one browser context each)."""
    contexts = []

    def open_as(who: str):
        if who not in server.pages:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(WAIT)
            contexts.append(context)
            page = context.new_page()
            page.dialogs = []  # type: ignore[attr-defined]
            page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
            page.errors = []  # type: ignore[attr-defined]
            page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.goto(f"{server.url}/login/")
            page.fill("input[name=username]", f"{who}@hostile.example")
            page.fill("input[name=password]", PASSWORD)
            page.locator("form button[type=submit]").click()
            page.wait_for_url(lambda url: "/login/" not in url)
            server.pages[who] = page
        return server.pages[who]

    yield open_as
    for context in contexts:
        context.close()


def check(page, *tags: str, marks: int = 1) -> str:
    """Nothing ran; every labelled field in ``tags`` is readable; nothing double-escaped."""
    assert_inert(page, expect_marks=marks)
    text = page.inner_text("body")
    shown = text.lower()  # eyebrows and badges may be styled in capitals
    missing = [tag for tag in tags if f"[{tag}]" not in shown]
    assert not missing, (missing, text[:3000])
    for escaped in ("&lt;", "&gt;", "&quot;", "&#x27;", "&amp;"):
        assert escaped not in text, (escaped, text[:3000])
    return text


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("networkidle")
    # Folded sections (install lists, payloads) count too: unfold them before reading.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")


# --- organisation pages (the admin) --------------------------------------------------------


@pytest.mark.parametrize(
    ("org", "path", "tags"),
    [
        ("org3", "marketplace/", ["appname", "summary", "partner"]),
        (
            "org3",
            f"marketplace/apps/{APP_ID}/",
            ["appname", "summary", "partner", "desc", "cardname", "carddesc", "planfree"],
        ),
        ("org3", f"marketplace/apps/{APP_ID}/install/", ["appname", "partner", "planpro", "org3"]),
        ("org", "marketplace/installed/", ["appname", "partner", "alice"]),
        ("org", "marketplace/billing/", ["appname", "planpro", "brand"]),
        ("org", "admin/metrics/", ["dept", "dept2", "lowcode", "appname"]),
        ("org", "settings/", ["brand"]),
        ("org", "settings/security/", ["brand", "alice"]),
    ],
)
def test_org_pages_show_hostile_marketplace_text_as_text(signed_in, server, org, path, tags):
    page = signed_in("alice")
    visit(page, f"{server.url}/o/{server.ids[org]}/{path}")
    check(page, *tags, marks=len(tags) if path.endswith(f"{APP_ID}/") else 2)


def test_app_page_shows_every_payload_of_the_description_verbatim(signed_in, server):
    page = signed_in("alice")
    visit(page, f"{server.url}/o/{server.ids['org3']}/marketplace/apps/{APP_ID}/")
    text = check(page, "desc", marks=len(PAYLOADS))
    for i, payload in enumerate(PAYLOADS):
        assert f"{MARK}{i} [desc] {payload}" in text
    assert page.locator("img.mp-icon").count() >= 1  # the scripted SVG icon is shown, inert


def test_a_hostile_catalogue_search_is_reflected_as_text(signed_in, server):
    page = signed_in("alice")
    query = hostile(1, "search")
    visit(page, f"{server.url}/o/{server.ids['org3']}/marketplace/?" + urlencode({"q": query}))
    assert_inert(page, expect_marks=0)
    assert page.locator("#mp-q").input_value() == query


def test_chat_shows_the_apps_hostile_card_as_text(signed_in, server):
    page = signed_in("alice")
    visit(page, f"{server.url}/o/{server.ids['org']}/chat/?c={server.ids['group']}")
    page.locator(".room-title").wait_for()
    page.get_by_text("[footer]", exact=False).first.wait_for()
    text = check(
        page,
        "group",
        "cardtitle",
        "fieldlabel",
        "fieldvalue",
        "button",
        "footer",
        "cardtext",
        "msg",
        marks=len(PAYLOADS),
    )
    assert "<script>window.__xss=1</script>" in text  # shown as text, not swallowed


def test_branding_preview_takes_a_typed_hostile_name_as_text(signed_in, server):
    page = signed_in("alice")
    visit(page, f"{server.url}/o/{server.ids['org']}/settings/")
    typed = hostile(4, "typed", 60)
    page.locator("input[name=brand_name]").fill(typed)
    preview = page.locator("[data-brand-preview-name]")
    assert preview.inner_text() == typed
    check(page, "typed", marks=1)


def test_oauth_consent_shows_hostile_app_and_org_names_as_text(signed_in, server):
    page = signed_in("alice")
    params = {
        "response_type": "code",
        "client_id": server.ids["client_id"],
        "redirect_uri": CALLBACK,
        "scope": "core:member.read",
        "state": hostile(7, "state"),
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    # Installed in two of Alice's organisations: first she picks one.
    visit(page, f"{server.url}/oauth/authorize/?{urlencode(params)}")
    check(page, "appname", "org", "org2", marks=3)
    visit(page, f"{server.url}/oauth/authorize/?{urlencode({**params, 'org': server.ids['org']})}")
    check(page, "appname", "partner", "org", marks=3)
    state = page.locator("input[name=state]")
    assert state.input_value() == params["state"]  # carried back verbatim, inert


# --- the partner console (the partner's owner) ---------------------------------------------


@pytest.mark.parametrize(
    ("path", "tags"),
    [
        ("/partners/", ["partner"]),
        ("/partners/{partner}/", ["partner", "pat", "fin", "payee", "bank", "appname", "org"]),
        ("/partners/apps/{app}/", ["appname", "partner", "rejected", "note10", "note11"]),
        ("/partners/{partner}/revenue/", ["partner"]),
    ],
)
def test_partner_console_shows_hostile_text_as_text(signed_in, server, path, tags):
    page = signed_in("pat")
    visit(page, server.url + path.format(**server.ids))
    check(page, *tags, marks=min(len(tags), 3))


def test_editing_a_rejected_manifest_puts_the_raw_text_in_the_editor(signed_in, server):
    page = signed_in("pat")
    visit(page, f"{server.url}/partners/apps/{server.ids['app']}/")
    page.locator(f"article[data-version='{server.ids['rejected']}'] [data-mp-edit]").click()
    manifest = json.loads(page.locator("textarea[data-json]").input_value())
    assert manifest["name"] == hostile(4, "name09", 80)
    assert manifest["description"].splitlines()[1] == hostile(1, "desc")
    check(page, "appname", marks=1)


def test_manifest_errors_echo_hostile_values_as_text(signed_in, server):
    """Strict fields refuse a payload, and the error that names it shows it as text."""
    page = signed_in("pat")
    visit(page, f"{server.url}/partners/apps/{server.ids['app']}/")
    manifest = {
        "id": APP_ID,
        "name": hostile(0, "newname", 80),
        "description": hostile(1, "newdesc"),
        "version": "2.0.0",
        "categories": [hostile(2, "category")],
        "scopes": [hostile(3, "scope")],
    }
    page.locator("textarea[data-json]").fill(json.dumps(manifest))
    page.get_by_role("button", name="Save draft").click()
    errors = page.locator("[data-mp-manifest-form] [data-mp-errors]")
    errors.wait_for(state="visible")
    errors.get_by_text("[category]", exact=False).first.wait_for()
    # The refused save is a 400, which Chromium logs as a failed resource load: expected.
    page.errors[:] = [e for e in page.errors if not e.startswith("Failed to load resource")]
    text = check(page, "category", "scope", marks=2)
    assert PAYLOADS[2] in text and PAYLOADS[3] in text


def test_webhook_log_shows_hostile_payloads_as_text(signed_in, server):
    page = signed_in("pat")
    visit(page, f"{server.url}/partners/apps/{server.ids['app']}/webhooks/")
    page.locator("article.mp-delivery").first.wait_for()
    text = check(page, "msg", "alice", "appname", marks=len(PAYLOADS))
    assert "im.message.created" in text


# --- operators -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "tags"),
    [
        ("/ops/review/", ["queued", "partner", "rejected", "note11"]),
        ("/ops/review/{queued}/", ["queued", "partner", "desc", "cardname", "planpro"]),
        ("/ops/review/{rejected}/", ["name09", "rejected", "olga"]),
        ("/ops/metrics/", ["org", "org2"]),
        ("/partners/{partner}/revenue/", ["partner"]),
    ],
)
def test_operator_pages_show_hostile_text_as_text(signed_in, server, path, tags):
    page = signed_in("olga")
    visit(page, server.url + path.format(**server.ids))
    check(page, *tags, marks=2)
