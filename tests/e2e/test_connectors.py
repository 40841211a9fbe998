"""The connectors module in a real browser, against a real Tryton server.

An owner (Alice) adds a Tryton connection through the form generated from the connector's
settings schema (a server-side field error shows next to its field; the password is masked
afterwards), tests it, creates a form from the ``parties`` stream, presses "Sync now",
watches the progress bar reach "Succeeded" with the right created count and finds the
parties in the low-code record table. Then she writes a scenario calling the connector's
``find_party`` action and issues a token for it (shown once). No console errors, no request
to another host.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import BrowserSession, seeded_server
from tests.integration import tryton as tryton_server

pytestmark = pytest.mark.e2e

PASSWORD = "connectors-e2e-password-1"
WAIT = 15000  # ms
PARTIES = [f"Harbour Customer {i:02d}" for i in range(12)]

SEED = f"""
import json, django
django.setup()
from core.actions import do_create_organization
from core.models import Membership, User
from lowcode.actions import do_create_app, do_create_form, do_publish_form

alice = User.objects.create_user(
    "alice@connectors.example", "{PASSWORD}", display_name="Alice Chen"
)
org = do_create_organization(alice, name="Harbour Foods")
a = Membership.objects.get(org=org, user=alice)
app = do_create_app(a, name="CRM")
catalogue = do_create_form(a, app, name="Catalogue", fields=[
    {{"key": "name", "type": "text", "label": "Product name"}},
    {{"key": "code", "type": "text", "label": "Code"}},
    {{"key": "price", "type": "number", "label": "Price"}},
    {{"key": "available", "type": "checkbox", "label": "Available"}},
])
do_publish_form(a, catalogue)
from im.actions import do_create_group
sales = do_create_group(a, name="Sales team", member_ids=[])
print(json.dumps({{"org": org.pk, "app": app.pk, "sales": sales.pk}}))
"""


@dataclass
class Servers:
    url: str
    ids: dict[str, int]
    tryton: tryton_server.TrytonServer
    parties: int


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    if not tryton_server.tryton_available():
        pytest.fail("trytond is not installed: make install (it is a dev dependency)")
    tryton_dir = tmp_path_factory.mktemp("tryton")
    database = tryton_server.cached_database()
    shutil.copyfile(database, tryton_dir / f"{tryton_server.DATABASE}.sqlite")
    erp = tryton_server.start(tryton_dir)
    try:
        client = erp.client()
        client.call("party.party", "create", [{"name": name} for name in PARTIES])
        total = int(client.call("party.party", "search_count", []))
        with seeded_server(tmp_path_factory, "connectors", SEED) as (url, ids):
            yield Servers(url, ids, erp, total)
    finally:
        erp.stop()


def signed_in(browser, servers: Servers, email: str) -> BrowserSession:
    return BrowserSession(
        browser, servers.url, email, PASSWORD, wait_ms=WAIT, shot_prefix="connectors-"
    )


def test_add_tryton_connection_sync_parties_and_build_a_scenario(browser, servers):
    from playwright.sync_api import expect

    org = servers.ids["org"]
    alice = signed_in(browser, servers, "alice@connectors.example")
    page = alice.page
    erp = servers.tryton
    try:
        # The module launcher leads to the connectors page, empty at first.
        page.goto(f"{servers.url}/o/{org}/")
        page.locator("details.launcher summary").click()
        page.locator(".launcher-item", has_text="Connectors").click()
        page.wait_for_url(f"{servers.url}/o/{org}/connectors/")
        expect(page.locator("[data-connections-empty]")).to_be_visible()
        alice.shot("empty")

        # The catalogue (Cancel closes it), then the form generated from the settings schema.
        dialog = page.locator('[data-dialog="add"]')
        page.locator(".page-actions [data-action=add-connection]").click()
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        page.locator(".page-actions [data-action=add-connection]").click()
        card = page.locator('.cx-type-card[data-type="tryton"]')
        expect(card).to_contain_text("Built-in")
        alice.shot("catalogue")
        card.click()
        dialog.get_by_label("Connection name").fill("Tryton ERP")
        dialog.get_by_label("Server URL").fill(erp.url)
        dialog.get_by_label("Database").fill(erp.database)
        dialog.get_by_label("User").fill(erp.username)
        password = dialog.get_by_label("Password")
        expect(password).to_have_attribute("type", "password")
        password.fill("not-the-password")
        # A value the schema refuses comes back from the server next to its field.
        dialog.get_by_label("Page size").fill("5")
        page.locator("[data-add-save]").click()
        page_size_field = dialog.locator('.cx-field[data-key="page_size"]')
        expect(page_size_field.locator(".field-error")).to_be_visible()
        expect(page_size_field.locator(".field-error")).to_contain_text("5")
        alice.shot("add-error")
        dialog.get_by_label("Page size").fill("")
        dialog.locator("input[type=radio][value=interval]").check()
        dialog.get_by_label("Minutes between syncs").fill("30")
        # Test connection from the dialog: the wrong password fails, the right one passes.
        result = dialog.locator("[data-add-test-result]")
        dialog.get_by_role("button", name="Test connection").click()
        expect(result.locator(".cx-health")).to_have_text("Failing")
        expect(page_size_field.locator(".field-error")).to_be_hidden()
        password.fill(erp.password)
        dialog.get_by_role("button", name="Test connection").click()
        expect(result.locator(".cx-health")).to_have_text("Healthy")
        expect(result).to_contain_text(f"{servers.parties} parties visible")
        alice.shot("add-tested")
        page.locator("[data-add-save]").click()
        page.wait_for_url(lambda url: url.rstrip("/").split("/")[-1].isdigit())
        connection_url = page.url

        # The connection page: the password is masked, never sent back in the clear.
        expect(page.locator("h1[data-connection-name]")).to_have_text("Tryton ERP")
        stored = page.locator('.cx-field[data-key="password"] input')
        expect(stored).to_have_attribute("type", "password")
        expect(stored).to_have_value("")
        expect(stored).to_have_attribute("placeholder", "••••••• (unchanged)")
        assert erp.password not in page.content()

        # Saving the settings untouched keeps the stored password: the test still passes.
        page.locator("[data-settings] button[type=submit]").click()
        expect(page.locator("[data-settings-status]")).to_have_text("Saved")
        page.locator("[data-action=check]").click()
        expect(page.locator("[data-connection-meta] .cx-health")).to_have_text("Healthy")
        expect(page.locator("[data-connection-meta]")).to_contain_text(
            f"{servers.parties} parties visible"
        )

        # Create a form from the parties stream in the CRM app.
        stream = page.locator('.cx-stream[data-stream="parties"]')
        stream.locator("[data-action=create-form]").click()
        stream.get_by_label("App").select_option(label="CRM")
        stream.get_by_label("Form name (optional)").fill("Customers")
        stream.get_by_role("button", name="Create", exact=True).click()
        stream = page.locator('.cx-stream[data-stream="parties"]')
        expect(stream.locator(".cx-dest")).to_contain_text("Customers")
        alice.shot("streams")

        # Sync now: the live progress reaches "Succeeded" with every party created.
        page.locator("[data-action=sync]").click()
        live = page.locator("[data-live]")
        expect(live).to_be_visible()
        expect(live.locator(".cx-run")).to_have_text("Succeeded", timeout=60000)
        expect(live.locator(".cx-counts")).to_contain_text(
            f"{servers.parties} read · {servers.parties} new · 0 updated · 0 failed"
        )
        expect(live.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100")
        expect(live.locator(".cx-stream-progress")).to_contain_text("parties")
        expect(page.locator("[data-run-rows] tr")).to_have_count(1)
        expect(page.locator("[data-run-rows] .cx-run")).to_have_text("Succeeded")
        alice.shot("synced")

        # Paused and resumed: the stream card says so, the button flips.
        stream = page.locator('.cx-stream[data-stream="parties"]')
        stream.locator("[data-action=toggle-destination]").click()
        stream = page.locator('.cx-stream[data-stream="parties"]')
        expect(stream.locator(".cx-stream-head")).to_contain_text("Paused")
        expect(stream.locator("[data-action=toggle-destination]")).to_have_text("Resume")
        stream.locator("[data-action=toggle-destination]").click()
        stream = page.locator('.cx-stream[data-stream="parties"]')
        expect(stream.locator("[data-action=toggle-destination]")).to_have_text("Pause")
        expect(stream.locator(".cx-stream-head")).not_to_contain_text("Paused")

        # The field mapping shows what fills each form field, with type hints.
        stream = page.locator('.cx-stream[data-stream="parties"]')
        stream.get_by_role("button", name="Field mapping").click()
        name_row = stream.locator('.cx-map-row[data-key="ext_name"]')
        expect(name_row.locator("select")).to_have_value("name")
        expect(name_row.locator(".cx-hint")).to_have_text("types match")
        stream.locator(".cx-panel button[type=submit]").click()
        expect(page.locator(".lc-toast", has_text="Destination saved.")).to_be_visible()

        # Chat cards: new parties are announced in the sales team's conversation.
        stream = page.locator('.cx-stream[data-stream="parties"]')
        stream.get_by_role("button", name="Chat cards").click()
        stream.get_by_label("Conversation").select_option(label="Sales team")
        stream.get_by_label("When").select_option("created")
        stream.get_by_label("Card title").fill("New customer {name}")
        stream.locator(".lc-checks label", has_text="Name").locator("input").check()
        stream.get_by_role("button", name="Save chat cards").click()
        stream = page.locator('.cx-stream[data-stream="parties"]')
        expect(stream.locator(".cx-dest .badge")).to_have_text("Chat cards")
        stream.get_by_role("button", name="Chat cards").click()
        expect(stream.get_by_label("Card title")).to_have_value("New customer {name}")
        expect(stream.get_by_label("Conversation")).to_have_value(str(servers.ids["sales"]))
        alice.shot("cards")

        # Map the products stream onto an existing form, with type hints per field.
        products = page.locator('.cx-stream[data-stream="products"]')
        products.get_by_role("button", name="Map onto an existing form").click()
        products.get_by_label("App").select_option(label="CRM")
        products.get_by_label("Form", exact=True).select_option(label="Catalogue")
        rows = products.locator(".cx-map-row")
        expect(rows).to_have_count(4)
        expect(products.locator('[data-key="name"] select')).to_have_value("name")
        expect(products.locator('[data-key="code"] select')).to_have_value("code")
        products.locator('[data-key="price"] select').select_option("list_price")
        expect(products.locator('[data-key="price"] .cx-hint')).to_have_text("types match")
        products.locator('[data-key="available"] select').select_option("name")
        expect(products.locator('[data-key="available"] .cx-hint')).to_have_text(
            "string into checkbox: values are converted"
        )
        products.locator('[data-key="available"] select').select_option("active")
        alice.shot("mapping")
        products.locator(".cx-panel button[type=submit]").click()
        products = page.locator('.cx-stream[data-stream="products"]')
        expect(products.locator(".cx-dest")).to_contain_text("Syncs into Catalogue")

        # Actions: find a party by name and see the JSON result.
        actions = page.locator("[data-actions]")
        actions.get_by_label("Action").select_option("find_party")
        actions.get_by_label("Name", exact=True).fill(PARTIES[3])
        actions.locator("[data-action-run]").click()
        expect(actions.locator("[data-action-result]")).to_contain_text(PARTIES[3])
        alice.shot("connection")

        # The list shows health and the last run.
        page.goto(f"{servers.url}/o/{org}/connectors/")
        row = page.locator("[data-connection-rows] tr")
        expect(row).to_have_count(1)
        expect(row.locator(".cx-health")).to_have_text("Healthy")
        expect(row.locator(".cx-run")).to_have_text("Succeeded")
        expect(row).to_contain_text("Every 30 min")
        alice.shot("list")

        # The records are in the low-code record table.
        page.goto(connection_url)
        page.locator('.cx-stream[data-stream="parties"]').get_by_role(
            "link", name="See records"
        ).click()
        page.wait_for_url(lambda url: url.endswith("/records/"))
        expect(page.get_by_text(PARTIES[7], exact=True)).to_be_visible()

        # A scenario that calls find_party, then a token shown once.
        page.goto(f"{servers.url}/o/{org}/connectors/scenarios/")
        expect(page.locator("[data-scenarios-empty]")).to_be_visible()
        page.locator("[data-action=new-scenario]").click()
        editor = page.locator("[data-editor]")
        editor.get_by_label("Name", exact=True).fill("Find a customer")
        editor.get_by_label("Address name").fill("find-customer")
        editor.get_by_label("Input schema (JSON Schema)").fill(
            json.dumps({"type": "object", "properties": {"name": {"type": "string"}}})
        )
        step = editor.locator(".cx-step").first
        step.get_by_label("Connection").select_option(label="Tryton ERP")
        step.get_by_label("Action").select_option("find_party")
        step.get_by_label("Parameters (JSON)").fill("{not json")
        expect(step.locator(".field-error").first).to_contain_text("Not valid JSON")
        step.get_by_label("Parameters (JSON)").fill(json.dumps({"name": "{{input.name}}"}))
        editor.get_by_role("button", name="Save").click()
        expect(page.locator("[data-scenarios] .cx-side-item")).to_have_count(1)
        expect(editor.locator(".cx-endpoint")).to_contain_text("/scenarios/find-customer/run/")
        editor.get_by_placeholder("Token name").fill("Website")
        editor.get_by_role("button", name="New token").click()
        secret = editor.locator(".cx-secret-once input")
        expect(secret).to_be_visible()
        assert len(secret.input_value()) > 20
        expect(editor.locator(".cx-tokens")).to_contain_text("Website")
        # Revoked after a confirmation: it stays listed, marked revoked, with no button.
        editor.locator(".cx-tokens [data-action=revoke-token]").click()
        page.locator("#confirm-dialog [data-confirm-ok]").click()
        expect(editor.locator(".cx-tokens")).to_contain_text("Revoked")
        expect(editor.locator(".cx-tokens [data-action=revoke-token]")).to_have_count(0)
        expect(page.locator("[data-openapi]")).to_have_attribute(
            "href", f"/api/v1/orgs/{org}/connectors/scenarios/openapi/"
        )
        alice.shot("scenarios")

        assert alice.errors == []
        assert alice.external == []
    finally:
        alice.context.close()


def test_webhook_connection_shows_its_signing_secret_once_and_its_urls(browser, servers):
    """A push connector: streams typed as JSON, the secret shown once, URLs to copy."""
    from playwright.sync_api import expect

    org = servers.ids["org"]
    alice = signed_in(browser, servers, "alice@connectors.example")
    page = alice.page
    try:
        page.goto(f"{servers.url}/o/{org}/connectors/")
        page.locator(".page-actions [data-action=add-connection]").click()
        page.locator('.cx-type-card[data-type="webhook"]').click()
        dialog = page.locator('[data-dialog="add"]')
        dialog.get_by_label("Connection name").fill("Shop orders")
        expect(dialog.locator("input[type=radio]")).to_have_count(0)  # pushed, no schedule
        streams = dialog.get_by_label("Streams")
        streams.fill('[{"name": "orders", "fields": [{"name": "id", "type": "integer"}')
        page.locator("[data-add-save]").click()
        expect(dialog.locator('.cx-field[data-key="streams"] .field-error')).to_contain_text(
            "Not valid JSON"
        )
        streams.fill(
            '[{"name": "orders", "label": "Orders", "fields": '
            '[{"name": "id", "type": "integer"}, {"name": "total", "type": "number"}]}]'
        )
        page.locator("[data-add-save]").click()
        issued = dialog.locator("[data-add-issued]")
        expect(issued).to_contain_text("shown only once")
        secret = issued.locator("input").first
        assert len(secret.input_value()) > 20
        alice.shot("webhook-issued")
        page.locator("[data-add-save]").click()
        page.wait_for_url(lambda url: url.rstrip("/").split("/")[-1].isdigit())
        connection_id = page.url.rstrip("/").split("/")[-1]

        receiving = page.locator(".cx-receiving")
        expect(receiving.locator("input").first).to_have_value(
            f"{servers.url}/hooks/connectors/{connection_id}/orders/"
        )
        expect(page.locator("[data-action=sync]")).to_be_hidden()
        expect(page.locator('.cx-stream[data-stream="orders"]')).to_contain_text("Orders")
        page.on("dialog", lambda d: d.accept())
        receiving.get_by_role("button", name="New signing secret").click()
        confirm = page.locator("#confirm-dialog")
        if confirm.count():
            confirm.locator("button[value=confirm]").click()
        expect(receiving.locator(".cx-secret-once")).to_contain_text("shown only once")
        alice.shot("webhook")
        assert alice.errors == []
        assert alice.external == []
    finally:
        alice.context.close()
