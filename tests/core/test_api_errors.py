"""Every error is the JSON envelope; bad input never yields a 500 and leaves nothing behind."""

import pytest
from rest_framework.test import APIClient

from core.models import Department, Organization

pytestmark = pytest.mark.django_db


def assert_envelope(response, status, code=None):
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def test_malformed_json_is_400(api, owner):
    response = api(owner).generic(
        "POST",
        f"/api/v1/orgs/{owner.org_id}/departments/",
        "{not json",
        content_type="application/json",
    )
    assert_envelope(response, 400, "malformed_request")


def test_wrong_types_are_field_errors(api, owner):
    response = api(owner).post(
        f"/api/v1/orgs/{owner.org_id}/departments/",
        {"name": {"x": 1}, "parent": "abc"},
        format="json",
    )
    error = assert_envelope(response, 400, "invalid")
    assert set(error["fields"]) == {"name", "parent"}


def test_a_json_list_body_is_400(api, make_user):
    response = api(make_user()).post("/api/v1/orgs/", [1, 2], format="json")
    assert_envelope(response, 400)
    assert not Organization.objects.exists()


def test_oversized_body_is_413_and_writes_nothing(api, owner, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api(owner).post(
        f"/api/v1/orgs/{owner.org_id}/departments/", {"name": "x" * 5000}, format="json"
    )
    assert_envelope(response, 413, "too_large")
    assert not Department.objects.exists()


def test_unknown_api_path_is_404_envelope(api, owner):
    assert_envelope(api(owner).get("/api/v1/nothing-here/"), 404, "not_found")
    assert_envelope(APIClient().get("/api/v2/"), 404, "not_found")


def test_method_not_allowed_is_405_envelope(api, owner):
    assert_envelope(
        api(owner).put(f"/api/v1/orgs/{owner.org_id}/", {}, format="json"),
        405,
        "method_not_allowed",
    )


def test_unsupported_media_type_is_415(api, make_user):
    response = api(make_user()).generic(
        "POST", "/api/v1/orgs/", "name=x", content_type="text/plain"
    )
    assert_envelope(response, 415, "unsupported_media_type")


def test_unexpected_exceptions_become_a_500_envelope(api, member, monkeypatch):
    from core import selectors

    def boom(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(selectors, "member_list", boom)
    client = api(member)
    client.raise_request_exception = False
    error = assert_envelope(
        client.get(f"/api/v1/orgs/{member.org_id}/members/"), 500, "server_error"
    )
    assert "fire" not in error["message"]  # internals are logged, not shown


def test_non_api_404_is_an_html_page(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_failed_action_rolls_back_everything_it_wrote(owner, monkeypatch):
    """Actions are atomic: an error after the first write leaves nothing behind."""
    from core import actions, audit

    def failing_audit(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(actions, "record_audit", failing_audit)
    with pytest.raises(RuntimeError):
        actions.do_create_department(owner, name="Half-written")
    assert not Department.objects.filter(name="Half-written").exists()
    assert audit.record_audit is not failing_audit


def test_error_messages_follow_the_requested_language(api, owner, member):
    url = f"/api/v1/orgs/{owner.org_id}/members/{owner.pk}/"
    english = api(owner).delete(url)
    chinese = api(owner).delete(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert english.json()["error"]["code"] == chinese.json()["error"]["code"] == "last_owner"
    assert "last owner" in english.json()["error"]["message"]
    assert "所有者" in chinese.json()["error"]["message"]
