"""The partner quickstart's example app (examples/tack-app-example) works against a real Tack.

The example runs on its own HTTP server; Tack runs on pytest-django's ``live_server``. The
test walks the quickstart: create the app, publish its own ``manifest.json`` (reviewed by
an operator), make the signing secret, install it with consent, sign in through the
example (authorization code + PKCE, the person approving on Tack's consent page), see
low-code records on its page, add it to a group chat, post a card from it (client
credentials), click the card's button (Tack signs the click, the example verifies it and
answers), and receive a signed ``lowcode.record.created`` webhook.
"""

from __future__ import annotations

import html
import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from django.conf import settings
from django.test import Client

from core.errors import ValidationFailed
from im.actions import do_create_group
from im.models import Message
from marketplace import webhooks
from marketplace.manifest import validate_manifest
from marketplace.models import Installation

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "tack-app-example"
sys.path.insert(0, str(EXAMPLE_DIR))

import tack_app_example as example  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


class Running:
    """The example app on 127.0.0.1 (a free port), plus the HTTP sessions to close."""

    def __init__(self) -> None:
        self.server = example.AppServer(None, "127.0.0.1", 0)  # type: ignore[arg-type]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.sessions: list[requests.Session] = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def app(self) -> example.ExampleApp:
        return self.server.app

    def start(self, config: example.Config) -> example.ExampleApp:
        self.server.app = example.ExampleApp(config)
        return self.server.app

    def browser(self, user: Any = None) -> requests.Session:
        """A browser; signed in to Tack as ``user`` (its session cookie) if given."""
        browser = requests.Session()
        self.sessions.append(browser)
        if user is not None:
            django_client = Client()
            django_client.force_login(user)
            cookie = django_client.cookies[settings.SESSION_COOKIE_NAME].value
            browser.cookies.set(settings.SESSION_COOKIE_NAME, cookie)
        return browser

    def stop(self) -> None:
        for session in self.sessions:
            session.close()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def running(monkeypatch, settings):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # live_server and the app speak http
    # A local Tack (make demo: embedded, or DEBUG) accepts http://127.0.0.1 redirect URIs;
    # with DATABASE_URL set and DEBUG off only https is allowed. The example runs locally.
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    }
    running = Running()
    yield running
    running.stop()


def approve_on_tack(browser: requests.Session, authorize_url: str) -> str:
    """The person reads Tack's consent page and allows; returns the redirect to the app."""
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
        data={**fields, "decision": "allow"},
        headers={"Referer": authorize_url},
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_the_quickstart_end_to_end(
    live_server,
    running,
    org,
    other_org,
    owner,
    member,
    partner_owner,
    publish_version,
    make_form,
    api,
):
    from lowcode.actions import do_create_record
    from marketplace.actions import do_create_app, do_install_app

    # 1. The partner creates the app (client id, client secret and webhook signing secret
    #    shown once) and publishes the example's manifest, pointed at where the example
    #    runs; an operator approves it.
    manifest = example.manifest_for(running.url)
    app, client_id, client_secret, signing_secret = do_create_app(
        partner_owner,
        app_id=manifest["id"],
        name=manifest["name"],
        redirect_uris=manifest["oauth"]["redirect_uris"],
    )
    version = publish_version(app, manifest)
    assert version.status == "published"
    assert signing_secret.startswith("whsec_")

    # 2. The example starts with its configuration from the environment.
    config = example.Config.from_env(
        {
            "TACK_URL": live_server.url,
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": client_secret,
            "ORG_ID": str(org.pk),
            "WEBHOOK_SECRET": signing_secret,
            "APP_URL": running.url,
        }
    )
    the_app = running.start(config)

    # 3. An admin installs it with consent; the example hears app.installed, signed.
    installation, created = do_install_app(owner, app, scopes=manifest["scopes"])
    assert created
    assert wait_for(lambda: any(e["type"] == "app.installed" for e in the_app.events))

    # 4. A person signs in through the example and sees low-code records.
    form = make_form([{"key": "batch", "type": "text", "label": "Batch"}], name="Batch release")
    do_create_record(owner, form, {"batch": "B-2024-0117"})
    browser = running.browser(owner.user)
    login = browser.get(f"{running.url}/login", allow_redirects=False)
    assert login.status_code == 302
    authorize_url = login.headers["Location"]
    assert authorize_url.startswith(f"{live_server.url}/oauth/authorize/")
    assert "code_challenge_method=S256" in authorize_url and f"org={org.pk}" in authorize_url
    callback = approve_on_tack(browser, authorize_url)
    assert callback.startswith(f"{running.url}/callback?")
    home = browser.get(callback)
    assert home.status_code == 200, home.text
    assert "Records of Batch release" in home.text
    assert "B-2024-0117" in html.unescape(home.text)

    # 5. A member adds the app to a group chat; the example posts a card there with its
    #    client-credentials token.
    group = do_create_group(owner, name="Quality", member_ids=[member.pk])
    elsewhere = do_create_group(owner, name="Elsewhere", member_ids=[member.pk])
    added = api(member).post(
        f"/api/v1/orgs/{org.pk}/conversations/{group.pk}/apps/",
        {"installation": installation.pk},
        format="json",
    )
    assert added.status_code == 201, added.content
    home = browser.get(f"{running.url}/?form={form.pk}")
    assert "Post to Quality" in home.text and "Post to Elsewhere" in home.text
    csrf = re.search(r'name=csrf value="([^"]+)"', home.text).group(1)

    def post_card(conversation_id: int) -> requests.Response:
        return browser.post(
            f"{running.url}/post-card",
            data={"csrf": csrf, "form": form.pk, "conversation_id": conversation_id},
        )

    posted = post_card(group.pk)
    assert "Card posted." in posted.text
    card_message = Message.objects.get(conversation=group, kind="card")
    assert card_message.card["title"] == "Records of Batch release"
    assert card_message.bot_id == added.json()["bot_id"]  # posted as the app's bot
    not_added = post_card(elsewhere.pk)
    assert "Add the app to that chat first." in not_added.text
    assert not Message.objects.filter(conversation=elsewhere, kind="card").exists()
    forged = browser.post(
        f"{running.url}/post-card",
        data={"csrf": "forged", "form": form.pk, "conversation_id": group.pk},
    )
    assert forged.status_code == 403

    # 6. A member clicks "Got it": Tack signs the click, the example verifies and answers.
    clicked = api(member).post(
        f"/api/v1/orgs/{org.pk}/messages/{card_message.pk}/card-actions/",
        {"action_id": "ack"},
        format="json",
    )
    assert clicked.status_code == 200, clicked.content
    body = clicked.json()
    assert body["message"]["card"]["fields"] == [
        {"label": "Seen by", "value": member.user.display_name}
    ]
    assert body["message"]["card"]["buttons"] == []
    assert body["reply"]["body"].endswith("has seen the records of Batch release.")

    # The documented errors: a scope the app lacks, and another organisation (404).
    token = the_app.sessions[browser.cookies[example.COOKIE_NAME]]["token"]
    with the_app.tack.as_person(token) as person:
        refused = person.post(
            the_app.tack.api_url("lowcode/records/"), json={"form": form.pk, "data": {"batch": "X"}}
        )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert refused.json()["error"]["fields"] == {"scope": ["lowcode:record.write"]}
    with the_app.tack.as_app() as http:
        elsewhere_org = http.get(f"{live_server.url}/api/v1/orgs/{other_org.pk}/conversations/")
    assert elsewhere_org.status_code == 404

    # 7. The form's app shares its records with the app's account (webhooks never carry
    # more than the app could read through the API); a new record then reaches the
    # example as a signed lowcode.record.created webhook.
    installation = Installation.objects.get(org=org, status="active")
    form.app.permissions["view_all"]["members"].append(installation.app_member_id)
    form.app.save(update_fields=["permissions"])
    record, _created = do_create_record(owner, form, {"batch": "B-2024-0118"})

    def heard() -> bool:
        return any(
            e["type"] == "lowcode.record.created" and e["data"]["record"]["id"] == record.pk
            for e in the_app.events
        )

    assert wait_for(heard)
    home = browser.get(f"{running.url}/?form={form.pk}")
    assert "lowcode.record.created" in home.text and "B-2024-0118" in html.unescape(home.text)


def test_the_example_refuses_unsigned_or_forged_requests(running):
    secret = webhooks.generate_secret()
    running.start(example.Config("http://127.0.0.1:1", "id", "secret", 1, webhook_secret=secret))
    body = json.dumps({"type": "app.installed", "data": {}}).encode()
    http = running.browser()
    for path in ("/webhooks", "/cards"):
        unsigned = http.post(running.url + path, data=body)
        assert unsigned.status_code == 401
        forged = webhooks.signed_headers(webhooks.generate_secret(), "msg_1", body)
        assert http.post(running.url + path, data=body, headers=forged).status_code == 401
    good = webhooks.signed_headers(secret, "msg_2", body)
    assert http.post(running.url + "/webhooks", data=body, headers=good).status_code == 204
    # A retry (same webhook-id) is accepted and dropped.
    again = webhooks.signed_headers(secret, "msg_2", body)
    assert http.post(running.url + "/webhooks", data=body, headers=again).status_code == 204
    assert len(running.app.events) == 1
    # An event that is not a click is not answered as one.
    assert http.post(running.url + "/cards", data=body, headers=good).status_code == 400


def test_verify_webhook_matches_the_platforms_signatures():
    secret, old = webhooks.generate_secret(), webhooks.generate_secret()
    body = b'{"type":"lowcode.record.created","data":{"record":{"id":7}}}'
    headers = webhooks.signed_headers(secret, "msg_x", body)
    assert example.verify_webhook(secret, headers, body)["data"]["record"]["id"] == 7
    # The published Standard Webhooks test vector.
    vector = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert example.sign_webhook(
        vector, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    ) == ("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    # During a rotation Tack signs with both secrets: either one verifies.
    both = webhooks.signed_headers([secret, old], "msg_y", body)
    example.verify_webhook(secret, both, body)
    example.verify_webhook(old, both, body)
    with pytest.raises(example.InvalidSignature):
        example.verify_webhook(secret, headers, body + b" ")
    with pytest.raises(example.InvalidSignature):
        example.verify_webhook(secret, {**headers, "webhook-id": "msg_other"}, body)
    with pytest.raises(example.InvalidSignature):
        example.verify_webhook(webhooks.generate_secret(), headers, body)
    stale = webhooks.signed_headers(secret, "msg_x", body, timestamp=int(time.time()) - 3600)
    with pytest.raises(example.InvalidSignature):
        example.verify_webhook(secret, stale, body)


def test_the_card_answer_is_a_valid_card():
    from im.cards import check_card

    card = example.summary_card("Batch release", [{"number": 3}])
    check_card(card, owner_bot_id=1)
    event = {
        "data": {"action_id": "ack", "value": "Batch release", "member": {"display_name": "Li"}}
    }
    answer = example.answer_card_action(event)
    check_card(answer["card"], owner_bot_id=1)
    assert answer["text"] == "Li has seen the records of Batch release."
    assert example.answer_card_action({"data": {"action_id": "unknown"}}) == {}


def test_the_manifest_validates(settings):
    raw = json.loads(example.MANIFEST_PATH.read_text(encoding="utf-8"))
    schema = json.loads((EXAMPLE_DIR.parents[1] / "docs/partners/manifest.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(raw)
    # A local Tack (make demo) allows private webhook targets and http loopback redirects.
    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = True
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    }
    manifest = validate_manifest(raw)
    assert manifest["id"] == "com.example.records-digest"
    assert set(manifest["scopes"]) >= {"lowcode:record.read", "im:card.write"}
    # A Tack on the internet refuses webhook targets on this machine: use a public https URL.
    settings.TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = False
    with pytest.raises(ValidationFailed) as refused:
        validate_manifest(raw)
    assert {"webhook.url", "cards[0].callback_url"} <= set(refused.value.fields)
    served = example.manifest_for("https://records.example.test")
    assert served["oauth"]["redirect_uris"] == ["https://records.example.test/callback"]
    assert served["cards"][0]["callback_url"] == "https://records.example.test/cards"


def test_configuration_comes_from_the_environment():
    with pytest.raises(example.ConfigError, match="CLIENT_ID, CLIENT_SECRET, ORG_ID"):
        example.Config.from_env({"TACK_URL": "http://127.0.0.1:8000"})
    env = {"TACK_URL": "http://t/", "CLIENT_ID": "a", "CLIENT_SECRET": "b", "ORG_ID": "x"}
    with pytest.raises(example.ConfigError, match="ORG_ID"):
        example.Config.from_env(env)
    with pytest.raises(example.ConfigError, match="whsec_"):
        example.Config.from_env({**env, "ORG_ID": "3", "WEBHOOK_SECRET": "plain"})
    config = example.Config.from_env({**env, "ORG_ID": "3"})
    assert (config.tack_url, config.org_id, config.redirect_uri) == (
        "http://t",
        3,
        "http://127.0.0.1:8765/callback",
    )
