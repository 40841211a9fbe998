"""The OAuth 2.0 flows end to end, driven by a third-party client library (authlib).

A real HTTP server (pytest-django's ``live_server``) answers authlib's ``OAuth2Session``
(requests-based): authorization code with PKCE S256, where a signed-in member (session
cookie) approves the consent page; refresh; client credentials; revocation; then API
calls with the tokens.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.test import Client
from django.utils import timezone

from marketplace.models import InstallationToken

CALLBACK = "https://127.0.0.1:8765/callback"  # the app's own server: never called here
GRANTED = ["core:org.read", "core:member.read", "lowcode:record.read", "im:message.write"]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _plain_http(monkeypatch):
    """live_server speaks http; authlib refuses it unless told this is a test."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def setup(org, member, oauth_app, install_app):
    app, client_id, secret = oauth_app(GRANTED, redirect_uris=[CALLBACK])
    installation = install_app(app, org, GRANTED)
    return app, client_id, secret, installation


def browser_for(user) -> requests.Session:
    """A browser signed in as ``user`` (its session cookie)."""
    django_client = Client()
    django_client.force_login(user)
    browser = requests.Session()
    _OPEN.append(browser)
    browser.cookies.set(
        settings.SESSION_COOKIE_NAME, django_client.cookies[settings.SESSION_COOKIE_NAME].value
    )
    return browser


def approve(browser: requests.Session, authorize_url: str, decision: str = "allow") -> str:
    """Open the consent page, post the member's decision; returns the redirect to the app."""
    page = browser.get(authorize_url, allow_redirects=False)
    assert page.status_code == 200, page.text
    assert "wants to act for you" in page.text
    form = page.text[page.text.index("<form") :]
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }
    answer = browser.post(
        authorize_url.split("?")[0],
        data={**fields, "decision": decision},
        headers={"Referer": authorize_url},
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


_OPEN: list[requests.Session] = []


@pytest.fixture(autouse=True)
def _close_sessions():
    """Close keep-alive connections before the live server stops."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def client_session(*args, **kwargs) -> OAuth2Session:
    session = OAuth2Session(*args, **kwargs)
    _OPEN.append(session)
    return session


def oauth_session(client_id, secret, scope) -> OAuth2Session:
    return client_session(
        client_id,
        secret,
        scope=scope,
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )


def test_authorization_code_with_pkce_then_refresh_and_revoke(live_server, setup, org, member):
    _app, client_id, secret, installation = setup
    session = oauth_session(client_id, secret, "core:org.read core:member.read")
    verifier = generate_token(64)
    url, state = session.create_authorization_url(
        f"{live_server.url}/oauth/authorize/", code_verifier=verifier, org=org.pk
    )
    assert "code_challenge_method=S256" in url

    callback = approve(browser_for(member.user), url)
    assert callback.startswith(CALLBACK)
    assert parse_qs(urlsplit(callback).query)["state"] == [state]

    token = session.fetch_token(
        f"{live_server.url}/oauth/token/", authorization_response=callback, code_verifier=verifier
    )
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == {"core:org.read", "core:member.read"}
    assert token["refresh_token"]

    # The token acts as the member who approved, in that organisation, within the scopes.
    members = session.get(f"{live_server.url}/api/v1/orgs/{org.pk}/members/")
    assert members.status_code == 200, members.text
    me = session.get(f"{live_server.url}/api/v1/me/")
    assert me.status_code == 403
    records = session.get(f"{live_server.url}/api/v1/orgs/{org.pk}/lowcode/records/?form=1")
    assert records.status_code == 403
    assert records.json()["error"]["code"] == "insufficient_scope"
    binding = InstallationToken.objects.get(access_token__isnull=False)
    assert binding.installation == installation
    assert binding.access_token.user == member.user

    # Refresh: a new access token, still bound to the installation; the old one is gone.
    old_access = token["access_token"]
    refreshed = session.refresh_token(f"{live_server.url}/oauth/token/")
    assert refreshed["access_token"] != old_access
    assert session.get(f"{live_server.url}/api/v1/orgs/{org.pk}/").status_code == 200
    stale = requests.get(
        f"{live_server.url}/api/v1/orgs/{org.pk}/",
        headers={"Authorization": f"Bearer {old_access}"},
    )
    assert stale.status_code == 401

    # Revoke: the token stops working at once.
    revoked = session.revoke_token(
        f"{live_server.url}/oauth/revoke/", token=refreshed["access_token"]
    )
    assert revoked.status_code == 200
    assert session.get(f"{live_server.url}/api/v1/orgs/{org.pk}/").status_code == 401


def test_client_credentials_act_as_the_app_member(live_server, setup, org, owner):
    from im.actions import do_create_group

    _app, client_id, secret, installation = setup
    session = client_session(client_id, secret, scope="core:member.read im:message.write")
    token = session.fetch_token(
        f"{live_server.url}/oauth/token/", grant_type="client_credentials", org=str(org.pk)
    )
    assert set(token["scope"].split()) == {"core:member.read", "im:message.write"}
    assert "refresh_token" not in token

    installation.refresh_from_db()
    group = do_create_group(owner, name="Expenses", member_ids=[installation.app_member_id])
    posted = session.post(
        f"{live_server.url}/api/v1/orgs/{org.pk}/conversations/{group.pk}/messages/",
        json={"body": "Your claim was approved."},
    )
    assert posted.status_code == 201, posted.text
    assert group.messages.get().sender_id == installation.app_member_id
    assert installation.app_member.user.is_app

    # Without a scope in the request, the token gets everything the admin granted.
    everything = client_session(client_id, secret).fetch_token(
        f"{live_server.url}/oauth/token/", grant_type="client_credentials", org=str(org.pk)
    )
    assert set(everything["scope"].split()) == set(GRANTED)


def test_client_credentials_refused_outside_the_installation(live_server, setup, org, other_org):
    _app, client_id, secret, _installation = setup
    url = f"{live_server.url}/oauth/token/"

    def fetch(**kwargs):
        session = client_session(client_id, kwargs.pop("secret", secret), **kwargs.pop("s", {}))
        with pytest.raises(OAuthError) as caught:
            session.fetch_token(url, grant_type="client_credentials", **kwargs)
        return caught.value

    assert fetch(org=str(other_org.pk)).error == "invalid_grant"  # not installed there
    assert fetch().error == "invalid_request"  # which organisation?
    assert fetch(org="abc").error == "invalid_request"
    beyond = fetch(org=str(org.pk), s={"scope": "lowcode:record.write"})
    assert beyond.error == "invalid_scope"
    assert "admin must consent" in beyond.description
    assert fetch(org=str(org.pk), secret="wrong").error == "invalid_client"
    assert not InstallationToken.objects.exists()


def test_wrong_verifier_replayed_and_expired_codes_fail(live_server, setup, org, member):
    from oauth2_provider.models import get_grant_model

    _app, client_id, secret, _installation = setup
    token_url = f"{live_server.url}/oauth/token/"
    browser = browser_for(member.user)

    def code_flow():
        session = oauth_session(client_id, secret, "core:org.read")
        verifier = generate_token(64)
        url, _state = session.create_authorization_url(
            f"{live_server.url}/oauth/authorize/", code_verifier=verifier, org=org.pk
        )
        return session, verifier, approve(browser, url)

    # A wrong PKCE verifier.
    session, _verifier, callback = code_flow()
    with pytest.raises(OAuthError) as wrong:
        session.fetch_token(
            token_url, authorization_response=callback, code_verifier=generate_token(64)
        )
    assert wrong.value.error == "invalid_grant"

    # A code used twice: the second exchange fails.
    session, verifier, callback = code_flow()
    session.fetch_token(token_url, authorization_response=callback, code_verifier=verifier)
    replay = oauth_session(client_id, secret, "core:org.read")
    with pytest.raises(OAuthError) as replayed:
        replay.fetch_token(token_url, authorization_response=callback, code_verifier=verifier)
    assert replayed.value.error == "invalid_grant"

    # An expired code.
    session, verifier, callback = code_flow()
    get_grant_model().objects.update(expires=timezone.now() - timedelta(seconds=1))
    with pytest.raises(OAuthError) as expired:
        session.fetch_token(token_url, authorization_response=callback, code_verifier=verifier)
    assert expired.value.error == "invalid_grant"
    assert InstallationToken.objects.filter(access_token__isnull=False).count() == 1


def test_denied_consent_returns_access_denied(live_server, setup, org, member):
    _app, client_id, secret, _installation = setup
    session = oauth_session(client_id, secret, "core:org.read")
    url, state = session.create_authorization_url(
        f"{live_server.url}/oauth/authorize/", code_verifier=generate_token(64), org=org.pk
    )
    callback = approve(browser_for(member.user), url, decision="deny")
    query = parse_qs(urlsplit(callback).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [state]
    assert "code" not in query


def test_uninstall_rejects_the_tokens(live_server, setup, org):
    from marketplace.oauth import revoke_installation_tokens

    _app, client_id, secret, installation = setup
    session = client_session(client_id, secret, scope="core:member.read")
    session.fetch_token(
        f"{live_server.url}/oauth/token/", grant_type="client_credentials", org=str(org.pk)
    )
    url = f"{live_server.url}/api/v1/orgs/{org.pk}/members/"
    assert session.get(url).status_code == 200
    installation.status = "uninstalled"
    installation.save(update_fields=["status"])
    assert session.get(url).status_code == 401
    assert revoke_installation_tokens(installation) == 1
    assert session.get(url).status_code == 401
    with pytest.raises(OAuthError) as again:
        session.fetch_token(
            f"{live_server.url}/oauth/token/", grant_type="client_credentials", org=str(org.pk)
        )
    assert again.value.error == "invalid_grant"
