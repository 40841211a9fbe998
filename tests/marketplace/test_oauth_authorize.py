"""The consent page and the OAuth client helpers: bad requests get clear answers."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from oauth2_provider.models import get_grant_model

from core.errors import ValidationFailed
from core.models import AuditLogEntry
from marketplace.models import InstallationToken
from marketplace.oauth import (
    create_oauth_client,
    ensure_app_member,
    rotate_client_secret,
    set_redirect_uris,
)

CALLBACK = "https://app.example.test/oauth/callback"
VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")


@pytest.fixture
def setup(org, oauth_app, install_app):
    app, client_id, secret = oauth_app(["core:org.read", "core:member.read"])
    installation = install_app(app, org, ["core:org.read"])
    return app, client_id, secret, installation


def authorize_url(cid, **overrides) -> str:
    params = {
        "response_type": "code",
        "client_id": cid,
        "redirect_uri": CALLBACK,
        "scope": "core:org.read",
        "state": "s-1",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return "/oauth/authorize/?" + urlencode({k: v for k, v in params.items() if v is not None})


def consent_post(client_id, org_id, **overrides) -> dict:
    data = {
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "state": "s-1",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
        "scope": "core:org.read",
        "org": org_id,
        "decision": "allow",
    }
    data.update(overrides)
    return data


def query(response) -> dict:
    return parse_qs(urlsplit(response["Location"]).query)


def test_signed_out_people_are_sent_to_sign_in(client, setup):
    _app, client_id, _secret, _installation = setup
    response = client.get(authorize_url(client_id))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/oauth/authorize/")


def test_consent_page_names_the_app_the_org_and_the_scopes(client, setup, org, member):
    app, client_id, _secret, _installation = setup
    client.force_login(member.user)
    response = client.get(authorize_url(client_id))
    assert response.status_code == 200
    text = response.content.decode()
    assert app.name in text and org.name in text
    assert "See the organisation&#x27;s name and branding" in text or "organisation" in text
    assert "core:org.read" in text
    # The browser may follow the post's redirect to the app.
    assert "https://app.example.test" in response["Content-Security-Policy"]


def test_approval_issues_a_code_bound_to_the_installation_and_is_audited(
    client, setup, org, member
):
    _app, client_id, _secret, installation = setup
    client.force_login(member.user)
    response = client.post("/oauth/authorize/", consent_post(client_id, org.pk))
    assert response.status_code == 302
    params = query(response)
    assert params["state"] == ["s-1"]
    grant = get_grant_model().objects.get(code=params["code"][0])
    assert grant.user == member.user
    assert grant.code_challenge_method == "S256"
    assert InstallationToken.objects.get(grant=grant).installation == installation
    entry = AuditLogEntry.objects.get(org=org, action="marketplace.oauth.authorized")
    assert entry.actor == member.user


@pytest.mark.parametrize(
    "overrides,error",
    [
        ({"code_challenge_method": "plain", "code_challenge": VERIFIER}, "invalid_request"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "unauthorized_client"),  # no implicit grant
        ({"scope": "core:org.read no:such.scope"}, "invalid_scope"),
    ],
)
def test_bad_requests_go_back_to_the_app_with_an_error(
    client, setup, org, member, overrides, error
):
    _app, client_id, _secret, _installation = setup
    client.force_login(member.user)
    response = client.get(authorize_url(client_id, **overrides))
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(CALLBACK)
    assert query(response)["error"] == [error]
    assert not get_grant_model().objects.exists()


def test_plain_pkce_is_refused_on_the_consent_post_too(client, setup, org, member):
    _app, client_id, _secret, _installation = setup
    client.force_login(member.user)
    data = consent_post(client_id, org.pk, code_challenge_method="plain", code_challenge=VERIFIER)
    response = client.post("/oauth/authorize/", data)
    assert response.status_code == 302
    assert query(response)["error"] == ["invalid_request"]
    assert not get_grant_model().objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [{"client_id": "nobody"}, {"redirect_uri": "https://evil.test/steal"}],
)
def test_unknown_clients_and_redirects_are_never_followed(client, setup, member, overrides):
    _app, client_id, _secret, _installation = setup
    client.force_login(member.user)
    response = client.get(authorize_url(client_id, **overrides))
    assert response.status_code == 400
    assert "evil.test" not in response.get("Location", "")
    assert "can’t be authorised" in response.content.decode()


def test_scopes_the_admin_did_not_grant_are_refused(client, setup, org, member):
    _app, client_id, _secret, _installation = setup
    client.force_login(member.user)
    response = client.get(authorize_url(client_id, scope="core:org.read core:member.read"))
    assert response.status_code == 403
    text = response.content.decode()
    assert "administrator" in text and "core:member.read" in text
    assert "error=invalid_scope" in text
    # A tampered consent form is refused the same way.
    tampered = consent_post(client_id, org.pk, scope="core:org.read core:member.read")
    assert client.post("/oauth/authorize/", tampered).status_code == 403
    assert not get_grant_model().objects.exists()


def test_organisations_where_the_app_is_not_installed_are_refused(
    client, setup, org, member, other_org, outsider
):
    _app, client_id, _secret, _installation = setup
    client.force_login(member.user)
    response = client.get(authorize_url(client_id, org=other_org.pk))
    assert response.status_code == 404
    elsewhere = consent_post(client_id, other_org.pk)
    assert client.post("/oauth/authorize/", elsewhere).status_code == 404
    # The owner of the other organisation (where it is not installed) gets nowhere either.
    client.force_login(outsider.user)
    assert client.get(authorize_url(client_id)).status_code == 403
    assert client.post("/oauth/authorize/", consent_post(client_id, org.pk)).status_code == 403
    assert not get_grant_model().objects.exists()


def test_a_person_in_several_organisations_chooses_one(
    client, setup, org, member, other_org, install_app, add_member
):
    app, client_id, _secret, _installation = setup
    install_app(app, other_org, ["core:org.read"])
    add_member(other_org, "member", user=member.user)
    client.force_login(member.user)
    response = client.get(authorize_url(client_id))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Choose an organisation" in text
    assert org.name in text and other_org.name in text
    chosen = client.get(authorize_url(client_id, org=other_org.pk))
    assert chosen.status_code == 200
    assert other_org.name in chosen.content.decode()


def test_app_accounts_cannot_authorise(client, setup):
    _app, client_id, _secret, installation = setup
    client.force_login(installation.app_member.user)
    assert client.get(authorize_url(client_id)).status_code == 403


def test_redirect_uris_are_validated(oauth_app):
    app, _client_id, _secret = oauth_app()
    with pytest.raises(ValidationFailed) as caught:
        set_redirect_uris(
            app,
            ["http://app.example.test/cb", "ftp://x.test/", "https://a.test/#frag", "relative"],
        )
    assert len(caught.value.fields["redirect_uris"]) == 4
    with pytest.raises(ValidationFailed):
        set_redirect_uris(app, [])
    set_redirect_uris(app, ["https://new.example.test/cb"])
    app.oauth_application.refresh_from_db()
    assert app.oauth_application.redirect_uri_allowed("https://new.example.test/cb")
    assert not app.oauth_application.redirect_uri_allowed(CALLBACK)


def test_http_redirects_only_to_loopback_and_only_where_the_setting_allows(oauth_app, settings):
    from oauth2_provider.settings import oauth2_settings

    app, _client_id, _secret = oauth_app()
    loopback = "http://localhost:3000/cb"
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    }
    assert oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES == ["https"]
    with pytest.raises(ValidationFailed):
        set_redirect_uris(app, [loopback])
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    }
    set_redirect_uris(app, [loopback])
    app.oauth_application.refresh_from_db()
    assert app.oauth_application.redirect_uri_allowed(loopback)
    with pytest.raises(ValidationFailed):  # http to anything but loopback: never
        set_redirect_uris(app, ["http://apps.example.com/cb"])


def test_client_secret_is_hashed_and_rotation_replaces_it(client, setup, org):
    app, client_id, secret, _installation = setup
    app.oauth_application.refresh_from_db()
    assert secret not in app.oauth_application.client_secret  # stored hashed

    def fetch(secret):
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return client.post(
            "/oauth/token/",
            {"grant_type": "client_credentials", "org": org.pk},
            HTTP_AUTHORIZATION=f"Basic {basic}",
        )

    assert fetch(secret).status_code == 200
    new_secret = rotate_client_secret(app)
    assert fetch(secret).status_code == 401
    assert fetch(new_secret).status_code == 200


def test_create_oauth_client(oauth_partner):
    from marketplace.models import App

    app = App.objects.create(partner=oauth_partner, app_id="test.fresh", name="Fresh")
    client_id, secret = create_oauth_client(app, [CALLBACK])
    app.refresh_from_db()
    assert app.oauth_application.client_id == client_id
    assert app.oauth_application.client_type == "confidential"
    assert len(secret) >= 40


def test_ensure_app_member_is_idempotent(org, oauth_app, install_app):
    app, _client_id, _secret = oauth_app()
    installation = install_app(app, org)
    first = ensure_app_member(installation)
    again = ensure_app_member(installation)
    assert first.pk == again.pk
    assert first.org == org and first.role == "member"
    assert first.user.is_app and not first.user.has_usable_password()
    assert first.user.display_name == app.name
    assert first.user.email == f"app-{installation.pk}@apps.invalid"


def _exchange(client, client_id, secret, code):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
        },
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )


def test_a_code_is_worthless_once_its_member_left_or_the_app_was_uninstalled(
    client, setup, org, member
):
    _app, client_id, secret, installation = setup
    client.force_login(member.user)
    code = query(client.post("/oauth/authorize/", consent_post(client_id, org.pk)))["code"][0]
    member.status = "suspended"
    member.save(update_fields=["status"])
    refused = _exchange(client, client_id, secret, code)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"

    member.status = "active"
    member.save(update_fields=["status"])
    code = query(client.post("/oauth/authorize/", consent_post(client_id, org.pk)))["code"][0]
    installation.status = "uninstalled"
    installation.save(update_fields=["status"])
    assert _exchange(client, client_id, secret, code).json()["error"] == "invalid_grant"
    installation.status = "active"
    installation.save(update_fields=["status"])
    code = query(client.post("/oauth/authorize/", consent_post(client_id, org.pk)))["code"][0]
    issued = _exchange(client, client_id, secret, code)
    assert issued.status_code == 200, issued.content
    assert issued.json()["scope"] == "core:org.read"
    assert not get_grant_model().objects.filter(code=code).exists()  # used up
    assert _exchange(client, client_id, secret, code).json()["error"] == "invalid_grant"
