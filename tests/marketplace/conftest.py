"""Marketplace fixtures: partners, apps, manifests, published apps, operators."""

from __future__ import annotations

import copy
import itertools

import pytest

_apps = itertools.count(1)

# --- partners, apps, versions (H2) -------------------------------------------------------

REDIRECT = "https://app.example.test/oauth/callback"


def make_manifest(app_id: str, version: str = "1.0.0", **overrides) -> dict:
    """A valid manifest for ``app_id``; ``overrides`` replace top-level keys."""
    manifest = {
        "id": app_id,
        "name": "Quick Expense",
        "summary": "Expense claims from chat.",
        "description": "Submit and approve expense claims without leaving the chat.",
        "version": version,
        "categories": ["finance"],
        "scopes": ["core:member.read", "im:card.write"],
        "webhook": {"url": "https://127.0.0.1:9/hooks", "events": ["app.installed"]},
        "cards": [
            {
                "id": "claim",
                "name": "Expense claim",
                "description": "A claim with approve and reject buttons.",
                "callback_url": "https://127.0.0.1:9/cards",
                "sample": {
                    "title": "Taxi 58.00 CNY",
                    "fields": [{"label": "Who", "value": "Alice"}],
                    "buttons": [{"action_id": "approve", "label": "Approve", "style": "primary"}],
                },
            }
        ],
        "oauth": {"redirect_uris": [REDIRECT]},
        "pricing": {
            "plans": [
                {"code": "free", "name": "Free", "type": "free"},
                {
                    "code": "team",
                    "name": "Team",
                    "type": "per_seat",
                    "interval": "month",
                    "amount": 1200,
                    "currency": "CNY",
                    "trial_days": 14,
                },
            ]
        },
    }
    manifest.update(copy.deepcopy(overrides))
    return manifest


@pytest.fixture
def manifest_for():
    return make_manifest


@pytest.fixture
def operator(make_user):
    """A platform operator (reviews app versions)."""
    return make_user(name="Olga Operator", is_staff=True)


@pytest.fixture
def partner_owner(make_user):
    from marketplace.actions import do_create_partner

    user = make_user(name="Pat Partner")
    return do_create_partner(user, name="Acme Apps", contact_email="pat@acme.test")


@pytest.fixture
def make_partner_app(partner_owner):
    """``make(app_id=None, pm=None)`` → an app of the partner (with its OAuth client)."""
    from marketplace.actions import do_create_app

    def make(app_id: str | None = None, pm=None, name: str = "Quick Expense"):
        app_id = app_id or f"com.acme.app{next(_apps)}"
        app, _client_id, _secret, _webhook_secret = do_create_app(
            pm or partner_owner, app_id=app_id, name=name, redirect_uris=[REDIRECT]
        )
        return app

    return make


@pytest.fixture
def publish_version(partner_owner, operator):
    """``publish(app, manifest)`` → the version, created, submitted, approved and published."""
    from marketplace.actions import (
        do_approve_version,
        do_create_version,
        do_publish_version,
        do_submit_version,
    )

    def publish(app, manifest, pm=None):
        pm = pm or partner_owner
        version = do_create_version(pm, app, manifest)
        do_submit_version(pm, version)
        do_approve_version(operator, version)
        version = do_publish_version(pm, version)
        app.refresh_from_db()
        return version

    return publish


@pytest.fixture
def published_app(make_partner_app, publish_version):
    """``make(scopes=None, **manifest_overrides)`` → a published app."""

    def make(scopes=None, app_id=None, **overrides):
        app = make_partner_app(app_id)
        if scopes is not None:
            overrides["scopes"] = scopes
            if "im:card.write" not in scopes:
                overrides.setdefault("cards", [])
        publish_version(app, make_manifest(app.app_id, **overrides))
        return app

    return make


# --- OAuth: apps installed with granted scopes, and their tokens (H1) -----------------------
# Built straight from models (not through the install actions) so OAuth tests do not depend
# on the install flow; ``marketplace.oauth`` provides the OAuth client and the app member.

ALL_SCOPES = None  # sentinel: grant every scope in marketplace.scopes.SCOPES


@pytest.fixture
def oauth_partner(db):
    from marketplace.models import Partner

    n = next(_apps)
    return Partner.objects.create(
        name=f"OAuth Partner {n}", slug=f"oauth-partner-{n}", contact_email=f"p{n}@acme.test"
    )


@pytest.fixture
def oauth_app(oauth_partner):
    """``make(scopes=ALL_SCOPES, name=..., redirect_uris=[REDIRECT])`` → ``(app, id, secret)``.

    A published app (version 1.0.0 with ``scopes`` in its manifest) with an OAuth client.
    """
    from marketplace.models import App, AppVersion
    from marketplace.oauth import create_oauth_client
    from marketplace.scopes import SCOPES

    def make(scopes=ALL_SCOPES, *, name="Quick Expense", redirect_uris=None, **overrides):
        scopes = list(SCOPES) if scopes is ALL_SCOPES else list(scopes)
        n = next(_apps)
        app = App.objects.create(partner=oauth_partner, app_id=f"test.oauth.app{n}", name=name)
        manifest = make_manifest(app.app_id, name=name, scopes=scopes, cards=[], **overrides)
        version = AppVersion.objects.create(
            app=app, version="1.0.0", manifest=manifest, scopes=scopes, status="published"
        )
        app.published_version = version
        app.save(update_fields=["published_version"])
        client_id, secret = create_oauth_client(app, redirect_uris or [REDIRECT])
        app.refresh_from_db()
        return app, client_id, secret

    return make


@pytest.fixture
def install_app(owner):
    """``install(app, org, scopes=ALL_SCOPES)`` → an active installation with its app member."""
    from core.models import Membership
    from marketplace.models import Installation
    from marketplace.oauth import ensure_app_member
    from marketplace.scopes import SCOPES

    def install(app, org, scopes=ALL_SCOPES, installed_by=None):
        scopes = list(SCOPES) if scopes is ALL_SCOPES else list(scopes)
        by = installed_by or Membership.objects.filter(org=org, role="owner").first()
        installation = Installation.objects.create(
            org=org,
            app=app,
            version=app.published_version,
            granted_scopes=scopes,
            installed_by=by,
        )
        ensure_app_member(installation)
        installation.refresh_from_db()
        return installation

    return install


@pytest.fixture
def issue_app_token():
    """``issue(installation, scopes=None, user=None)`` → a raw OAuth access token.

    Without ``user``: client-credentials style (acts as the app member). With ``user`` (a
    User or Membership): authorization-code style (acts as that person). ``scopes``
    defaults to everything the installation was granted.
    """
    from datetime import timedelta
    from secrets import token_urlsafe

    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, set_token_value

    from core.models import Membership
    from marketplace.models import InstallationToken

    def issue(installation, scopes=None, user=None, expires_in=3600):
        if isinstance(user, Membership):
            user = user.user
        if user is None:
            user = installation.app_member.user
        scopes = list(installation.granted_scopes) if scopes is None else list(scopes)
        raw = token_urlsafe(30)
        token = get_access_token_model()(
            user=user,
            application_id=installation.app.oauth_application_id,
            scope=" ".join(scopes),
            expires=timezone.now() + timedelta(seconds=expires_in),
        )
        set_token_value(token, raw)
        token.save()
        InstallationToken.objects.create(
            org_id=installation.org_id, installation=installation, access_token=token
        )
        return raw

    return issue


@pytest.fixture
def app_api():
    """``app_api(raw_token)`` → an APIClient sending the OAuth token as a bearer token."""
    from rest_framework.test import APIClient

    def make(raw_token: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
        return client

    return make


@pytest.fixture
def installed_app(oauth_app, install_app, org):
    """An app with every scope, installed in ``org`` with every scope granted."""
    app, _client_id, _secret = oauth_app()
    return install_app(app, org)


# --- Webhooks and cool apps (H3) -------------------------------------------------------------


class WebhookReceiver:
    """A real HTTP receiver on 127.0.0.1 (a threaded ``http.server``) that records requests.

    ``status`` and ``reply`` (a dict sent as JSON) set the answer; ``stop()`` closes the
    socket (connections are refused) and ``start()`` listens again on the same port.
    """

    def __init__(self) -> None:
        import threading

        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self.status = 200
        self.reply: dict | None = None
        self.delay = 0.0  # seconds to wait before answering
        self.port = 0
        self._lock = threading.Lock()
        self._server = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    import time

                    time.sleep(receiver.delay)
                with receiver._lock:
                    receiver.requests.append(
                        ({k.lower(): v for k, v in self.headers.items()}, body, self.path)
                    )
                out = json.dumps(receiver.reply).encode() if receiver.reply is not None else b""
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def bodies(self) -> list[dict]:
        import json

        return [json.loads(body) for _h, body, _p in self.requests]


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def hooked_app(oauth_app, install_app, org, webhook_receiver):
    """``make(events, scopes=ALL_SCOPES, cards=None, org=org)`` → an installation whose
    manifest sends ``events`` to ``webhook_receiver`` (and has ``cards`` if given)."""

    def make(events, scopes=ALL_SCOPES, cards=None, in_org=None, granted=ALL_SCOPES):
        app, _client_id, _secret = oauth_app(
            scopes, webhook={"url": webhook_receiver.url, "events": list(events)}
        )
        if cards is not None:
            version = app.published_version
            version.manifest = {**version.manifest, "cards": cards}
            version.save(update_fields=["manifest"])
        return install_app(app, in_org or org, granted if granted is not ALL_SCOPES else scopes)

    return make
