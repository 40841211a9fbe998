"""Two-step verification (TOTP, RFC 6238): enrolment shown once, confirmation, the second
sign-in step, no replay, rate limits, single-use recovery codes, turning it off."""

from __future__ import annotations

import time

import pyotp
import pytest

from core.models import AuditLogEntry
from core.security.models import RecoveryCode, TwoFactorDevice
from core.security.totp import MAX_FAILURES, device_secret

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def code_at(secret, offset_steps=0):
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def enrol_by_api(client):
    response = client.post("/api/v1/me/two-factor/enrol/")
    assert response.status_code == 201, response.content
    return response.json()


def turn_on(client):
    """Enrol and confirm; returns (secret, recovery codes)."""
    secret = enrol_by_api(client)["secret"]
    confirmed = client.post(
        "/api/v1/me/two-factor/confirm/", {"code": code_at(secret)}, format="json"
    )
    assert confirmed.status_code == 200, confirmed.content
    return secret, confirmed.json()["recovery_codes"]


def test_enrolment_shows_the_seed_once_as_text_and_a_local_qr_code(api, member):
    client = api(member)
    body = enrol_by_api(client)
    assert len(body["secret"]) >= 32
    assert (
        body["otpauth_uri"].startswith("otpauth://totp/") and body["secret"] in body["otpauth_uri"]
    )
    assert body["qr_code"].startswith("data:image/svg+xml")
    device = TwoFactorDevice.objects.get(user=member.user)
    assert body["secret"] not in device.secret_encrypted  # encrypted at rest
    assert device_secret(device) == body["secret"]
    status = client.get("/api/v1/me/two-factor/").json()
    assert status == {
        "enabled": False,
        "pending": True,
        "confirmed_at": None,
        "recovery_codes_left": 0,
    }
    assert body["secret"] not in client.get("/api/v1/me/two-factor/").content.decode()


def test_a_wrong_code_does_not_turn_it_on(api, member):
    client = api(member)
    enrol_by_api(client)
    response = client.post("/api/v1/me/two-factor/confirm/", {"code": "000000"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_code"
    assert TwoFactorDevice.objects.get(user=member.user).confirmed_at is None


def test_confirmation_turns_it_on_with_ten_single_use_recovery_codes(api, member):
    client = api(member)
    _secret, codes = turn_on(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=member.user).values_list("code_hash", flat=True))
    assert len(stored) == 10 and not any(c in h for c in codes for h in stored)  # hashed
    status = client.get("/api/v1/me/two-factor/").json()
    assert status["enabled"] is True and status["recovery_codes_left"] == 10
    assert AuditLogEntry.objects.filter(
        org=member.org, action="security.two_factor.enable", actor=member.user
    ).exists()
    again = client.post("/api/v1/me/two-factor/enrol/")
    assert again.status_code == 409


def test_api_login_asks_for_the_code(api, member):
    secret, _codes = turn_on(api(member))
    url = "/api/v1/auth/token/"
    data = {"email": member.user.email, "password": PASSWORD}
    missing = api(None).post(url, data, format="json")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "two_factor_code_required"
    wrong = api(None).post(url, {**data, "otp_code": "123456"}, format="json")
    assert wrong.status_code == 400
    ok = api(None).post(url, {**data, "otp_code": code_at(secret, 1)}, format="json")
    assert ok.status_code == 201, ok.content


def test_web_login_has_a_second_step_and_a_code_works_once(client, api, member):
    secret, _codes = turn_on(api(member))
    first = client.post("/login/", {"username": member.user.email, "password": PASSWORD})
    assert first.status_code == 302 and first["Location"] == "/login/verify/"
    assert "_auth_user_id" not in client.session  # not signed in yet
    assert client.get(f"/o/{member.org_id}/").status_code == 302
    code = code_at(secret, 1)
    verified = client.post("/login/verify/", {"code": code})
    assert verified.status_code == 302
    assert client.session["_auth_user_id"] == str(member.user.pk)
    assert client.get(f"/o/{member.org_id}/").status_code == 200

    client.logout()
    client.post("/login/", {"username": member.user.email, "password": PASSWORD})
    replay = client.post("/login/verify/", {"code": code})
    assert replay.status_code == 400  # the same code in its window is refused
    assert "_auth_user_id" not in client.session


def test_a_used_step_and_older_ones_are_refused(api, member):
    client = api(member)
    secret, _codes = turn_on(client)  # used the current step
    older = client.post(
        "/api/v1/me/two-factor/disable/", {"code": code_at(secret, -1)}, format="json"
    )
    assert older.status_code == 400
    assert TwoFactorDevice.objects.filter(user=member.user).exists()


def test_too_many_wrong_codes_are_rate_limited(client, api, member):
    secret, _codes = turn_on(api(member))
    client.post("/login/", {"username": member.user.email, "password": PASSWORD})
    for _n in range(MAX_FAILURES):
        assert client.post("/login/verify/", {"code": "000000"}).status_code == 400
    blocked = client.post("/login/verify/", {"code": code_at(secret, 1)})
    assert blocked.status_code == 429
    assert "Too many wrong codes" in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    api_blocked = api(member).post(
        "/api/v1/me/two-factor/disable/", {"code": code_at(secret, 1)}, format="json"
    )
    assert api_blocked.status_code == 429
    assert api_blocked.json()["error"]["code"] == "too_many_attempts"


def test_recovery_codes_sign_in_once(client, api, member):
    _secret, codes = turn_on(api(member))
    client.post("/login/", {"username": member.user.email, "password": PASSWORD})
    assert client.post("/login/verify/", {"code": codes[0].upper()}).status_code == 302
    client.logout()
    client.post("/login/", {"username": member.user.email, "password": PASSWORD})
    assert client.post("/login/verify/", {"code": codes[0]}).status_code == 400
    assert RecoveryCode.objects.filter(user=member.user, used_at__isnull=True).count() == 9


def test_turning_it_off_needs_a_code(api, member):
    client = api(member)
    secret, _codes = turn_on(client)
    refused = client.post("/api/v1/me/two-factor/disable/", {"code": "999999"}, format="json")
    assert refused.status_code == 400
    ok = client.post("/api/v1/me/two-factor/disable/", {"code": code_at(secret, 1)}, format="json")
    assert ok.status_code == 204
    assert not TwoFactorDevice.objects.filter(user=member.user).exists()
    assert not RecoveryCode.objects.filter(user=member.user).exists()
    assert AuditLogEntry.objects.filter(action="security.two_factor.disable").exists()


def test_the_set_up_page_shows_the_qr_code_once(client, member):
    client.force_login(member.user)
    page = client.get("/account/two-factor/")
    assert page.status_code == 200 and "Set up two-step verification" in page.content.decode()
    started = client.post("/account/two-factor/", {"step": "start"})
    html = started.content.decode()
    assert 'src="data:image/svg+xml' in html and "no-store" in started["Cache-Control"]
    secret = device_secret(TwoFactorDevice.objects.get(user=member.user))
    assert secret in html
    assert secret not in client.get("/account/two-factor/").content.decode()
    confirmed = client.post("/account/two-factor/", {"step": "confirm", "code": code_at(secret)})
    assert confirmed.status_code == 200
    assert len(RecoveryCode.objects.filter(user=member.user)) == 10
    assert "Your recovery codes" in confirmed.content.decode()


def test_an_admin_session_steps_up_when_the_organisation_requires_it(client, api, owner, admin):
    from core.security.actions import do_update_security_policy

    secret, _codes = turn_on(api(admin))
    do_update_security_policy(owner, {"require_two_factor_for_admins": True}, ip="127.0.0.1")
    client.force_login(admin.user)  # a session from before the requirement
    home = f"/o/{admin.org_id}/"
    sent = client.get(home)
    assert sent.status_code == 302 and sent["Location"].startswith("/login/verify/")
    verified = client.post(sent["Location"], {"code": code_at(secret, 1)})
    assert verified.status_code == 302 and verified["Location"] == home
    assert client.get(home).status_code == 200
