"""The low-code module in a real browser: design, publish, fill, look up and approve.

One owner (Alice) builds an app from scratch in the designer (fields added by drag and
drop), sets a one-step approval flow approved by Bob, publishes, fills the form from a
QR-style link (``?batch=...`` pre-fills the batch), finds the record through a lookup
page, and Bob approves it from his approval inbox.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import SHOTS, BrowserSession, seeded_server

pytestmark = pytest.mark.e2e

PASSWORD = "lowcode-e2e-password-1"
WAIT = 10000  # ms
BATCH = "B-2026-0042"

SEED = f"""
import json, django
django.setup()
from core.actions import do_create_organization
from core.models import Membership, User

alice = User.objects.create_user("alice@lowcode.example", "{PASSWORD}", display_name="Alice Chen")
bob = User.objects.create_user("bob@lowcode.example", "{PASSWORD}", display_name="Bob Li")
org = do_create_organization(alice, name="Harbour Foods")
a = Membership.objects.get(org=org, user=alice)
b = Membership.objects.create(org=org, user=bob, role="member")

# A second app, built through the actions, with most field types: the widgets' test.
from lowcode.actions import do_create_app, do_create_form, do_publish_form, do_update_app
grades = {{"choices": [{{"id": "a", "label": "Grade A"}}, {{"id": "b", "label": "Grade B"}}]}}
tags = {{"choices": [{{"id": "cold", "label": "Cold"}}, {{"id": "fragile", "label": "Fragile"}}]}}
app = do_create_app(a, name="Warehouse")
form = do_create_form(a, app, name="Goods receipt", fields=[
    {{"key": "supplier", "type": "text", "label": "Supplier", "required": True}},
    {{"key": "email", "type": "email", "label": "Supplier e-mail"}},
    {{"key": "qty", "type": "number", "label": "Quantity", "required": True, "width": "half",
      "options": {{"decimals": 0}}}},
    {{"key": "price", "type": "money", "label": "Unit price", "width": "half"}},
    {{"key": "total", "type": "computed", "label": "Total",
      "options": {{"expression": "qty * price"}}}},
    {{"key": "received", "type": "date", "label": "Received on"}},
    {{"key": "grade", "type": "single_select", "label": "Grade", "options": grades}},
    {{"key": "tags", "type": "multi_select", "label": "Tags", "options": tags}},
    {{"key": "checked", "type": "checkbox", "label": "Checked", "placeholder": "Seal intact"}},
    {{"key": "inspector", "type": "member", "label": "Inspector"}},
    {{"key": "lines", "type": "sub_table", "label": "Lines", "options": {{"columns": [
        {{"key": "item", "type": "text", "label": "Item", "required": True}},
        {{"key": "count", "type": "number", "label": "Count"}}]}}}},
    {{"key": "photo", "type": "image", "label": "Photo"}},
    {{"key": "code", "type": "serial", "label": "Receipt number", "options": {{"prefix": "GR-"}}}},
])
do_publish_form(a, form)
do_update_app(a, app, is_published=True)
print(json.dumps({{"org": org.pk, "alice": a.pk, "bob": b.pk, "receipt": form.pk}}))
"""


def png() -> bytes:
    """A small valid PNG for the image field."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class LowcodeServer:
    url: str
    ids: dict[str, int]


@pytest.fixture(scope="module")
def lowcode_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LowcodeServer]:
    with seeded_server(tmp_path_factory, "lowcode", SEED) as (url, ids):
        yield LowcodeServer(url, ids)


def signed_in(browser, server: LowcodeServer, email: str, viewport: dict[str, int]):
    return BrowserSession(browser, server.url, email, PASSWORD, viewport=viewport, wait_ms=WAIT)


def test_design_publish_fill_lookup_and_approve(browser, lowcode_server):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT)  # the machine may be busy: same patience as actions

    server = lowcode_server
    org = server.ids["org"]
    alice = signed_in(browser, server, "alice@lowcode.example", {"width": 1440, "height": 900})
    bob: BrowserSession | None = None
    page = alice.page
    try:
        # The main navigation leads to the apps home (the seeded app is there).
        page.goto(f"{server.url}/o/{org}/")
        page.locator("nav.mainnav a", has_text="Apps").click()
        expect(page.locator(".lc-app-card", has_text="Warehouse")).to_be_visible()

        # New app -> its page; new form -> the designer.
        page.locator(".page-actions [data-action=new-app]").click()
        page.fill("#new-app-name", "Cold chain")
        page.fill("#new-app-icon", "❄")
        page.locator("[data-create-app]").click()
        expect(page.locator("h1[data-app-name]")).to_have_text("Cold chain")
        page.fill("#new-form-name", "Inspection")
        page.locator("[data-new-form] button[type=submit]").click()
        expect(page.locator("[data-form-name]")).to_have_value("Inspection")
        canvas = page.locator("[data-canvas]")
        expect(page.locator("[data-canvas-empty]")).to_be_visible()

        # Drag "Text" and "Number" from the palette onto the canvas; click "Money" to add it.
        page.locator('[data-palette] [data-type="text"]').drag_to(canvas)
        items = canvas.locator(".lc-canvas-item")
        expect(items).to_have_count(1)
        page.fill("[data-props] [data-prop=label]", "Batch number")
        expect(page.locator("[data-props] [data-prop=key]")).to_have_value("batch_number")
        page.fill("[data-props] [data-prop=key]", "batch")
        page.locator("[data-props] [data-prop=required]").check()
        page.locator("[data-props] [data-prop=indexed]").check()

        page.locator('[data-palette] [data-type="number"]').drag_to(canvas)
        expect(items).to_have_count(2)
        page.fill("[data-props] [data-prop=label]", "Temperature")
        page.fill("[data-props] #prop-opt-unit", "°C")
        page.locator('[data-palette] [data-type="money"]').click()
        expect(items).to_have_count(3)
        page.fill("[data-props] [data-prop=label]", "Amount")
        expect(items.nth(0)).to_have_attribute("data-key", "batch")
        expect(items.nth(1)).to_have_attribute("data-key", "temperature")
        expect(items.nth(2)).to_have_attribute("data-key", "amount")

        # Reorder with the keyboard-accessible buttons, then back.
        items.nth(2).get_by_role("button", name="Move up: Amount").click()
        expect(items.nth(1)).to_have_attribute("data-key", "amount")
        items.nth(1).get_by_role("button", name="Move down: Amount").click()
        expect(items.nth(2)).to_have_attribute("data-key", "amount")
        items.nth(2).focus()
        page.keyboard.press("Alt+ArrowUp")
        expect(items.nth(1)).to_have_attribute("data-key", "amount")
        expect(items.nth(1)).to_be_focused()
        page.keyboard.press("Alt+ArrowDown")
        expect(items.nth(2)).to_have_attribute("data-key", "amount")
        alice.shot("designer")

        # A bad definition comes back from the server next to the field: an empty label.
        items.nth(1).click()
        page.fill("[data-props] [data-prop=label]", "")
        page.locator("[data-action=save]").click()
        expect(page.locator("[data-banner]")).to_be_visible()
        expect(page.locator(".lc-canvas-item.is-invalid")).to_have_count(1)
        page.fill("[data-props] [data-prop=label]", "Temperature")

        # Publish (saves the draft first): version 1.
        page.locator("[data-action=publish]").click()
        expect(page.locator("[data-version-badge]")).to_have_text("Version 1")
        expect(page.locator("[data-save-state]")).to_have_text("All changes saved")
        expect(page.locator("[data-props] [data-prop=key]")).to_be_disabled()

        # The live preview renders the published fields as the fill page will.
        page.get_by_role("tab", name="Preview").click()
        expect(page.locator("[data-preview] .lc-field")).to_have_count(3)
        alice.shot("preview")

        # Approval flow: one step approved by Bob.
        page.get_by_role("tab", name="Approval flow").click()
        page.locator("[data-action=add-node]").click()
        node = page.locator(".lc-node").first
        node.locator("[data-node-name]").fill("Quality lead")
        node.locator(".lc-spec select").first.select_option("members")
        node.locator("[data-approver-search]").fill("Bob")
        page.locator(".lc-picker-item", has_text="Bob Li").click()
        expect(node.locator(".lc-chip", has_text="Bob Li")).to_be_visible()
        page.locator("[data-action=save-flow]").click()
        expect(page.locator("[data-flow-status]")).to_have_text("Saved")
        alice.shot("flow")

        # Publish the app from its settings.
        page.goto(f"{server.url}/o/{org}/apps/")
        alice.shot("apps")
        page.locator(".lc-app-card", has_text="Cold chain").click()
        page.locator("[data-publish-toggle]").check()
        page.locator("[data-settings-save]").click()
        expect(page.locator("[data-app-state]")).to_have_text("Published")
        alice.shot("app")
        fill_link = page.locator("[data-forms] a", has_text="Fill")
        fill_url = fill_link.get_attribute("href")

        # Fill it on a phone-sized screen from a QR link that pre-fills the batch.
        phone = alice.context.new_page()
        phone.set_viewport_size({"width": 390, "height": 800})
        alice.watch(phone)
        phone.goto(f"{server.url}{fill_url}?batch={BATCH}")
        batch_input = phone.get_by_label("Batch number")
        expect(batch_input).to_have_value(BATCH)
        temperature = phone.get_by_label("Temperature")
        temperature.fill("4.5")
        phone.get_by_label("Amount").fill("1,234.50")
        if SHOTS:
            phone.screenshot(path=str(Path(SHOTS) / "fill-phone.png"), full_page=True)
        phone.locator("[data-submit]").click()
        expect(phone.locator("[data-done-text]")).to_have_text("Record #1 was saved.")
        expect(phone.locator("[data-done-approval]")).to_be_visible()
        phone.close()

        # A lookup on the batch number finds it.
        page.locator("[data-action=new-lookup]").click()
        page.fill("#lookup-name", "Find a batch")
        expect(page.locator("#lookup-input")).to_have_value("batch")
        page.locator("[data-lookup-save]").click()
        page.locator("[data-lookups] a.lc-list-title", has_text="Find a batch").click()
        page.locator("[data-lookup-q]").fill(BATCH)
        page.locator("[data-lookup-q]").press("Enter")
        row = page.locator("[data-lookup-body] tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(BATCH)
        expect(row).to_contain_text("4.5 °C")
        expect(row).to_contain_text("Pending")
        alice.shot("lookup")

        # Bob approves it from his inbox.
        bob = signed_in(browser, server, "bob@lowcode.example", {"width": 1280, "height": 800})
        bob.page.goto(f"{server.url}/o/{org}/apps/approvals/")
        entry = bob.page.locator("[data-inbox-list] .lc-inbox-item", has_text="Inspection #1")
        expect(entry).to_be_visible()
        entry.click()
        bob.page.locator("[data-act=reject]").click()  # a rejection needs a reason
        expect(bob.page.locator(".lc-act .field-error")).to_have_text(
            "A comment is required to reject."
        )
        expect(bob.page.locator("[data-comment]")).to_be_focused()
        bob.page.locator("[data-comment]").fill("Temperature within range.")
        bob.page.locator("[data-act=approve]").click()
        expect(bob.page.locator("[data-detail] .lc-state").first).to_have_text("Approved")
        expect(bob.page.locator("[data-detail] .lc-timeline")).to_contain_text(
            "Temperature within range."
        )
        bob.shot("inbox")

        # Alice sees the record approved in the record table.
        page.goto(f"{server.url}/o/{org}/apps/forms/{fill_url.split('/')[-3]}/records/")
        first = page.locator("[data-body] tr").first
        expect(first).to_contain_text(BATCH)
        expect(first.locator(".lc-state")).to_have_text("Approved")
        first.click()
        expect(page.locator("[data-drawer] .lc-timeline li")).not_to_have_count(0)
        alice.shot("records")

        assert alice.external == [] and bob.external == [], "no page may load from another host"
        assert alice.errors == [] and bob.errors == [], (alice.errors, bob.errors)
        # The only failed call is the draft saved on purpose with an empty label.
        assert [status for _m, _u, status in alice.failed] == [400], alice.failed
        assert alice.failed[0][0] == "PATCH" and bob.failed == [], (alice.failed, bob.failed)
    finally:
        alice.close()
        if bob is not None:
            bob.close()


def test_fill_widgets_errors_records_filters_edit_and_undo_delete(browser, lowcode_server):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT)  # the machine may be busy: same patience as actions

    server = lowcode_server
    org, form_id = server.ids["org"], server.ids["receipt"]
    alice = signed_in(browser, server, "alice@lowcode.example", {"width": 1280, "height": 900})
    page = alice.page
    try:
        page.goto(f"{server.url}/o/{org}/apps/forms/{form_id}/fill/")
        expect(page.locator(".lc-field")).to_have_count(13)
        expect(page.locator('.lc-field[data-key="total"]')).to_contain_text(
            "Filled in automatically"
        )

        # Required fields are flagged next to themselves before anything is sent.
        page.locator("[data-submit]").click()
        supplier_error = page.locator('.lc-field[data-key="supplier"] .lc-error')
        expect(supplier_error).to_have_text("This field is required.")
        expect(page.locator('.lc-field[data-key="qty"] .lc-error')).to_be_visible()
        expect(page.get_by_role("textbox", name="Supplier", exact=True)).to_be_focused()

        # The server's verdict lands next to the field it is about (an invalid e-mail),
        # and a sub-table row with a missing required cell is flagged in its cell.
        page.get_by_role("textbox", name="Supplier", exact=True).fill("Polar Logistics")
        expect(supplier_error).to_be_hidden()
        page.get_by_label("Supplier e-mail").fill("not-an-address")
        page.get_by_label("Quantity").fill("3")
        page.get_by_label("Unit price").fill("12.50")
        page.get_by_label("Received on").fill("2026-11-20")
        page.get_by_label("Grade", exact=True).select_option("a")
        page.get_by_label("Cold").check()
        page.get_by_label("Seal intact").check()
        lines = page.locator('.lc-field[data-key="lines"]')
        lines.get_by_role("button", name="Add row").click()
        lines.get_by_label("Count").fill("2")
        page.get_by_label("Inspector").fill("Bob")
        page.locator(".lc-picker-item", has_text="Bob Li").click()
        expect(page.locator('.lc-field[data-key="inspector"] .lc-chip')).to_have_text("Bob Li×")
        page.locator('.lc-field[data-key="photo"] input[type=file]').set_input_files(
            {"name": "seal.png", "mimeType": "image/png", "buffer": png()}
        )
        expect(page.locator('.lc-field[data-key="photo"] .lc-chip')).to_contain_text("seal.png")
        expect(page.locator('.lc-field[data-key="photo"] .lc-chip')).not_to_contain_text(
            "Uploading"
        )
        page.locator("[data-submit]").click()
        expect(page.locator('.lc-field[data-key="email"] .lc-error')).to_have_text(
            "Enter a valid e-mail address."
        )
        expect(lines.locator("td .field-error").first).to_be_visible()
        alice.shot("fill-errors")
        page.get_by_label("Supplier e-mail").fill("qa@polar.example")
        lines.get_by_label("Item").fill("Frozen peas")
        page.locator("[data-submit]").click()
        expect(page.locator("[data-done-text]")).to_have_text("Record #1 was saved.")

        # "Fill in another" starts a fresh form (a new idempotency key): record #2.
        page.locator("[data-action=again]").click()
        page.get_by_role("textbox", name="Supplier", exact=True).fill("Harbour Farms")
        page.get_by_label("Quantity").fill("10")
        page.get_by_label("Grade", exact=True).select_option("b")
        page.locator("[data-submit]").click()
        expect(page.locator("[data-done-text]")).to_have_text("Record #2 was saved.")

        # The record table: computed and serial values, filters, columns, edit, delete + undo.
        page.goto(f"{server.url}/o/{org}/apps/forms/{form_id}/records/")
        rows = page.locator("[data-body] tr")
        expect(rows).to_have_count(2)
        first = page.locator("[data-body] tr", has_text="Polar Logistics")
        expect(first).to_contain_text("3,750")  # computed: qty * price (in fen)
        page.locator("[data-action=add-filter]").click()
        filter_row = page.locator(".lc-filter-row")
        filter_row.get_by_label("Field").select_option("grade")
        filter_row.get_by_label("Value").select_option("b")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Harbour Farms")
        assert "filter=" in page.url
        page.locator("[data-action=clear-filters]").click()
        expect(rows).to_have_count(2)

        page.locator("summary", has_text="Columns").click()
        page.locator("[data-columns-menu]").get_by_label("Supplier", exact=True).uncheck()
        expect(page.get_by_role("columnheader", name="Supplier", exact=True)).to_have_count(0)
        page.reload()
        expect(rows).to_have_count(2)
        expect(page.get_by_role("columnheader", name="Supplier", exact=True)).to_have_count(0)
        expect(page.get_by_role("columnheader", name="Quantity", exact=True)).to_have_count(1)

        # Sort by quantity, descending on the second click.
        page.locator("[data-head] th button", has_text="Quantity").click()
        page.locator("[data-head] th button", has_text="Quantity").click()
        expect(page.locator("[data-head] th[aria-sort=descending]")).to_have_count(1)
        expect(rows.first).to_contain_text("10")

        page.locator("[data-body] tr", has_text="#1").click()
        drawer = page.locator("[data-drawer]")
        expect(drawer).to_contain_text("Polar Logistics")
        expect(drawer).to_contain_text("GR-000001")
        expect(drawer).to_contain_text("Frozen peas")
        drawer.get_by_role("button", name="Edit").click()
        drawer.get_by_label("Quantity").fill("5")
        drawer.get_by_role("button", name="Save").click()
        expect(page.locator(".lc-toast", has_text="Record saved.")).to_be_visible()
        expect(drawer.locator("dl")).to_contain_text("6,250")  # total = 5 * 1250 fen
        expect(drawer.locator(".lc-timeline li")).to_have_count(2)
        alice.shot("records-drawer")

        drawer.get_by_role("button", name="Delete").click()
        expect(rows).to_have_count(1)
        page.locator(".lc-toast").get_by_role("button", name="Undo").click()
        expect(page.locator(".lc-toast", has_text="Record restored.")).to_be_visible()
        expect(rows).to_have_count(2)

        # Deleted once more, it waits in the deleted records, where a manager restores it.
        page.locator("[data-body] tr", has_text="#2").click()
        drawer.get_by_role("button", name="Delete").click()
        expect(rows).to_have_count(1)
        page.get_by_label("Deleted records").check()
        expect(rows).to_have_count(1)
        rows.first.click()
        drawer.get_by_role("button", name="Restore").click()
        expect(rows).to_have_count(0)
        page.get_by_label("Deleted records").uncheck()
        expect(rows).to_have_count(2)

        assert alice.external == [], alice.external
        assert alice.errors == [], alice.errors
        # The only failed call is the submission with the invalid e-mail.
        assert [(m, status) for m, _u, status in alice.failed] == [("POST", 400)], alice.failed
    finally:
        alice.close()
