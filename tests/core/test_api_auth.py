from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import ApiToken

pytestmark = pytest.mark.django_db


def bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_token_login_issues_a_hashed_token_that_works(make_user):
    make_user("dev@dairy.test", password="correct-horse-battery")
    response = APIClient().post(
        "/api/v1/auth/token/",
        {
            "email": "DEV@dairy.test",
            "password": "correct-horse-battery",
            "name": "CLI",
            "expires_in_days": 7,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    secret = response.json()["token"]
    assert secret.startswith("tack_")
    stored = ApiToken.objects.get()
    assert secret not in (stored.token_hash, stored.prefix) and secret.startswith(stored.prefix)
    assert (stored.expires_at - timezone.now()).days in (6, 7)
    me = bearer(secret).get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["email"] == "dev@dairy.test"
    ApiToken.objects.get().refresh_from_db()
    assert ApiToken.objects.get().last_used_at is not None


def test_wrong_password_is_401_in_the_envelope(make_user):
    make_user("dev@dairy.test")
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": "dev@dairy.test", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not ApiToken.objects.exists()


def test_repeated_failures_lock_the_account_out(make_user, settings):
    make_user("dev@dairy.test", password="correct-horse-battery")
    client = APIClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/api/v1/auth/token/", {"email": "dev@dairy.test", "password": "wrong"}, format="json"
        )
    locked = client.post(
        "/api/v1/auth/token/",
        {"email": "dev@dairy.test", "password": "correct-horse-battery"},
        format="json",
    )
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] in {"locked_out", "throttled"}
    assert not ApiToken.objects.exists()


def test_revoked_and_expired_tokens_are_refused(api, member):
    client = api(member)
    token = ApiToken.objects.get(user=member.user)
    assert client.get("/api/v1/me/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/me/").status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() + timedelta(days=1), revoked_at=timezone.now()
    )
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_garbage_authorization_headers_are_401(db):
    for header in ("Bearer", "Bearer a b", "Bearer tack_doesnotexist", "Bearer \xff"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/api/v1/me/").status_code == 401, header


def test_a_suspended_users_token_stops_working(api, member):
    client = api(member)
    member.user.is_active = False
    member.user.save()
    assert client.get("/api/v1/me/").status_code == 401


def test_manage_my_tokens(api, member):
    client = api(member)
    created = client.post(
        "/api/v1/me/tokens/", {"name": "Laptop", "expires_in_days": 30}, format="json"
    )
    assert created.status_code == 201
    listed = client.get("/api/v1/me/tokens/").json()["results"]
    assert {t["name"] for t in listed} == {"test", "Laptop"}
    assert all("token" not in t for t in listed)
    assert client.delete(f"/api/v1/me/tokens/{created.json()['id']}/").status_code == 204
    assert bearer(created.json()["token"]).get("/api/v1/me/").status_code == 401
    bad = client.post("/api/v1/me/tokens/", {"name": "x", "expires_in_days": 10000}, format="json")
    assert bad.status_code == 400 and "expires_in_days" in bad.json()["error"]["fields"]


def test_someone_elses_token_cannot_be_revoked(api, member, admin):
    theirs = ApiToken.objects.create(
        user=admin.user,
        name="x",
        prefix="p",
        token_hash="h" * 64,
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert api(member).delete(f"/api/v1/me/tokens/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_session_login_then_csrf_protected_writes_and_logout(make_user):
    make_user("web@dairy.test", password="correct-horse-battery")
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/auth/login/",
        {"email": "web@dairy.test", "password": "correct-horse-battery"},
        format="json",
    )
    assert response.status_code == 200
    assert client.get("/api/v1/me/").status_code == 200
    no_csrf = client.patch("/api/v1/me/", {"display_name": "X"}, format="json")
    assert no_csrf.status_code == 403
    assert "CSRF" in no_csrf.json()["error"]["message"]
    csrf = client.cookies["csrftoken"].value
    ok = client.patch(
        "/api/v1/me/",
        {"display_name": "Web User", "locale": "zh-hans"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert ok.status_code == 200 and ok.json()["locale"] == "zh-hans"
    assert client.post("/api/v1/auth/logout/", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_logout_with_a_token_revokes_it(api, member):
    client = api(member)
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_password_change(api, make_user):
    user = make_user(password="correct-horse-battery")
    client = api(user)
    wrong = client.post(
        "/api/v1/me/password/",
        {"current_password": "x", "new_password": "another-long-passphrase"},
        format="json",
    )
    assert wrong.status_code == 400 and "current_password" in wrong.json()["error"]["fields"]
    weak = client.post(
        "/api/v1/me/password/",
        {"current_password": "correct-horse-battery", "new_password": "1234"},
        format="json",
    )
    assert weak.status_code == 400 and "new_password" in weak.json()["error"]["fields"]
    ok = client.post(
        "/api/v1/me/password/",
        {"current_password": "correct-horse-battery", "new_password": "another-long-passphrase"},
        format="json",
    )
    assert ok.status_code == 204
    user.refresh_from_db()
    assert user.check_password("another-long-passphrase")


def test_passwords_are_hashed_with_argon2_in_production_settings():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_me_rejects_unknown_locale(api, member):
    response = api(member).patch("/api/v1/me/", {"locale": "klingon"}, format="json")
    assert response.status_code == 400 and "locale" in response.json()["error"]["fields"]


def test_api_throttling_answers_429_in_the_envelope(api, member, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min", "login": "3/min"}
    )
    client = api(member)
    codes = [client.get("/api/v1/me/").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    response = client.get("/api/v1/me/")
    assert response.json()["error"]["code"] == "throttled"
    assert int(response.headers["Retry-After"]) > 0


def test_login_endpoints_have_their_own_stricter_throttle(monkeypatch, db):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {"user": "1000/min", "anon": "1000/min", "login": "2/min"},
    )
    client = APIClient()
    codes = [
        client.post(
            "/api/v1/auth/login/", {"email": f"u{i}@x.test", "password": "x"}, format="json"
        ).status_code
        for i in range(3)
    ]
    assert codes == [401, 401, 429]
