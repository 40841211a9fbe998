"""A small Tack marketplace app: OAuth sign-in, low-code records, a card in a group chat.

Run it with ``python tack_app_example.py`` (see README.md for the environment variables).
It is one file on purpose: a web server from the standard library, ``requests`` for HTTP and
``authlib`` as the OAuth 2.0 client. What it shows, in the order the quickstart uses it:

1. ``GET /login`` starts the authorization-code flow with PKCE (S256). Tack shows the person
   a consent page; ``GET /callback`` exchanges the code for a token that acts *as that
   person* (they only ever see what they could see themselves, within the app's scopes).
2. ``GET /`` lists low-code forms and their records, read with that person's token.
3. ``POST /post-card`` posts an interactive card into a group chat the app was added to,
   with a *client-credentials* token: the app acting as itself (its own app member).
4. ``POST /cards`` answers clicks on the card's buttons (``im.card.action``) with
   ``{"text", "card"}``: a reply in the chat and the card's new content.
5. ``POST /webhooks`` receives events (``app.installed``, ``lowcode.record.created``, ...).

Every request Tack sends to 4 and 5 is signed the Standard Webhooks way; ``verify_webhook``
checks it before anything else happens. Secrets come from the environment, never from files.

State (signed-in people, recent events) lives in memory: restart and people sign in again.
A real app keeps it in a database and encrypts the tokens it stores.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import requests
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.integrations.base_client.errors import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]

#: What the signed-in person lets the app read for them (all must be in the manifest).
USER_SCOPES = "lowcode:app.read lowcode:record.read im:conversation.read"
#: What the app asks for when it acts as itself (client credentials).
APP_SCOPES = "im:card.write"
#: Reject webhook requests older (or newer) than this, in seconds: replay protection.
WEBHOOK_TOLERANCE_SECONDS = 5 * 60
#: The manifest shipped next to this file (its URLs are rewritten to APP_URL when served).
MANIFEST_PATH = Path(__file__).with_name("manifest.json")
#: This app's own cookie. Not "sessionid": Tack may run on the same host (another port)
#: and browsers share cookies between ports of one host.
COOKIE_NAME = "tack_example_sid"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


# --- Configuration ------------------------------------------------------------------------


class ConfigError(Exception):
    """A required environment variable is missing or wrong."""


@dataclass(frozen=True)
class Config:
    """Everything the app needs, from environment variables (see ``from_env``)."""

    tack_url: str  # where Tack runs, e.g. http://127.0.0.1:8000
    client_id: str  # from the partner console, "Create app"
    client_secret: str  # shown once at "Create app" (or "New client secret")
    org_id: int  # the organisation the app is installed in
    webhook_secret: str = ""  # whsec_...: partner console, app, Webhooks, signing secret
    app_url: str = "http://127.0.0.1:8765"  # where this app is reachable by browsers and Tack

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        missing = [
            name
            for name in ("TACK_URL", "CLIENT_ID", "CLIENT_SECRET", "ORG_ID")
            if not env.get(name)
        ]
        if missing:
            raise ConfigError("Set these environment variables: " + ", ".join(missing))
        try:
            org_id = int(env["ORG_ID"])
        except ValueError:
            raise ConfigError("ORG_ID must be the organisation's number, e.g. 1.") from None
        secret = env.get("WEBHOOK_SECRET", "")
        if secret and not secret.startswith("whsec_"):
            raise ConfigError("WEBHOOK_SECRET starts with whsec_ (copy it whole).")
        return cls(
            tack_url=env["TACK_URL"].rstrip("/"),
            client_id=env["CLIENT_ID"],
            client_secret=env["CLIENT_SECRET"],
            org_id=org_id,
            webhook_secret=secret,
            app_url=env.get("APP_URL", cls.app_url).rstrip("/"),
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.app_url}/callback"

    def allow_local_http(self) -> None:
        """authlib refuses OAuth over plain http. That is right on the internet, and fine
        for a Tack and an app both on this machine: allow it for local hosts only."""
        hosts = {urlsplit(u).hostname for u in (self.tack_url, self.app_url)}
        plain = any(urlsplit(u).scheme == "http" for u in (self.tack_url, self.app_url))
        if plain and hosts <= LOCAL_HOSTS:
            os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


def manifest_for(app_url: str, path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """``manifest.json`` with its URLs pointing at ``app_url`` (paste the result into the
    partner console; ``GET /manifest.json`` serves it)."""
    text = path.read_text(encoding="utf-8")
    manifest: dict[str, Any] = json.loads(text.replace("http://127.0.0.1:8765", app_url))
    return manifest


# --- Verifying what Tack sends (Standard Webhooks) ----------------------------------------


class InvalidSignature(Exception):
    """The request was not signed by Tack with our secret (or is too old)."""


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` over ``"{id}.{timestamp}.{body}"``.

    The key is the base64-decoded part of the secret after ``whsec_``.
    """
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise InvalidSignature("the secret is not whsec_ followed by base64") from None
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = WEBHOOK_TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """Check the ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers of a
    request and return its JSON body; raise ``InvalidSignature`` otherwise.

    Verify the raw bytes as received, before parsing: re-serialised JSON would not match.
    ``webhook-signature`` may hold several space-separated signatures (Tack signs with the
    old and the new secret while a secret is being rotated): one match is enough.
    """
    if not secret:
        raise InvalidSignature("WEBHOOK_SECRET is not set")
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    signatures = lower.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not a number") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise InvalidSignature("webhook-timestamp is too far from now (a replay?)")
    expected = sign_webhook(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(s, expected) for s in signatures.split(" ")):
        raise InvalidSignature("no signature matches")
    try:
        payload: dict[str, Any] = json.loads(body)
    except ValueError:
        raise InvalidSignature("the body is not JSON") from None
    return payload


# --- Talking to Tack ----------------------------------------------------------------------


class TackError(Exception):
    """Tack answered with an error: ``{"error": {"code", "message", "fields"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def _json(response: requests.Response) -> Any:
    if response.ok:
        return response.json() if response.content else None
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    raise TackError(
        response.status_code,
        str(error.get("code") or response.reason),
        str(error.get("message") or response.text[:200]),
    )


class Tack:
    """The OAuth flows and the few API calls this app makes."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._app_token: dict[str, Any] | None = None
        self._lock = threading.Lock()

    # OAuth endpoints
    @property
    def authorize_url(self) -> str:
        return f"{self.config.tack_url}/oauth/authorize/"

    @property
    def token_url(self) -> str:
        return f"{self.config.tack_url}/oauth/token/"

    def api_url(self, path: str) -> str:
        return f"{self.config.tack_url}/api/v1/orgs/{self.config.org_id}/{path.lstrip('/')}"

    def _session(self, **kwargs: Any) -> OAuth2Session:
        """An authlib client (a ``requests.Session``); close it after use (``with``)."""
        return OAuth2Session(self.config.client_id, self.config.client_secret, **kwargs)

    # 1. Authorization code + PKCE: the app acts for a person --------------------------------
    def start_login(self) -> tuple[str, str, str]:
        """``(url to send the browser to, state, code verifier)``; keep state and verifier
        for the callback. ``org`` tells Tack which organisation's installation is meant."""
        verifier = generate_token(64)
        with self._session(
            scope=USER_SCOPES, redirect_uri=self.config.redirect_uri, code_challenge_method="S256"
        ) as session:
            url, state = session.create_authorization_url(
                self.authorize_url, code_verifier=verifier, org=self.config.org_id
            )
        return url, state, verifier

    def finish_login(self, callback_url: str, state: str, verifier: str) -> dict[str, Any]:
        """Exchange the code in ``callback_url`` (checking ``state``) for tokens."""
        with self._session(
            scope=USER_SCOPES, redirect_uri=self.config.redirect_uri, state=state
        ) as session:
            token: dict[str, Any] = session.fetch_token(
                self.token_url, authorization_response=callback_url, code_verifier=verifier
            )
        return token

    def as_person(self, token: dict[str, Any], on_refresh: Any = None) -> OAuth2Session:
        """An HTTP session sending the person's token; refreshed by authlib when it expires
        (``on_refresh(token)`` is told, to store the new one). Close it after use."""
        return self._session(
            token=token,
            token_endpoint=self.token_url,
            update_token=on_refresh or (lambda *args, **kwargs: None),
        )

    # 2. Client credentials: the app acts as itself ---------------------------------------
    def as_app(self) -> requests.Session:
        """An HTTP session with an app token for the configured organisation, fetched once
        and again a minute before it expires (client credentials have no refresh token).
        Close it after use."""
        with self._lock:
            token = self._app_token
            if token is None or token.get("expires_at", 0) - 60 < time.time():
                with self._session(scope=APP_SCOPES) as session:
                    token = session.fetch_token(
                        self.token_url,
                        grant_type="client_credentials",
                        org=str(self.config.org_id),
                    )
                self._app_token = token
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token['access_token']}"
        return session

    # API calls -----------------------------------------------------------------------------
    def forms(self, person: requests.Session) -> list[dict[str, Any]]:
        """Low-code forms the person can open: ``[{"id", "name", "app_name"}]``."""
        forms = []
        for app in _json(person.get(self.api_url("lowcode/apps/"))):
            for form in _json(
                person.get(self.api_url("lowcode/forms/"), params={"app": app["id"]})
            ):
                forms.append({"id": form["id"], "name": form["name"], "app_name": app["name"]})
        return forms

    def records(self, person: requests.Session, form_id: int, limit: int = 20) -> list[Any]:
        """The newest records of a form the person may see (one page)."""
        page = _json(
            person.get(self.api_url("lowcode/records/"), params={"form": form_id, "limit": limit})
        )
        results: list[Any] = page["results"]
        return results

    def group_chats(self, person: requests.Session) -> list[dict[str, Any]]:
        """The person's group chats: ``[{"id", "title"}]``."""
        chats = _json(person.get(self.api_url("conversations/")))
        return [
            {"id": c["conversation"]["id"], "title": c["title"]}
            for c in chats
            if c["conversation"]["kind"] != "direct"
        ]

    def post_card(
        self, conversation_id: int, card: dict[str, Any], text: str = "", key: str = ""
    ) -> dict[str, Any]:
        """Post ``card`` into a chat the app was added to (404 anywhere else). A retry with
        the same ``key`` returns the first card instead of posting twice."""
        body: dict[str, Any] = {"conversation_id": conversation_id, "card": card, "text": text}
        if key:
            body["idempotency_key"] = key
        with self.as_app() as http:
            message: dict[str, Any] = _json(http.post(self.api_url("app-cards/"), json=body))
        return message

    def update_card(self, message_id: int, card: dict[str, Any]) -> dict[str, Any]:
        with self.as_app() as http:
            url = self.api_url(f"app-cards/{message_id}/")
            message: dict[str, Any] = _json(http.patch(url, json={"card": card}))
        return message


# --- The card and its buttons -------------------------------------------------------------


def summary_card(form_name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A card summarising a form's newest records, with two buttons."""
    fields = [{"label": "Form", "value": form_name[:200]}]
    fields.append({"label": "Newest records", "value": str(len(records))})
    if records:
        fields.append({"label": "Latest", "value": f"#{records[0].get('number', '?')}"})
    return {
        "title": f"Records of {form_name}"[:200],
        "fields": fields,
        "buttons": [
            {"action_id": "ack", "label": "Got it", "style": "primary", "value": form_name[:200]},
            {"action_id": "snooze", "label": "Remind me later", "value": form_name[:200]},
        ],
        "footer": "Tack example app",
    }


def answer_card_action(event: dict[str, Any]) -> dict[str, Any]:
    """The answer to an ``im.card.action`` event: ``{"text", "card"}``.

    ``text`` (optional) is posted in the chat by the app; ``card`` (optional) replaces the
    clicked card. Tack waits a few seconds for this answer: do slow work afterwards.
    """
    data = event.get("data") or {}
    who = (data.get("member") or {}).get("display_name") or "Someone"
    form_name = str(data.get("value") or "the form")
    if data.get("action_id") == "ack":
        return {
            "text": f"{who} has seen the records of {form_name}.",
            "card": {
                "title": f"Records of {form_name}"[:200],
                "fields": [{"label": "Seen by", "value": who[:200]}],
                "buttons": [],
                "footer": "Tack example app",
            },
        }
    if data.get("action_id") == "snooze":
        return {"text": f"OK {who}, I will remind you later."}
    return {}  # an unknown button: change nothing


# --- The web app --------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _page(title: str, body: str) -> Response:
    document = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(200, document.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _json_response(status: int, data: Any) -> Response:
    return Response(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


def _redirect(location: str, status: int = 302) -> Response:
    return Response(status, b"", {"Location": location})


class ExampleApp:
    """The routes, independent of the HTTP server (so they are easy to test)."""

    def __init__(self, config: Config, tack: Tack | None = None) -> None:
        config.allow_local_http()
        self.config = config
        self.tack = tack or Tack(config)
        self.sessions: dict[str, dict[str, Any]] = {}  # cookie value → this person's state
        self.events: deque[dict[str, Any]] = deque(maxlen=50)  # recent verified webhooks
        self._seen: deque[str] = deque(maxlen=1000)  # webhook-ids: retries are dropped
        self._lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one request; ``headers`` have lower-case names."""
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        cookie = SimpleCookie(headers.get("cookie", ""))
        sid = cookie[COOKIE_NAME].value if COOKIE_NAME in cookie else ""
        session = self.sessions.get(sid)
        route = (method, parts.path)
        if route == ("POST", "/webhooks"):
            return self.webhook(headers, body)
        if route == ("POST", "/cards"):
            return self.card_action(headers, body)
        if route == ("GET", "/manifest.json"):
            return _json_response(200, manifest_for(self.config.app_url))
        if route == ("GET", "/login"):
            return self.login(sid if session is not None else "")
        if route == ("GET", "/callback"):
            return self.callback(session, target)
        if route == ("GET", "/"):
            return self.home(session, query)
        if route == ("POST", "/post-card"):
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            return self.post_card(session, form)
        return Response(404, b"Not found")

    # Signing in ----------------------------------------------------------------------------
    def login(self, sid: str) -> Response:
        url, state, verifier = self.tack.start_login()
        sid = sid or secrets.token_urlsafe(24)
        self.sessions.setdefault(sid, {"csrf": secrets.token_urlsafe(16)})
        self.sessions[sid].update(state=state, verifier=verifier)
        response = _redirect(url)
        response.headers["Set-Cookie"] = f"{COOKIE_NAME}={sid}; HttpOnly; SameSite=Lax; Path=/"
        return response

    def callback(self, session: dict[str, Any] | None, target: str) -> Response:
        query = parse_qs(urlsplit(target).query)
        if session is None or "state" not in session:
            return _page("Sign in again", '<p><a href="/login">Sign in with Tack</a></p>')
        if "error" in query:  # e.g. access_denied: the person said no
            session.pop("state", None)
            reason = html.escape(query["error"][0])
            return _page("Not signed in", f"<p>Tack answered {reason}.</p>")
        state, verifier = session.pop("state"), session.pop("verifier")
        try:
            session["token"] = self.tack.finish_login(
                self.config.redirect_uri + "?" + urlsplit(target).query, state, verifier
            )
        except Exception as exc:  # a wrong state, a used or expired code: start again
            return _page("Sign-in failed", f"<p>{html.escape(str(exc))}</p>")
        return _redirect("/")

    def _person(self, session: dict[str, Any]) -> requests.Session:
        def store(token: dict[str, Any], **_kwargs: Any) -> None:
            session["token"] = token  # a refreshed token replaces the old one

        person: requests.Session = self.tack.as_person(session["token"], store)
        return person

    # Pages -----------------------------------------------------------------------------------
    def home(self, session: dict[str, Any] | None, query: dict[str, str]) -> Response:
        if session is None or "token" not in session:
            return _page(
                "Tack example app",
                '<p><a href="/login">Sign in with Tack</a> to see your low-code records.</p>',
            )
        try:
            with self._person(session) as person:
                forms = self.tack.forms(person)
                chosen = next((f for f in forms if str(f["id"]) == query.get("form")), None)
                chosen = chosen or (forms[0] if forms else None)
                records = self.tack.records(person, chosen["id"]) if chosen else []
                chats = self.tack.group_chats(person)
        except (TackError, OAuthError) as exc:
            if not isinstance(exc, TackError) or exc.status == 401:
                session.pop("token", None)  # revoked, expired or uninstalled: sign in again
            return _page("Tack said no", f'<p>{html.escape(str(exc))}</p><a href="/">Back</a>')
        except requests.RequestException:
            return _page("Tack is not answering", "<p>Try again in a moment.</p>")
        out = []
        if note := query.get("note"):
            out.append(f"<p><strong>{html.escape(note)}</strong></p>")
        out.append("<h2>Forms</h2><ul>")
        for f in forms:
            label = html.escape(f"{f['app_name']} / {f['name']}")
            out.append(f'<li><a href="/?form={f["id"]}">{label}</a></li>')
        out.append("</ul>")
        if chosen:
            out.append(f"<h2>Records of {html.escape(chosen['name'])}</h2><ul class=records>")
            for r in records:
                data = html.escape(json.dumps(r.get("data"), ensure_ascii=False))
                out.append(f"<li>#{r['number']}: <code>{data}</code></li>")
            out.append("</ul>")
            out.append("<h2>Post a summary card into a group chat</h2>")
            out.append("<p>Add the app to the chat first (see the quickstart).</p><ul>")
            for chat in chats:
                out.append(
                    '<li><form method=post action="/post-card">'
                    f'<input type=hidden name=csrf value="{session["csrf"]}">'
                    f'<input type=hidden name=form value="{chosen["id"]}">'
                    f'<input type=hidden name=conversation_id value="{chat["id"]}">'
                    f"<button>Post to {html.escape(chat['title'])}</button></form></li>"
                )
            out.append("</ul>")
        out.append("<h2>Recent webhook events</h2><ul>")
        for event in list(self.events)[::-1]:
            out.append(f"<li>{html.escape(str(event.get('type')))}</li>")
        out.append("</ul>")
        return _page("Tack example app", "".join(out))

    def post_card(self, session: dict[str, Any] | None, form: dict[str, str]) -> Response:
        if session is None or "token" not in session:
            return _redirect("/login", 303)
        if not hmac.compare_digest(form.get("csrf", ""), session["csrf"]):
            return Response(403, b"Bad form token")
        try:
            form_id, conversation_id = int(form["form"]), int(form["conversation_id"])
        except (KeyError, ValueError):
            return Response(400, b"form and conversation_id are numbers")
        try:
            with self._person(session) as person:
                name = next(f["name"] for f in self.tack.forms(person) if f["id"] == form_id)
                card = summary_card(name, self.tack.records(person, form_id))
            # The card is posted by the app itself (client credentials), not by the person.
            self.tack.post_card(conversation_id, card, text=f"New records in {name}")
        except StopIteration:
            return Response(404, b"No such form")
        except (TackError, OAuthError, requests.RequestException) as exc:
            not_added = isinstance(exc, TackError) and exc.status == 404
            note = "Add the app to that chat first." if not_added else str(exc)
            return _redirect(f"/?form={form_id}&note={quote(note)}", 303)
        return _redirect(f"/?form={form_id}&note=Card+posted.", 303)

    # What Tack sends ----------------------------------------------------------------------
    def webhook(self, headers: Mapping[str, str], body: bytes) -> Response:
        """Events: verify, drop duplicates (retries keep their webhook-id), answer 2xx fast."""
        try:
            event = verify_webhook(self.config.webhook_secret, headers, body)
        except InvalidSignature as exc:
            return _json_response(401, {"error": str(exc)})
        msg_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        with self._lock:
            if msg_id not in self._seen:
                self._seen.append(msg_id)
                self.events.append(event)  # a real app queues the work and returns at once
        return Response(204)

    def card_action(self, headers: Mapping[str, str], body: bytes) -> Response:
        """A click on one of our cards: verify, then answer ``{"text", "card"}``."""
        try:
            event = verify_webhook(self.config.webhook_secret, headers, body)
        except InvalidSignature as exc:
            return _json_response(401, {"error": str(exc)})
        if event.get("type") != "im.card.action":
            return _json_response(400, {"error": "expected im.card.action"})
        return _json_response(200, answer_card_action(event))


# --- The HTTP server ----------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: AppServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1_000_000))
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            response = self.server.app.handle(self.command, self.path, headers, body)
        except Exception:  # a bug: answer 500 rather than dropping the connection
            response = Response(500, b"Something went wrong in the example app.")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet; never log tokens or bodies


class AppServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: ExampleApp, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.app = app
        super().__init__((host, port), _Handler)


def main() -> None:
    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    parts = urlsplit(config.app_url)
    server = AppServer(ExampleApp(config), parts.hostname or "127.0.0.1", parts.port or 8765)
    print(f"Tack example app on {config.app_url} (Ctrl+C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
