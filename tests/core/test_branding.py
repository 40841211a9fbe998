"""Branding: the organisation's name, colour and logo on every page (a per-organisation
stylesheet, no inline style) and in e-mails; the branding API and its checks."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from PIL import Image

from core.actions import do_invite_member, do_update_organization
from core.models import AuditLogEntry

pytestmark = pytest.mark.django_db


def branding_url(org_id):
    return f"/api/v1/orgs/{org_id}/branding/"


def image_file(fmt="PNG", size=(64, 64), name="logo.png"):
    buffer = io.BytesIO()
    Image.new("RGB", size, "#ff8800").save(buffer, format=fmt)
    buffer.seek(0)
    buffer.name = name
    return buffer


def test_pages_load_the_organisations_colours_from_a_stylesheet(client, owner):
    do_update_organization(owner, {"brand_color": "#ff69b4", "brand_name": "Pink Works"})
    client.force_login(owner.user)
    html = client.get(f"/o/{owner.org_id}/").content.decode()
    assert "<style" not in html  # CSP: no inline style
    assert f'href="/brand/{owner.org_id}.css?v=ff69b4"' in html
    assert "Pink Works" in html
    css = client.get(f"/brand/{owner.org_id}.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    body = css.content.decode()
    assert "--brand: #ff69b4;" in body and "--brand-on: #111827;" in body


def test_a_dark_colour_gets_light_text(client, owner):
    do_update_organization(owner, {"brand_color": "#102030"})
    assert "--brand-on: #ffffff;" in client.get(f"/brand/{owner.org_id}.css").content.decode()


def test_an_unknown_organisations_stylesheet_is_not_found(client):
    assert client.get("/brand/999999.css").status_code == 404


def test_members_read_branding_and_admins_change_it_with_an_audit_entry(api, admin, member):
    assert api(member).get(branding_url(admin.org_id)).json()["brand_color"] == "#1f6feb"
    refused = api(member).patch(
        branding_url(admin.org_id), {"brand_color": "#000000"}, format="json"
    )
    assert refused.status_code == 403
    response = api(admin).patch(
        branding_url(admin.org_id),
        {"brand_color": "#ff6600", "brand_name": "Orange"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"brand_name": "Orange", "brand_color": "#ff6600", "brand_logo": None}
    entry = AuditLogEntry.objects.get(org=admin.org, action="org.update")
    assert entry.data["before"]["brand_color"] == "#1f6feb"
    assert entry.data["after"]["brand_color"] == "#ff6600"


@pytest.mark.parametrize("colour", ["orange", "#ff660", "#gg0000", "", "#ff6600;x"])
def test_a_malformed_colour_is_refused(api, admin, colour):
    response = api(admin).patch(branding_url(admin.org_id), {"brand_color": colour}, format="json")
    assert response.status_code == 400
    assert "brand_color" in response.json()["error"]["fields"]


def test_another_organisations_branding_is_not_found(api, admin, outsider):
    assert api(outsider).get(branding_url(admin.org_id)).status_code == 404
    patch = api(outsider).patch(
        branding_url(admin.org_id), {"brand_color": "#000000"}, format="json"
    )
    assert patch.status_code == 404
    admin.org.refresh_from_db()
    assert admin.org.brand_color == "#1f6feb"


def test_logo_upload_checks_type_and_size(api, admin, settings):
    client = api(admin)
    ok = client.patch(branding_url(admin.org_id), {"brand_logo": image_file()}, format="multipart")
    assert ok.status_code == 200, ok.content
    assert ok.json()["brand_logo"].endswith(".png")
    bmp = client.patch(
        branding_url(admin.org_id),
        {"brand_logo": image_file("BMP", name="logo.bmp")},
        format="multipart",
    )
    assert bmp.status_code == 400 and bmp.json()["error"]["code"] == "unsupported_image"
    settings.LOGO_MAX_BYTES = 100
    big = client.patch(branding_url(admin.org_id), {"brand_logo": image_file()}, format="multipart")
    assert big.status_code == 413
    removed = client.patch(branding_url(admin.org_id), {"brand_logo": None}, format="json")
    assert removed.status_code == 200 and removed.json()["brand_logo"] is None


def test_invitation_emails_wear_the_brand(owner, django_capture_on_commit_callbacks):
    do_update_organization(owner, {"brand_color": "#ff69b4", "brand_name": "Pink Works"})
    with django_capture_on_commit_callbacks(execute=True):
        do_invite_member(owner, email="new@dairy.test")
    message = mail.outbox[0]
    assert "Pink Works" in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert "Pink Works" in html and "background:#ff69b4" in html


def test_the_settings_page_has_the_branding_editor_and_links_to_security(client, admin):
    client.force_login(admin.user)
    html = client.get(f"/o/{admin.org_id}/settings/").content.decode()
    assert 'type="color"' in html and "data-brand-preview-root" in html
    assert f"/o/{admin.org_id}/settings/security/" in html
