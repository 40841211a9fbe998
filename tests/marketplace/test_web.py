"""Marketplace web pages: catalogue, app page, consent screen, installed apps, partner
console and the operators' review queue; who may see what."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from marketplace.actions import do_install_app
from tests.marketplace.conftest import make_manifest

SCOPES = ["core:member.read", "im:card.write"]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


def assert_csp_safe(html: str) -> None:
    """No inline script or style: scripts come from files, data from json_script."""
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert " onclick=" not in html and " style=" not in html


@pytest.fixture
def app(published_app):
    return published_app(app_id="com.acme.expense")


def test_catalogue_search_and_categories(app, published_app, org, member):
    published_app(
        app_id="com.acme.purchase",
        name="Purchase Helper",
        summary="Buy.",
        categories=["operations"],
        scopes=["lowcode:record.read"],
    )
    client = client_for(member.user)
    html = page(client, f"/o/{org.pk}/marketplace/")
    assert "Quick Expense" in html and "Purchase Helper" in html
    assert (
        "Finance and expenses" in html and "1,200.00 CNY" not in html
    )  # tiles show the lowest price
    assert_csp_safe(html)
    found = page(client, f"/o/{org.pk}/marketplace/?q=purchase")
    assert "Purchase Helper" in found and "Quick Expense" not in found
    finance = page(client, f"/o/{org.pk}/marketplace/?category=finance")
    assert "Quick Expense" in finance and "Purchase Helper" not in finance
    empty = page(client, f"/o/{org.pk}/marketplace/?q=zzzz")
    assert "No apps match" in empty


def test_app_page_lists_scopes_in_words_and_prices(app, org, admin, member):
    html = page(client_for(admin.user), f"/o/{org.pk}/marketplace/apps/com.acme.expense/")
    assert "See the member directory" in html and "im:card.write" in html
    assert "Can make changes" in html  # the write scope is flagged
    assert "12.00 CNY per member / month" in html and "14-day free trial" in html
    assert f"/o/{org.pk}/marketplace/apps/com.acme.expense/install/" in html
    assert_csp_safe(html)
    as_member = page(client_for(member.user), f"/o/{org.pk}/marketplace/apps/com.acme.expense/")
    assert "Ask an admin" in as_member and "/install/" not in as_member
    page(client_for(admin.user), f"/o/{org.pk}/marketplace/apps/com.nope.nope/", 404)


def test_consent_screen_is_for_admins(app, org, admin, member):
    html = page(client_for(admin.user), f"/o/{org.pk}/marketplace/apps/com.acme.expense/install/")
    assert "Consent and install" in html and "Post and update interactive cards" in html
    assert 'name="plan" value="team"' in html
    assert '"scopes": ["core:member.read", "im:card.write"]' in html  # the consent sent
    assert_csp_safe(html)
    page(client_for(member.user), f"/o/{org.pk}/marketplace/apps/com.acme.expense/install/", 403)


def test_installed_apps_page_shows_access_and_pending_consent(
    app, org, admin, member, publish_version
):
    do_install_app(admin, app, scopes=SCOPES)
    publish_version(
        app, make_manifest(app.app_id, version="1.1.0", scopes=[*SCOPES, "lowcode:record.read"])
    )
    html = page(client_for(admin.user), f"/o/{org.pk}/marketplace/installed/")
    assert "Quick Expense" in html and "Uninstall" in html
    assert "Version 1.1.0 asks for more access" in html and "Read low-code records" in html
    assert "is-new" in html
    assert_csp_safe(html)
    page(client_for(member.user), f"/o/{org.pk}/marketplace/installed/", 403)
    # already installed: the consent screen sends the admin to the installed page
    response = client_for(admin.user).get(f"/o/{org.pk}/marketplace/apps/com.acme.expense/install/")
    assert response.status_code == 302 and response["Location"].endswith("/marketplace/installed/")


def test_other_organisations_pages_are_404(app, org, outsider):
    client = client_for(outsider.user)
    for path in ("", "installed/", "apps/com.acme.expense/", "apps/com.acme.expense/install/"):
        page(client, f"/o/{org.pk}/marketplace/{path}", 404)


def test_partner_console(partner_owner, make_partner_app, publish_version, operator, make_user):
    from marketplace.actions import do_create_version, do_reject_version, do_submit_version

    app = make_partner_app("com.acme.expense")
    client = client_for(partner_owner.user)
    home = page(client, "/partners/")
    assert "Acme Apps" in home and "Sign up a partner company" in home
    assert_csp_safe(home)
    partner_html = page(client, f"/partners/{partner_owner.partner_id}/")
    assert "com.acme.expense" in partner_html and "Payout details" in partner_html
    assert_csp_safe(partner_html)
    version = do_create_version(partner_owner, app, make_manifest(app.app_id))
    do_submit_version(partner_owner, version)
    do_reject_version(operator, version, reason="Screenshots missing.")
    app_html = page(client, f"/partners/apps/{app.pk}/")
    assert "Screenshots missing." in app_html and "Rejected" in app_html
    assert "Edit manifest" in app_html and "Submit for review" in app_html
    assert app.oauth_application.client_id in app_html
    assert_csp_safe(app_html)
    stranger = client_for(make_user())
    page(stranger, f"/partners/{partner_owner.partner_id}/", 404)
    page(stranger, f"/partners/apps/{app.pk}/", 404)
    assert "You do not work for a partner yet" in page(stranger, "/partners/")


def test_review_queue_is_for_operators(make_partner_app, partner_owner, operator, make_user):
    from marketplace.actions import do_create_version, do_submit_version

    app = make_partner_app("com.acme.expense")
    version = do_create_version(partner_owner, app, make_manifest(app.app_id))
    do_submit_version(partner_owner, version)
    ops = client_for(operator)
    queue = page(ops, "/ops/review/")
    assert "Quick Expense" in queue and "Acme Apps" in queue
    assert_csp_safe(queue)
    detail = page(ops, f"/ops/review/{version.pk}/")
    assert "Approve" in detail and "Reason for rejecting" in detail and "is-new" in detail
    assert_csp_safe(detail)
    page(client_for(partner_owner.user), "/ops/review/", 403)
    page(client_for(make_user()), f"/ops/review/{version.pk}/", 403)


def test_pages_need_sign_in(org):
    for url in ("/partners/", "/ops/review/", f"/o/{org.pk}/marketplace/"):
        response = Client().get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_navigation_links_to_the_marketplace(org, member):
    html = page(client_for(member.user), f"/o/{org.pk}/")
    assert f'href="/o/{org.pk}/marketplace/"' in html
