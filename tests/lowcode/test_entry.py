"""QR entry links and codes; public links (create, submit, expire, revoke, limits, page)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from core.errors import Conflict, NotFound, ValidationFailed
from lowcode import public
from lowcode.actions import do_update_form
from lowcode.models import PublicLink, Record

CHECKPOINTS = [{"id": f"cp{i:02d}", "label": f"Checkpoint {i}"} for i in range(1, 14)]
FIELDS = [
    {
        "key": "checkpoint",
        "type": "single_select",
        "label": "Checkpoint",
        "options": {"choices": CHECKPOINTS},
    },
    {"key": "temp", "type": "number", "label": "Temperature", "required": True},
    {"key": "visitor", "type": "text", "label": "Your name"},
    {"key": "agree", "type": "checkbox", "label": "I agree"},
    {"key": "inspector", "type": "member", "label": "Inspector"},
    {"key": "photos", "type": "image", "label": "Photos"},
]


@pytest.fixture
def form(make_form):
    return make_form(FIELDS)


def base(form):
    return f"/api/v1/orgs/{form.org_id}/lowcode/"


# --- QR entry --------------------------------------------------------------------------------


def test_entry_json_gives_the_fill_url_and_per_value_codes(api, owner, form, settings):
    settings.TACK_PUBLIC_URL = "https://tack.example.test"
    response = api(owner).get(f"{base(form)}forms/{form.pk}/entry/")
    assert response.status_code == 200
    body = response.json()
    assert body["url"] == f"https://tack.example.test/o/{form.org_id}/apps/forms/{form.pk}/fill/"
    assert body["per_value"] == []  # no QR field chosen yet
    assert body["qr_png"].endswith(f"/lowcode/forms/{form.pk}/qr.png")
    do_update_form(owner, form, qr_field="checkpoint")
    body = api(owner).get(f"{base(form)}forms/{form.pk}/entry/").json()
    assert len(body["per_value"]) == 13
    seventh = body["per_value"][6]
    assert (seventh["value"], seventh["label"]) == ("cp07", "Checkpoint 7")
    url = urlsplit(seventh["url"])
    assert url.path == f"/o/{form.org_id}/apps/forms/{form.pk}/fill/"
    assert parse_qs(url.query) == {"checkpoint": ["cp07"]}
    assert seventh["qr_svg"].endswith("/qr.svg?value=cp07")


def test_loopback_public_url_falls_back_to_the_request_host(api, owner, form, settings):
    settings.TACK_PUBLIC_URL = "http://127.0.0.1:8000"
    settings.ALLOWED_HOSTS = ["plant.local", "testserver"]
    body = api(owner).get(f"{base(form)}forms/{form.pk}/entry/", HTTP_HOST="plant.local").json()
    assert body["url"].startswith("http://plant.local/o/")


def test_qr_png_and_svg_are_valid_images(api, owner, form):
    do_update_form(owner, form, qr_field="checkpoint")
    client = api(owner)
    png = client.get(f"{base(form)}forms/{form.pk}/qr.png", HTTP_ACCEPT="image/png")
    assert png.status_code == 200
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    svg = client.get(f"{base(form)}forms/{form.pk}/qr.svg?value=cp07")
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(svg.content)
    assert root.tag.endswith("svg")
    other = client.get(f"{base(form)}forms/{form.pk}/qr.svg?value=cp08")
    assert other.content != svg.content  # a different URL, a different code
    plain = client.get(f"{base(form)}forms/{form.pk}/qr.svg")
    assert plain.content not in (svg.content, other.content)
    missing = client.get(f"{base(form)}forms/{form.pk}/qr.png?value=cp99")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_qr_code_encodes_the_entry_url():
    import segno

    from lowcode import qr

    url = "https://tack.example.test/o/1/apps/forms/2/fill/?checkpoint=cp07"
    expected = segno.make(url, error="m")
    assert qr.qr_png(url) == qr.qr_png(url)
    assert expected.error == "M"
    assert qr.qr_svg(url).decode().count("<path") >= 1


def test_qr_sheet_lists_every_code_with_its_label(client, owner, form):
    do_update_form(owner, form, qr_field="checkpoint")
    client.force_login(owner.user)
    response = client.get(f"/o/{form.org_id}/apps/forms/{form.pk}/qr-sheet/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") == 14
    assert "Checkpoint 13" in html
    assert "?checkpoint=cp13" in html


def test_qr_sheet_of_another_org_is_404(client, outsider, form):
    client.force_login(outsider.user)
    assert client.get(f"/o/{form.org_id}/apps/forms/{form.pk}/qr-sheet/").status_code == 404
    assert client.get(f"/o/{outsider.org_id}/apps/forms/{form.pk}/qr-sheet/").status_code == 404


def test_entry_endpoints_of_another_org_are_404(api, outsider, form):
    client = api(outsider)
    for path in ("entry/", "qr.png", "qr.svg", "export/"):
        assert client.get(f"{base(form)}forms/{form.pk}/{path}").status_code == 404
        theirs = f"/api/v1/orgs/{outsider.org_id}/lowcode/forms/{form.pk}/{path}"
        assert client.get(theirs).status_code == 404


# --- public links ----------------------------------------------------------------------------


def create_link(api, who, form, **extra):
    return api(who).post(f"{base(form)}public-links/", {"form": form.pk, **extra}, format="json")


def token_of(url: str) -> str:
    return urlsplit(url).path.split("/")[2]


def test_public_link_lifecycle(api, owner, form, client):
    response = create_link(
        api, owner, form, name="Visitors", max_submissions=5, prefill={"checkpoint": "cp03"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "active"
    assert "/f/" in body["url"]
    token = token_of(body["url"])
    link = PublicLink.objects.get(pk=body["id"])
    assert link.token_hash != token and len(link.token_hash) == 64
    assert link.expires_at - timezone.now() > timedelta(days=6, hours=23)
    listed = api(owner).get(f"{base(form)}public-links/?form={form.pk}").json()
    assert [(item["id"], item["url"]) for item in listed] == [(body["id"], None)]

    record = public.do_submit_public(token, {"temp": 36.6, "visitor": "Ann"}, "10.0.0.1")
    assert record.source == Record.Source.PUBLIC
    assert record.created_by is None
    assert record.data["checkpoint"] == "cp03"  # fixed by the link
    link.refresh_from_db()
    assert link.submission_count == 1

    revoked = api(owner).delete(f"{base(form)}public-links/{body['id']}/")
    assert revoked.status_code == 204
    with pytest.raises(NotFound):
        public.do_submit_public(token, {"temp": 1}, "10.0.0.1")
    assert client.get(f"/f/{token}/").status_code == 404


def test_expired_and_unknown_links_are_404(owner, form, client):
    link, token = public.do_create_public_link(owner, form, expires_in_days=1)
    PublicLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(NotFound):
        public.do_submit_public(token, {"temp": 1}, "10.0.0.1")
    assert client.get(f"/f/{token}/").status_code == 404
    assert client.get("/f/" + "x" * 43 + "/").status_code == 404
    with pytest.raises(NotFound):
        public.do_submit_public("short", {"temp": 1}, None)


def test_max_submissions_reached_is_409(owner, form, client):
    _link, token = public.do_create_public_link(owner, form, max_submissions=2)
    public.do_submit_public(token, {"temp": 1}, "10.0.0.1")
    public.do_submit_public(token, {"temp": 2}, "10.0.0.2")
    with pytest.raises(Conflict):
        public.do_submit_public(token, {"temp": 3}, "10.0.0.3")
    assert Record.objects.filter(form=form).count() == 2
    page = client.post(f"/f/{token}/", {"temp": "4"})
    assert page.status_code == 409
    assert client.get(f"/f/{token}/").status_code == 409


def test_invalid_submission_does_not_use_up_the_limit(owner, form):
    link, token = public.do_create_public_link(owner, form, max_submissions=1)
    with pytest.raises(ValidationFailed) as info:
        public.do_submit_public(token, {"visitor": "no temperature"}, "10.0.0.1")
    assert "temp" in info.value.fields
    link.refresh_from_db()
    assert link.submission_count == 0
    public.do_submit_public(token, {"temp": 5}, "10.0.0.1")


def test_fields_not_offered_publicly_are_refused(owner, form):
    _link, token = public.do_create_public_link(owner, form)
    with pytest.raises(ValidationFailed) as info:
        public.do_submit_public(token, {"temp": 1, "inspector": owner.pk}, "10.0.0.1")
    assert "inspector" in info.value.fields
    assert not Record.objects.filter(form=form).exists()


def test_rate_limit_per_ip_and_per_link_is_429(api, owner, form, client, monkeypatch):
    monkeypatch.setattr(public, "RATE_PER_IP", (2, 600))
    monkeypatch.setattr(public, "RATE_PER_LINK", (3, 3600))
    _link, token = public.do_create_public_link(owner, form)
    public.do_submit_public(token, {"temp": 1}, "10.0.0.1")
    public.do_submit_public(token, {"temp": 2}, "10.0.0.1")
    with pytest.raises(public.RateLimited) as info:
        public.do_submit_public(token, {"temp": 3}, "10.0.0.1")
    assert info.value.status == 429
    public.do_submit_public(token, {"temp": 4}, "10.0.0.2")  # another visitor: 3rd for the link
    with pytest.raises(public.RateLimited):
        public.do_submit_public(token, {"temp": 5}, "10.0.0.3")
    page = client.post(f"/f/{token}/", {"temp": "6"}, REMOTE_ADDR="10.0.0.4")
    assert page.status_code == 429
    assert Record.objects.filter(form=form).count() == 3


def test_rate_limit_error_uses_the_envelope(rf):
    from core.api.errors import exception_handler

    response = exception_handler(public.RateLimited("Slow down."), {})
    assert response.status_code == 429
    assert response.data == {"error": {"code": "throttled", "message": "Slow down.", "fields": {}}}


def test_public_page_renders_fields_and_shows_errors(owner, form, client):
    _link, token = public.do_create_public_link(owner, form, prefill={"checkpoint": "cp07"})
    page = client.get(f"/f/{token}/?visitor=Bob")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="temp"' in html and 'name="visitor"' in html and 'value="Bob"' in html
    assert 'name="inspector"' not in html and 'name="photos"' not in html  # not offered
    assert "Checkpoint 7" in html and 'name="checkpoint"' not in html  # fixed by the link
    bad = client.post(f"/f/{token}/", {"temp": "hot", "visitor": "Bob"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "has-error" in html and "field-error" in html
    assert 'value="Bob"' in html  # what was typed stays
    assert not Record.objects.filter(form=form).exists()
    good = client.post(f"/f/{token}/", {"temp": "21.5", "agree": "1", "visitor": "Bob"})
    assert good.status_code == 302
    assert good["Location"] == f"/f/{token}/thanks/"
    record = Record.objects.get(form=form)
    assert record.data == {"checkpoint": "cp07", "temp": 21.5, "agree": True, "visitor": "Bob"}
    assert record.source == Record.Source.PUBLIC
    thanks = client.get(good["Location"])
    assert thanks.status_code == 200
    assert "Thank you" in thanks.content.decode()


def test_form_requiring_member_fields_cannot_be_shared(api, owner, make_form):
    form = make_form(
        [
            {"key": "temp", "type": "number", "label": "Temperature"},
            {"key": "inspector", "type": "member", "label": "Inspector", "required": True},
        ],
        name="Internal",
    )
    response = create_link(api, owner, form)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_shareable"
    assert "Inspector" in response.json()["error"]["message"]
    assert not PublicLink.objects.exists()


@pytest.mark.parametrize(
    "extra",
    [
        {"expires_in_days": 0},
        {"expires_in_days": 366},
        {"max_submissions": 0},
        {"prefill": {"inspector": 1}},
        {"prefill": {"checkpoint": "nope"}},
        {"prefill": {"unknown": 1}},
    ],
)
def test_bad_link_settings_are_400(api, owner, form, extra):
    response = create_link(api, owner, form, **extra)
    assert response.status_code == 400, response.content
    assert not PublicLink.objects.exists()


def test_expires_at_must_be_within_a_year(owner, form):
    with pytest.raises(ValidationFailed):
        public.do_create_public_link(owner, form, expires_at=timezone.now() - timedelta(hours=1))
    with pytest.raises(ValidationFailed):
        public.do_create_public_link(owner, form, expires_at=timezone.now() + timedelta(days=400))
    link, _token = public.do_create_public_link(
        owner, form, expires_at=timezone.now() + timedelta(days=30)
    )
    assert link.expires_at > timezone.now() + timedelta(days=29)


def test_only_managers_create_links(api, member, form):
    assert create_link(api, member, form).status_code == 403
    assert api(member).get(f"{base(form)}public-links/?form={form.pk}").status_code == 403


def test_public_links_of_another_org_are_404(api, owner, outsider, form):
    created = create_link(api, owner, form).json()
    client = api(outsider)
    assert client.get(f"{base(form)}public-links/?form={form.pk}").status_code == 404
    assert client.delete(f"{base(form)}public-links/{created['id']}/").status_code == 404
    assert create_link(api, outsider, form).status_code == 404
    theirs = f"/api/v1/orgs/{outsider.org_id}/lowcode/public-links/"
    assert client.delete(f"{theirs}{created['id']}/").status_code == 404
    assert client.post(theirs, {"form": form.pk}, format="json").status_code == 404
    assert client.get(f"{theirs}?form={form.pk}").status_code == 404
    assert PublicLink.objects.get(pk=created["id"]).revoked_at is None


def test_public_links_allowed_hook_exists(org):
    assert public.public_links_allowed(org) is True
