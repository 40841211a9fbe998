"""Secrets never leak: not in API responses after they are issued, not in admin pages,
not in logs, and not stored in the clear.

Secrets made here: API tokens, invitation tokens, bot signing secrets and incoming
webhook keys, low-code public link tokens, and a TOTP seed with its recovery codes.
Every GET route of the organisation API (walked from the URL configuration) and every
admin changelist is read as the owner and a superuser, with every log record captured,
and searched for each secret.
"""

from __future__ import annotations

import logging

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from core.actions import do_create_api_token, do_invite_member
from im.actions import do_create_group
from im.bots import do_create_bot
from tests.core.test_api_isolation import _fill, _pk_factories, org_routes


def _public_link_token(owner):
    from lowcode.actions import do_create_app, do_create_form, do_publish_form, do_update_app
    from lowcode.public import do_create_public_link

    app = do_create_app(owner, name="Forms")
    form = do_create_form(
        owner, app, name="Feedback", fields=[{"key": "text", "type": "text", "label": "T"}]
    )
    do_publish_form(owner, form)
    do_update_app(owner, app, is_published=True)
    issued = do_create_public_link(owner, form, name="Everyone")
    return issued[1]


def _totp_seed(owner):
    """Two-step verification for the owner, through the API like a person would."""
    import pyotp
    from rest_framework.test import APIClient

    from core.actions import do_create_api_token as token_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(owner.user, name='2fa').secret}")
    seed = client.post("/api/v1/me/two-factor/enrol/").json()["secret"]
    confirmed = client.post(
        "/api/v1/me/two-factor/confirm/", {"code": pyotp.TOTP(seed).now()}, format="json"
    )
    assert confirmed.status_code == 200
    return seed


@pytest.fixture
def secrets(owner, member, add_member, caplog):
    caplog.set_level(logging.DEBUG)
    group = do_create_group(owner, name="Ops", member_ids=[member.pk])
    bot = do_create_bot(owner, name="Deploys", conversation_id=group.pk)
    found = {
        "api token": do_create_api_token(owner.user, name="CI").secret,
        "invitation token": do_invite_member(owner, email="new@a.example").token,
        "bot signing secret": bot.signing_secret,
        "bot incoming key": bot.incoming_key,
    }
    from connectors.actions import do_create_connection

    connector_password = "connector-password-" + "x" * 12
    do_create_connection(
        owner,
        type="tryton",
        name="ERP",
        config={
            "url": "http://127.0.0.1:9",
            "database": "erp",
            "username": "sync",
            "password": connector_password,
        },
    )
    found["connector password"] = connector_password
    found["public link token"] = _public_link_token(owner)
    found["totp seed"] = _totp_seed(owner)
    assert all(len(v) >= 20 for v in found.values())
    return found


def _assert_absent(text: str, secrets: dict[str, str], where: str) -> None:
    for name, value in secrets.items():
        assert value not in text, f"{name} leaked in {where}"


def test_no_secret_in_any_api_response_or_log(secrets, org, owner, add_member, api, caplog):
    client = api(owner)
    factories = _pk_factories(org, owner, add_member)
    read = 0
    for route in org_routes():
        if "get" not in route.methods:
            continue
        url = _fill(route, factories, org, add_member)
        response = client.get(url)
        raw = b"".join(response.streaming_content) if response.streaming else response.content
        body = raw.decode(errors="replace")
        _assert_absent(body, secrets, url)
        read += response.status_code == 200
    assert read > 20
    _assert_absent(caplog.text, secrets, "the logs")


def test_no_totp_seed_after_enrolment(secrets, owner, api, client, caplog):
    """Two-step status, the set-up page and the policy page answer without the seed."""
    _assert_absent(api(owner).get("/api/v1/me/two-factor/").content.decode(), secrets, "status")
    client.force_login(owner.user)
    _assert_absent(client.get("/account/two-factor/").content.decode(), secrets, "the page")
    _assert_absent(
        client.get(f"/o/{owner.org_id}/settings/security/").content.decode(), secrets, "policy"
    )
    _assert_absent(caplog.text, secrets, "the logs")


def test_no_secret_in_admin_pages(secrets, client, make_user):
    client.force_login(make_user(email="root@tack.example", is_staff=True, is_superuser=True))
    opened = 0
    for model in admin.site._registry:
        meta = model._meta
        changelist = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        _assert_absent(changelist.content.decode(), secrets, f"{meta.label} changelist")
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            page = client.get(
                reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            )
            _assert_absent(page.content.decode(), secrets, f"{meta.label} change page")
            opened += page.status_code == 200
    assert opened > 10


def test_secrets_are_not_stored_in_the_clear(secrets):
    """Hashes or ciphertext only: scan every text column of every model."""
    from django.db import models

    for model in apps.get_models():
        text_fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not text_fields:
            continue
        for row in model._default_manager.values_list(*text_fields):
            _assert_absent(repr(row), secrets, model._meta.label)
