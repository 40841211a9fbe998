"""Scope enforcement for marketplace apps' OAuth tokens on every API call.

Every operation the OpenAPI schema documents for the ``appOAuth2`` scheme is probed from
another organisation (404) and without its scope (403 ``insufficient_scope``); endpoints
that declare no scope refuse app tokens (403 ``scope_required``). The schema is the list,
so a newly declared endpoint is covered without touching this file.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from marketplace.auth import required_scope
from marketplace.models import Installation, InstallationToken
from marketplace.oauth import revoke_installation_tokens
from marketplace.scopes import SCOPES


def _app_operations() -> list[tuple[str, str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "appOAuth2" in schema["components"]["securitySchemes"]
    operations = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for requirement in operation.get("security", []):
                if "appOAuth2" in requirement:
                    operations.append((method, path, requirement["appOAuth2"][0]))
    return sorted(operations)


APP_OPERATIONS = _app_operations()


def _url(path: str, org_id: int) -> str:
    path = path.replace("{org_id}", str(org_id))
    return re.sub(r"\{\w+\}", "999999", path)


def test_the_schema_documents_the_app_facing_endpoints():
    documented = {(m, p) for m, p, _s in APP_OPERATIONS}
    assert {
        ("get", "/api/v1/orgs/{org_id}/members/"),
        ("get", "/api/v1/orgs/{org_id}/departments/"),
        ("get", "/api/v1/orgs/{org_id}/conversations/"),
        ("get", "/api/v1/orgs/{org_id}/conversations/{id}/messages/"),
        ("post", "/api/v1/orgs/{org_id}/conversations/{id}/messages/"),
        ("get", "/api/v1/orgs/{org_id}/lowcode/apps/"),
        ("get", "/api/v1/orgs/{org_id}/lowcode/forms/"),
        ("get", "/api/v1/orgs/{org_id}/lowcode/records/"),
        ("post", "/api/v1/orgs/{org_id}/lowcode/records/"),
        ("get", "/api/v1/orgs/{org_id}/connectors/connections/"),
    } <= documented
    assert all(scope in SCOPES for _m, _p, scope in APP_OPERATIONS)
    # Administration is never open to apps.
    assert ("patch", "/api/v1/orgs/{org_id}/") not in documented
    assert not any("/invitations/" in p or "/audit-log/" in p for _m, p in documented)


@pytest.mark.parametrize("method,path,scope", APP_OPERATIONS, ids=lambda v: str(v))
def test_token_from_another_organisation_gets_404(
    method, path, scope, org, other_org, oauth_app, install_app, issue_app_token, app_api
):
    app, _client_id, _secret = oauth_app()
    elsewhere = install_app(app, other_org)  # every scope granted, in the other organisation
    client = app_api(issue_app_token(elsewhere))
    response = getattr(client, method)(_url(path, org.pk), {}, format="json")
    assert response.status_code == 404, (method, path, response.content)
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method,path,scope", APP_OPERATIONS, ids=lambda v: str(v))
def test_token_without_the_scope_gets_403(
    method, path, scope, org, oauth_app, install_app, issue_app_token, app_api
):
    app, _client_id, _secret = oauth_app()
    installation = install_app(app, org)
    others = [s for s in SCOPES if s != scope]
    client = app_api(issue_app_token(installation, scopes=others))
    response = getattr(client, method)(_url(path, org.pk), {}, format="json")
    assert response.status_code == 403, (method, path, response.content)
    error = response.json()["error"]
    assert error["code"] == "insufficient_scope"
    assert error["fields"] == {"scope": [scope]}
    assert scope in error["message"]


@pytest.mark.parametrize("method,path,scope", APP_OPERATIONS, ids=lambda v: str(v))
def test_scope_on_the_token_but_no_longer_granted_gets_403(
    method, path, scope, org, oauth_app, install_app, issue_app_token, app_api
):
    app, _client_id, _secret = oauth_app()
    installation = install_app(app, org)
    raw = issue_app_token(installation)  # has every scope
    installation.granted_scopes = [s for s in SCOPES if s != scope]
    installation.save(update_fields=["granted_scopes"])
    response = getattr(app_api(raw), method)(_url(path, org.pk), {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


# --- endpoints without a scope, and endpoints outside an organisation ---


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", "/api/v1/me/"),
        ("get", "/api/v1/me/tokens/"),
        ("post", "/api/v1/me/tokens/"),
        ("get", "/api/v1/orgs/"),
        ("post", "/api/v1/orgs/"),
        ("get", "/api/v1/operations/"),
    ],
)
def test_endpoints_outside_an_organisation_refuse_app_tokens(
    method, url, installed_app, issue_app_token, app_api
):
    from core.models import ApiToken, Organization

    before = (Organization.objects.count(), ApiToken.objects.count())
    response = getattr(app_api(issue_app_token(installed_app)), method)(
        url, {"name": "Hijack"}, format="json"
    )
    if response.status_code == 404:  # the route moved: the test must follow
        pytest.fail(f"{url} does not exist")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "scope_required"
    assert (Organization.objects.count(), ApiToken.objects.count()) == before


def test_undeclared_org_endpoints_refuse_app_tokens_and_change_nothing(
    org, installed_app, issue_app_token, app_api
):
    client = app_api(issue_app_token(installed_app))  # every scope granted
    response = client.patch(f"/api/v1/orgs/{org.pk}/", {"name": "Hijacked"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "scope_required"
    org.refresh_from_db()
    assert org.name == "Acme Dairy"
    assert client.get(f"/api/v1/orgs/{org.pk}/audit-log/").status_code == 403
    invite = client.post(
        f"/api/v1/orgs/{org.pk}/invitations/", {"email": "x@evil.test"}, format="json"
    )
    assert invite.status_code == 403
    assert not org.invitations.exists()


def test_required_scope_rules():
    class Records:
        app_scope = "lowcode:record"
        action = "list"

    class Conversations:
        app_scopes = {"messages:get": "im:message.read", "messages:post": "im:message.write"}
        action = "messages"

    class Nothing:
        action = "list"

    assert required_scope(Records(), "GET") == "lowcode:record.read"
    assert required_scope(Records(), "DELETE") == "lowcode:record.write"
    assert required_scope(Conversations(), "GET") == "im:message.read"
    assert required_scope(Conversations(), "POST") == "im:message.write"
    assert required_scope(Nothing(), "GET") is None
    assert required_scope(None, "GET") is None


# --- what a token can do, as whom ---


def test_client_credentials_token_reads_the_directory_as_the_app_member(
    org, member, installed_app, issue_app_token, app_api
):
    response = app_api(issue_app_token(installed_app)).get(f"/api/v1/orgs/{org.pk}/members/")
    assert response.status_code == 200, response.content
    ids = {m["id"] for m in response.json()["results"]}
    assert member.pk in ids
    # The app acts as its own account, which is not a person in the directory.
    assert installed_app.app_member.user.is_app
    assert installed_app.app_member_id not in ids


def test_user_token_acts_as_that_member_within_the_scopes(
    org, member, installed_app, issue_app_token, app_api
):
    raw = issue_app_token(installed_app, scopes=["core:org.read"], user=member)
    client = app_api(raw)
    assert client.get(f"/api/v1/orgs/{org.pk}/").status_code == 200
    assert client.get(f"/api/v1/orgs/{org.pk}/members/").status_code == 403
    member.status = "suspended"
    member.save(update_fields=["status"])
    assert client.get(f"/api/v1/orgs/{org.pk}/").status_code == 404


def test_app_posts_and_reads_messages_only_with_the_scopes(
    org, owner, installed_app, issue_app_token, app_api
):
    from im.actions import do_create_group

    group = do_create_group(owner, name="Expenses", member_ids=[installed_app.app_member_id])
    url = f"/api/v1/orgs/{org.pk}/conversations/{group.pk}/messages/"
    read_only = app_api(issue_app_token(installed_app, scopes=["im:message.read"]))
    refused = read_only.post(url, {"body": "Hello from the app"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert not group.messages.exists()
    writer = app_api(issue_app_token(installed_app, scopes=["im:message.write"]))
    posted = writer.post(url, {"body": "Hello from the app"}, format="json")
    assert posted.status_code == 201, posted.content
    message = group.messages.get()
    assert message.sender_id == installed_app.app_member_id
    listed = read_only.get(url)
    assert listed.status_code == 200
    assert "Hello from the app" in listed.content.decode()


def test_records_need_read_to_list_and_write_to_create(
    org, owner, make_form, installed_app, issue_app_token, app_api
):
    form = make_form([{"key": "amount", "type": "number", "label": "Amount"}], actor=owner)
    url = f"/api/v1/orgs/{org.pk}/lowcode/records/"
    reader = app_api(issue_app_token(installed_app, scopes=["lowcode:record.read"]))
    assert reader.get(url, {"form": form.pk}).status_code == 200
    refused = reader.post(url, {"form": form.pk, "data": {"amount": 5}}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["fields"] == {"scope": ["lowcode:record.write"]}
    assert not form.records.exists()
    writer = app_api(issue_app_token(installed_app, scopes=["lowcode:record.write"]))
    created = writer.post(url, {"form": form.pk, "data": {"amount": 5}}, format="json")
    assert created.status_code == 201, created.content
    assert form.records.count() == 1


# --- tokens that must not work ---


def test_unknown_expired_uninstalled_and_revoked_tokens_get_401(
    org, installed_app, issue_app_token, app_api
):
    url = f"/api/v1/orgs/{org.pk}/members/"
    assert app_api("not-a-real-token").get(url).status_code == 401
    expired = issue_app_token(installed_app, expires_in=-5)
    response = app_api(expired).get(url)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")

    live = issue_app_token(installed_app)
    assert app_api(live).get(url).status_code == 200
    installed_app.status = Installation.Status.UNINSTALLED
    installed_app.save(update_fields=["status"])
    assert app_api(live).get(url).status_code == 401

    installed_app.status = Installation.Status.ACTIVE
    installed_app.save(update_fields=["status"])
    assert app_api(live).get(url).status_code == 200
    assert revoke_installation_tokens(installed_app) == 2  # the expired one and the live one
    assert not InstallationToken.objects.filter(installation=installed_app).exists()
    assert app_api(live).get(url).status_code == 401


def test_personal_tokens_still_work_next_to_app_tokens(org, member, api, installed_app):
    assert api(member).get(f"/api/v1/orgs/{org.pk}/members/").status_code == 200
    assert api(member).get("/api/v1/me/").status_code == 200


def test_a_token_of_an_app_installed_twice_stays_in_its_organisation(
    org, other_org, oauth_app, install_app, issue_app_token, app_api
):
    app, _client_id, _secret = oauth_app()
    here = install_app(app, org)
    install_app(app, other_org)
    client = app_api(issue_app_token(here))
    assert client.get(f"/api/v1/orgs/{org.pk}/members/").status_code == 200
    assert client.get(f"/api/v1/orgs/{other_org.pk}/members/").status_code == 404


def test_expiry_is_checked_against_now(org, installed_app, issue_app_token, app_api):
    from oauth2_provider.models import get_access_token_model

    raw = issue_app_token(installed_app)
    get_access_token_model().objects.filter(
        installation_bindings__installation=installed_app
    ).update(expires=timezone.now() - timedelta(seconds=1))
    assert app_api(raw).get(f"/api/v1/orgs/{org.pk}/members/").status_code == 401
