"""Review fixes: ways around the organisation security policy found in review."""

from __future__ import annotations

import time

import pytest

from core.security.actions import do_update_security_policy
from core.security.enforcement import AUTH_AT
from core.security.models import TwoFactorDevice
from core.security.policies import ip_in_allowlist
from core.security.totp import encrypt_secret

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
LOCAL = "127.0.0.1"


def _api_login(client, user, **extra):
    return client.post(
        "/api/v1/auth/login/",
        {"email": user.email, "password": PASSWORD, **extra},
        content_type="application/json",
    )


def _enrol(user):
    return TwoFactorDevice.objects.create(
        user=user,
        secret_encrypted=encrypt_secret("JBSWY3DPEHPK3PXP"),
        confirmed_at="2026-01-01T00:00Z",
    )


def test_an_otp_code_sent_without_an_authenticator_does_not_pass_the_second_step(
    client, owner, admin
):
    """A session that never checked a code must not count as having passed two-step: once
    the person enrols (elsewhere), that session still has to step up."""
    do_update_security_policy(owner, {"require_two_factor_for_admins": True}, ip=LOCAL)
    assert _api_login(client, admin.user, otp_code="000000").status_code == 200
    _enrol(admin.user)  # the real admin sets up an authenticator on another device
    response = client.get(f"/api/v1/orgs/{admin.org_id}/members/")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "two_factor_required"


def test_an_expired_session_cannot_mint_a_personal_token(client, owner, member):
    do_update_security_policy(owner, {"session_lifetime_minutes": 30}, ip=LOCAL)
    assert _api_login(client, member.user).status_code == 200
    session = client.session
    session[AUTH_AT] = int(time.time()) - 31 * 60
    session.save()
    response = client.post(
        "/api/v1/me/tokens/", {"name": "escape"}, content_type="application/json"
    )
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "session_expired"


def test_a_session_without_the_second_step_cannot_mint_a_personal_token(client, owner, admin):
    do_update_security_policy(owner, {"require_two_factor_for_admins": True}, ip=LOCAL)
    assert _api_login(client, admin.user).status_code == 200  # before enrolling
    _enrol(admin.user)
    response = client.post(
        "/api/v1/me/tokens/", {"name": "escape"}, content_type="application/json"
    )
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "two_factor_required"


def test_a_fresh_session_still_mints_tokens(client, owner, member):
    do_update_security_policy(owner, {"session_lifetime_minutes": 30}, ip=LOCAL)
    assert _api_login(client, member.user).status_code == 200
    response = client.post("/api/v1/me/tokens/", {"name": "ok"}, content_type="application/json")
    assert response.status_code == 201, response.content


def test_ipv4_mapped_ipv6_addresses_match_ipv4_networks():
    """A dual-stack listener reports IPv4 clients as ``::ffff:a.b.c.d``."""
    assert ip_in_allowlist(["203.0.113.0/24"], "::ffff:203.0.113.9")
    assert not ip_in_allowlist(["203.0.113.0/24"], "::ffff:198.51.100.9")
    assert ip_in_allowlist(["2001:db8::/32"], "2001:db8::1")


def test_lock_out_check_understands_ipv4_mapped_addresses(api, owner):
    response = api(owner).patch(
        f"/api/v1/orgs/{owner.org_id}/security-policy/",
        {"ip_allowlist": ["203.0.113.0/24"]},
        format="json",
        REMOTE_ADDR="::ffff:203.0.113.9",
    )
    assert response.status_code == 200, response.content


def test_lock_out_check_applies_to_ipv6_callers(api, owner):
    response = api(owner).patch(
        f"/api/v1/orgs/{owner.org_id}/security-policy/",
        {"ip_allowlist": ["2001:db8:1::/48"]},
        format="json",
        REMOTE_ADDR="2001:db8:2::5",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "ip_allowlist_locks_you_out"


@pytest.mark.parametrize(
    "body",
    [
        {"ip_allowlist": "10.0.0.0/8"},
        {"ip_allowlist": [None]},
        {"ip_allowlist": ["10.0.0.0/99"]},
        {"export_roles": ["members"]},
        {"export_roles": {"members": "owner"}},
        {"export_roles": {"nope": ["owner"]}},
        {"session_lifetime_minutes": "abc"},
        {"password_min_length": 10**30},
    ],
)
def test_malformed_policy_changes_are_400(api, owner, body):
    response = api(owner).patch(
        f"/api/v1/orgs/{owner.org_id}/security-policy/", body, format="json"
    )
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("code", ["", "1" * 20, "abcdef", "12 34 56", "\x00" * 6])
def test_malformed_two_factor_codes_are_4xx(api, member, code):
    client = api(member)
    client.post("/api/v1/me/two-factor/enrol/")
    response = client.post("/api/v1/me/two-factor/confirm/", {"code": code}, format="json")
    assert 400 <= response.status_code < 500, response.content


def test_an_expired_web_session_cannot_mint_a_token_on_the_account_page(client, owner, member):
    from core.models import ApiToken

    do_update_security_policy(owner, {"session_lifetime_minutes": 30}, ip=LOCAL)
    client.post("/login/", {"username": member.user.email, "password": PASSWORD})
    session = client.session
    session[AUTH_AT] = int(time.time()) - 31 * 60
    session.save()
    response = client.post("/account/", {"form": "token", "name": "CI", "expires_in_days": "30"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not ApiToken.objects.filter(user=member.user).exists()


def test_a_fresh_web_session_mints_a_token_on_the_account_page(client, owner, member):
    from core.models import ApiToken

    do_update_security_policy(owner, {"session_lifetime_minutes": 30}, ip=LOCAL)
    client.post("/login/", {"username": member.user.email, "password": PASSWORD})
    response = client.post("/account/", {"form": "token", "name": "CI", "expires_in_days": "30"})
    assert response.status_code == 200
    assert ApiToken.objects.filter(user=member.user).count() == 1


@pytest.mark.parametrize("name", ["logo.html", "logo.svg", "logo.png.html"])
def test_a_logo_with_a_dangerous_extension_is_refused(api, admin, name, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    upload = SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")
    response = api(admin).patch(
        f"/api/v1/orgs/{admin.org_id}/branding/", {"brand_logo": upload}, format="multipart"
    )
    assert response.status_code == 400, response.content


def test_branding_of_another_organisation_is_404(api, admin, other_org):
    client = api(admin)
    url = f"/api/v1/orgs/{other_org.pk}/branding/"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"brand_name": "x"}, format="json").status_code == 404
    assert client.get(f"/api/v1/orgs/{other_org.pk}/security-policy/").status_code == 404


# --- the chat socket ---------------------------------------------------------------------------


async def _socket(who, ip):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from core.actions import do_create_api_token

    issue = database_sync_to_async(lambda: do_create_api_token(who.user, name="ws"))
    secret = (await issue()).secret
    ws = WebsocketCommunicator(
        application, f"/ws/?token={secret}", headers=[(b"origin", b"http://localhost")]
    )
    ws.scope["client"] = (ip, 5000)
    connected, _code = await ws.connect()
    assert connected
    assert (await ws.receive_json_from(timeout=3))["type"] == "hello"
    return ws


@pytest.mark.django_db(transaction=True)
async def test_a_socket_from_outside_the_allowlist_receives_nothing_of_the_organisation(
    realtime, owner, member
):
    from channels.db import database_sync_to_async

    from im import actions as im_actions

    group = await database_sync_to_async(im_actions.do_create_group)(
        owner, name="Ops", member_ids=[member.pk]
    )
    await database_sync_to_async(do_update_security_policy)(
        owner, {"ip_allowlist": ["203.0.113.0/24"]}, ip="203.0.113.1"
    )
    inside = await _socket(member, "203.0.113.7")
    outside = await _socket(member, "198.51.100.7")
    await database_sync_to_async(im_actions.do_send_message)(owner, group, body="secret plan")
    for _ in range(20):
        event = await inside.receive_json_from(timeout=3)
        if event["type"] == "message.created":
            break
    assert event["message"]["body"] == "secret plan"
    assert await outside.receive_nothing(timeout=0.5)
    await inside.disconnect()
    await outside.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_on_a_session_past_its_lifetime_receives_nothing_of_the_organisation(
    realtime, owner, member
):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.test import Client

    from config.asgi import application
    from im import actions as im_actions

    group = await database_sync_to_async(im_actions.do_create_group)(
        owner, name="Ops", member_ids=[member.pk]
    )
    await database_sync_to_async(do_update_security_policy)(
        owner, {"session_lifetime_minutes": 30}, ip=LOCAL
    )

    @database_sync_to_async
    def session_cookie(age_minutes):
        web = Client()
        web.post("/login/", {"username": member.user.email, "password": PASSWORD})
        session = web.session
        session[AUTH_AT] = int(time.time()) - age_minutes * 60
        session.save()
        return web.cookies["sessionid"].value

    async def open_socket(cookie):
        ws = WebsocketCommunicator(
            application,
            "/ws/",
            headers=[(b"origin", b"http://localhost"), (b"cookie", f"sessionid={cookie}".encode())],
        )
        connected, _code = await ws.connect()
        assert connected
        assert (await ws.receive_json_from(timeout=3))["type"] == "hello"
        return ws

    fresh = await open_socket(await session_cookie(5))
    stale = await open_socket(await session_cookie(31))
    await database_sync_to_async(im_actions.do_send_message)(owner, group, body="secret plan")
    for _ in range(20):
        event = await fresh.receive_json_from(timeout=3)
        if event["type"] == "message.created":
            break
    assert event["message"]["body"] == "secret plan"
    assert await stale.receive_nothing(timeout=0.5)
    await fresh.disconnect()
    await stale.disconnect()
