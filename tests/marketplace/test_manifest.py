"""The app manifest: its published JSON Schema and validation that reports every problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import override_settings

from core.errors import ValidationFailed
from marketplace.manifest import MANIFEST_SCHEMA, schema_document, semver_key, validate_manifest
from tests.marketplace.conftest import make_manifest

ROOT = Path(__file__).resolve().parents[2]


def problems(data) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        validate_manifest(data)
    assert caught.value.code == "invalid_manifest"
    return caught.value.fields


def test_published_schema_file_is_the_schema_the_code_uses():
    path = ROOT / "docs" / "partners" / "manifest.schema.json"
    assert json.loads(path.read_text()) == MANIFEST_SCHEMA
    assert path.read_text() == schema_document()


def test_schema_is_served_by_the_api_without_signing_in(api):
    response = api(None).get("/api/v1/marketplace/manifest-schema/")
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(MANIFEST_SCHEMA))


def test_a_full_manifest_is_valid_and_gets_defaults():
    manifest = validate_manifest(make_manifest("com.acme.expense"))
    assert manifest["pricing"]["plans"][0] == {
        "code": "free",
        "name": "Free",
        "type": "free",
        "amount": 0,
        "trial_days": 0,
    }
    assert manifest["summary"] == "Expense claims from chat."


def test_a_minimal_manifest_is_valid():
    minimal = {
        "id": "io.example.hello",
        "name": "Hello",
        "description": "Says hello. Nothing more.",
        "version": "0.1.0-beta.1",
        "categories": ["productivity"],
        "scopes": [],
    }
    assert validate_manifest(minimal)["summary"] == "Says hello."


def test_every_problem_is_reported_by_json_path():
    bad = make_manifest(
        "Not-Reverse-DNS",
        version="1.0",
        categories=["finance", "gardening"],
        scopes=["im:message.write", "im:everything"],
        webhook={"url": "https://127.0.0.1:9/h", "events": ["im.message.created", "nope"]},
        oauth={"redirect_uris": ["http://app.example.test/cb", "https://ok.test/cb#frag"]},
        colour="blue",
    )
    bad["pricing"]["plans"].append({"code": "free", "name": "Again", "type": "free", "amount": 3})
    bad["pricing"]["plans"][1]["amount"] = 0
    del bad["name"]
    fields = problems(bad)
    assert set(fields) >= {
        "manifest",  # unknown key colour
        "id",
        "name",
        "version",
        "categories[1]",
        "scopes[1]",
        "webhook.events[0]",  # needs im:message.read
        "webhook.events[1]",
        "oauth.redirect_uris[0]",
        "oauth.redirect_uris[1]",
        "pricing.plans[1].amount",
        "pricing.plans[2].code",
        "pricing.plans[2].amount",
        "cards",  # cards without im:card.write
    }, fields
    assert "colour" in fields["manifest"][0]
    assert "im:message.read" in fields["webhook.events[0]"][0]
    assert fields["name"] == ["This field is required."]


def test_not_an_object_is_refused():
    assert problems(["id"]) == {"manifest": ["Not an object."]}


@override_settings(TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS=False)
def test_webhook_and_card_urls_inside_the_network_are_refused():
    fields = problems(
        make_manifest(
            "com.acme.expense",
            webhook={"url": "https://169.254.169.254/latest", "events": []},
        )
    )
    assert "webhook.url" in fields and "cards[0].callback_url" in fields
    plain = problems(
        make_manifest("com.acme.expense", webhook={"url": "http://example.com/h", "events": []})
    )
    assert plain["webhook.url"] == ["The URL must use https."]


def test_loopback_webhook_allowed_when_the_setting_allows_it():
    assert validate_manifest(make_manifest("com.acme.expense"))["webhook"]["url"].startswith(
        "https://127.0.0.1"
    )


def test_card_sample_is_checked_against_the_card_schema():
    manifest = make_manifest("com.acme.expense")
    manifest["cards"][0]["sample"] = {
        "title": "x" * 500,
        "buttons": [{"action_id": "a", "label": "A"}, {"action_id": "a", "label": "B"}],
        "owner": {"type": "bot", "id": 1},
    }
    manifest["cards"].append(dict(manifest["cards"][0], sample={}))
    fields = problems(manifest)
    assert "cards[0].sample.title" in fields
    assert "cards[0].sample" in fields  # owner is set by the server, not the manifest
    assert fields["cards[0].sample.buttons"] == ["Duplicate action_id."]
    assert fields["cards[1].id"] == ["Each card needs its own id."]


def test_paid_plan_needs_amount_interval_and_currency():
    manifest = make_manifest(
        "com.acme.expense",
        pricing={"plans": [{"code": "pro", "name": "Pro", "type": "flat", "currency": "cny"}]},
    )
    fields = problems(manifest)
    assert set(fields) == {
        "pricing.plans[0].amount",
        "pricing.plans[0].interval",
        "pricing.plans[0].currency",
    }


def test_localhost_redirect_may_use_http_in_development_only(settings):
    """The same rule as the OAuth client's (RFC 9700: no plaintext redirects in production)."""
    manifest = make_manifest(
        "com.acme.expense", oauth={"redirect_uris": ["http://localhost:8765/callback"]}
    )
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    }
    assert validate_manifest(manifest)["oauth"]["redirect_uris"] == [
        "http://localhost:8765/callback"
    ]
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    }
    with pytest.raises(ValidationFailed):
        validate_manifest(manifest)


def test_semantic_versions_sort_like_semver():
    ordered = ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.2", "1.0.0-beta", "1.0.0", "1.2.0", "1.10.0"]
    shuffled = [ordered[i] for i in (4, 6, 0, 3, 1, 5, 2)]
    assert sorted(shuffled, key=semver_key) == ordered
