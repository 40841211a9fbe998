"""Tenant isolation over every org-scoped route, walked from the URL configuration.

Each route under ``/api/v1/orgs/<org_id>/`` is called for objects of
organisation A: by the owner of organisation B (must be 404, exactly like a
missing object) and anonymously (must be 401). Nothing in A may change. New
routes are picked up automatically; a route whose placeholder has no factory
below fails loudly so it cannot slip through untested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from core.actions import do_create_department, do_invite_member
from core.models import AuditLogEntry, Department, DepartmentMember, Invitation, Membership

ORG_PREFIX = "api/v1/orgs/<int:org_id>/"
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # e.g. "api/v1/orgs/<int:org_id>/members/<pk>/role/"
    methods: tuple[str, ...]


def _walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p


def _methods(pattern: URLPattern) -> tuple[str, ...]:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(m for m in METHODS if m in actions)
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return tuple(m for m in METHODS if view_class and hasattr(view_class, m))


def _normalise(template: str) -> str:
    """Router regexes → ``<name>`` placeholders."""
    import re

    template = template.replace("^", "").replace("$", "").replace("\\.", ".")
    template = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", template)
    return template


def org_routes() -> list[Route]:
    routes = []
    for template, pattern in _walk(get_resolver().url_patterns):
        template = _normalise(template)
        if not template.startswith(ORG_PREFIX) or "format" in template:
            continue
        routes.append(Route(pattern.name or template, template, _methods(pattern)))
    return routes


ROUTES = org_routes()


def test_the_walker_finds_the_org_routes():
    names = {r.name for r in ROUTES}
    assert {
        "org-detail",
        "member-list",
        "member-detail",
        "department-detail",
        "audit-log-list",
    } <= names
    assert all(r.methods for r in ROUTES), [r for r in ROUTES if not r.methods]


# Objects of organisation A for each placeholder, keyed by the route's basename.
def _pk_factories(org, owner, add_member) -> dict[str, Callable[[], object]]:
    def bot() -> int:
        from im.bots import do_create_bot

        conversation = _group(owner, add_member)
        return do_create_bot(owner, name="A's bot", conversation_id=conversation.pk).bot.pk

    def card_message() -> int:
        from im.bots import do_create_bot, do_post_bot_message

        conversation = _group(owner, add_member)
        card_bot = do_create_bot(owner, name="A's card bot", conversation_id=conversation.pk).bot
        card = {"title": "A's card", "buttons": [{"action_id": "go", "label": "Go"}]}
        return do_post_bot_message(card_bot, conversation, text="A's card", card=card).pk

    def lowcode_form():
        return _lowcode_form(owner).pk

    def lowcode_record():
        from lowcode.actions import do_create_record

        form = _lowcode_form(owner)
        return do_create_record(owner, form, {"batch": "A-secret"})[0].pk

    def lowcode_lookup():
        from lowcode.actions import do_save_lookup

        form = _lowcode_form(owner)
        return do_save_lookup(owner, form, name="A's lookup", input_field="batch").pk

    def lowcode_report():
        from lowcode.reports import do_save_report

        form = _lowcode_form(owner)
        return do_save_report(owner, form.app, form, name="A's report", group_by="batch").pk

    def lowcode_approval_flow():
        from lowcode.approvals import do_save_flow

        form = _lowcode_form(owner)
        approver = add_member(org, "member")
        do_save_flow(
            owner,
            form,
            {
                "nodes": [
                    {
                        "id": "n1",
                        "name": "Boss",
                        "approvers": {"kind": "members", "members": [approver.pk]},
                    }
                ]
            },
        )
        return form.pk

    def lowcode_approval():
        from lowcode.actions import do_create_record
        from lowcode.models import ApprovalInstance

        form = _lowcode_form(owner)
        from lowcode.approvals import do_save_flow

        do_save_flow(
            owner,
            form,
            {
                "nodes": [
                    {
                        "id": "n1",
                        "name": "Boss",
                        "approvers": {"kind": "members", "members": [owner.pk]},
                    }
                ]
            },
        )
        record = do_create_record(owner, form, {"batch": "A-secret"})[0]
        return ApprovalInstance.objects.get(record=record).pk

    def connector_connection():
        return _connection(owner).pk

    def connector_run():
        from django.db import transaction

        from connectors.actions import do_create_form_from_stream, do_request_sync
        from lowcode.actions import do_create_app

        connection = _connection(owner)
        do_create_form_from_stream(
            owner, connection, stream="parties", app=do_create_app(owner, name="A's CRM")
        )
        with transaction.atomic():  # the queued task would run on commit; tests never commit
            run, _created = do_request_sync(owner, connection)
        return run.pk

    def scenario():
        from connectors.scenarios import do_save_scenario

        steps = [
            {
                "id": "find",
                "connection": _connection(owner).pk,
                "action": "find_party",
                "params": {"name": "{{input.name}}"},
            }
        ]
        import uuid

        name = f"A's lookup {uuid.uuid4().hex[:8]}"
        return do_save_scenario(owner, {"name": name, "steps": steps})

    def connector_destination():
        from connectors.actions import do_create_form_from_stream
        from lowcode.actions import do_create_app

        return do_create_form_from_stream(
            owner, _connection(owner), stream="parties", app=do_create_app(owner, name="A's CRM")
        ).pk

    def connector_scenario_token():
        from connectors.scenarios import do_create_scenario_token

        return do_create_scenario_token(owner, scenario(), name="A's token")[0].pk

    return {
        "connector-destination": connector_destination,
        "connector-scenario-token": connector_scenario_token,
        "connector-scenario": lambda: scenario().pk,
        "connector-scenario-slug": lambda: scenario().slug,
        "connector-connection": connector_connection,
        "connector-run": connector_run,
        "lowcode-approval": lowcode_approval,
        "lowcode-form-approval-flow": lowcode_approval_flow,
        "lowcode-report": lowcode_report,
        "lowcode-app": lambda: _lowcode_form(owner).app_id,
        "lowcode-form": lowcode_form,
        "lowcode-record": lowcode_record,
        "lowcode-lookup": lowcode_lookup,
        "lowcode-import": lambda: _lowcode_import(owner).pk,
        "lowcode-public-link": lambda: _lowcode_public_link(owner).pk,
        "member": lambda: add_member(org, "member").pk,
        "department": lambda: do_create_department(owner, name="Quality").pk,
        "invitation": lambda: do_invite_member(owner, email="new@a.test").invitation.pk,
        "role": lambda: "member",
        "conversation": lambda: _group(owner, add_member).pk,
        "message": lambda: _message(owner, add_member).pk,
        "attachment": lambda: _attachment(owner, add_member).pk,
        "bot": bot,
        "message-card": card_message,
        "marketplace-installation": lambda: _installation(owner).pk,
        "cool-app": lambda: _cool_app(owner, add_member)[0].pk,
        "app-card": lambda: _cool_app(owner, add_member)[1].pk,
        "billing-subscription": lambda: _billing(owner)[0].pk,
        "billing-invoice": lambda: _billing(owner)[1].pk,
        "billing-payment": lambda: _billing(owner)[2].pk,
    }


def _billing(owner):
    """Organisation A's Professional edition subscription, its invoice, and a payment."""
    from marketplace.billing import do_pay_invoice, do_subscribe_edition
    from marketplace.models import Invoice, Subscription

    sub = Subscription.objects.filter(org_id=owner.org_id, kind="edition").first()
    if sub is None:
        sub = do_subscribe_edition(owner, edition="professional", provider="test")
    invoice = Invoice.objects.filter(subscription=sub).first()
    payment = invoice.payments.first() or do_pay_invoice(owner, invoice, idempotency_key="A")[0]
    return sub, invoice, payment


def _cool_app(owner, add_member):
    """Organisation A's group chat with a cool app in it, and a card the app posted."""
    import uuid

    from marketplace.coolapps import do_add_cool_app, do_post_app_card
    from marketplace.models import App, AppVersion, Installation, Partner
    from marketplace.oauth import ensure_app_member

    suffix = uuid.uuid4().hex[:8]
    partner = Partner.objects.create(
        name=f"Cards {suffix}", slug=f"cards-{suffix}", contact_email="c@a.test"
    )
    app = App.objects.create(partner=partner, app_id=f"com.cards.app{suffix}", name="A's cards")
    scopes = ["im:card.write"]
    manifest = {"id": app.app_id, "name": "A's cards", "version": "1.0.0", "scopes": scopes}
    version = AppVersion.objects.create(
        app=app, version="1.0.0", manifest=manifest, scopes=scopes, status="published"
    )
    installation = Installation.objects.create(
        org=owner.org, app=app, version=version, granted_scopes=scopes, installed_by=owner
    )
    app_member = ensure_app_member(installation)
    conversation = _group(owner, add_member)
    binding = do_add_cool_app(owner, conversation, installation_id=installation.pk)
    card = {"title": "A's app card", "buttons": [{"action_id": "go", "label": "Go"}]}
    message, _created = do_post_app_card(app_member, conversation_id=conversation.pk, card=card)
    return binding, message


def _installation(owner):
    """Organisation A's installation of a published marketplace app."""
    import uuid

    from core.models import User
    from marketplace.actions import (
        do_approve_version,
        do_create_app,
        do_create_partner,
        do_create_version,
        do_install_app,
        do_publish_version,
        do_submit_version,
    )

    suffix = uuid.uuid4().hex[:8]
    vendor = User.objects.create_user(f"vendor-{suffix}@a.test", "pw-123456789", display_name="V")
    reviewer = User.objects.create_user(
        f"ops-{suffix}@a.test", "pw-123456789", display_name="O", is_staff=True
    )
    pm = do_create_partner(vendor, name=f"Vendor {suffix}", contact_email=vendor.email)
    app_id = f"com.vendor.app{suffix}"
    app, _client_id, _secret, _webhook_secret = do_create_app(
        pm, app_id=app_id, name="A's app", redirect_uris=["https://vendor.test/cb"]
    )
    manifest = {
        "id": app_id,
        "name": "A's app",
        "description": "Reads the directory.",
        "version": "1.0.0",
        "categories": ["hr"],
        "scopes": ["core:member.read"],
    }
    version = do_create_version(pm, app, manifest)
    do_submit_version(pm, version)
    do_approve_version(reviewer, version)
    do_publish_version(pm, version)
    app.refresh_from_db()
    installation, _created = do_install_app(owner, app, scopes=["core:member.read"])
    return installation


def _connection(owner):
    from connectors.actions import do_create_connection

    config = {"url": "http://127.0.0.1:9", "database": "a", "username": "a", "password": "a-pw"}
    return do_create_connection(owner, type="tryton", name="A's ERP", config=config)


def _lowcode_form(owner):
    """A published form in a published app of organisation A."""
    from lowcode.actions import do_create_app, do_create_form, do_publish_form, do_update_app

    app = do_create_app(owner, name="A's app")
    fields = [{"key": "batch", "type": "text", "label": "Batch", "indexed": True}]
    form = do_create_form(owner, app, name="A's form", fields=fields)
    do_publish_form(owner, form)
    do_update_app(owner, app, is_published=True)
    form.refresh_from_db()
    return form


def _group(owner, add_member):
    from im.actions import do_create_group

    return do_create_group(owner, name="Secret plans", member_ids=[add_member(owner.org).pk])


def _attachment(owner, add_member):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from im.actions import do_send_message, do_upload_attachment

    upload = SimpleUploadedFile("a-secret.txt", b"A's payroll", content_type="text/plain")
    attachment = do_upload_attachment(owner, upload)
    do_send_message(owner, _group(owner, add_member), attachment_ids=[attachment.pk])
    return attachment


def _message(owner, add_member):
    from im.actions import do_send_message

    message, _created = do_send_message(owner, _group(owner, add_member), body="A's secret")
    return message


def _fill(route: Route, factories, org, add_member) -> str:
    import re

    basename = max((b for b in factories if route.name.startswith(b + "-")), key=len, default="")
    values: dict[str, object] = {"org_id": org.pk}
    for placeholder in re.findall(r"<(?:\w+:)?(\w+)>", route.template):
        if placeholder == "org_id":
            continue
        if placeholder in {"pk", "role"}:
            assert basename in factories, f"No object factory for route {route.name}: add one"
            values[placeholder] = factories[basename]()
        elif placeholder == "member_id":
            values[placeholder] = add_member(org, "member").pk
        elif placeholder == "emoji":
            values[placeholder] = "thumbsup"
        elif placeholder == "slug":
            values[placeholder] = factories["connector-scenario-slug"]()
        elif placeholder == "file_id":
            values[placeholder] = 1  # the record (pk) is A's: refused before the file
        else:
            pytest.fail(f"Unknown placeholder <{placeholder}> in {route.template}: add a factory")
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route.template)
    return "/" + url


def _snapshot(org) -> tuple:
    from im.models import ConversationMember, Message, Reaction

    return (
        tuple(
            Message.objects.filter(org=org)
            .values_list("id", "body", "recalled_at", "pinned_at")
            .order_by("id")
        ),
        tuple(
            ConversationMember.objects.filter(org=org)
            .values_list("id", "last_read_message_id", "role", "muted")
            .order_by("id")
        ),
        Reaction.objects.filter(org=org).count(),
        tuple(
            Membership.objects.filter(org=org)
            .values_list("id", "role", "status", "title")
            .order_by("id")
        ),
        tuple(
            Department.objects.filter(org=org).values_list("id", "name", "parent_id").order_by("id")
        ),
        DepartmentMember.objects.filter(org=org).count(),
        tuple(
            Invitation.objects.filter(org=org)
            .values_list("id", "revoked_at", "accepted_at")
            .order_by("id")
        ),
        AuditLogEntry.objects.filter(org=org).count(),
        _lowcode_snapshot(org),
        _app_snapshot(org, "connectors"),
        tuple(type(org).objects.filter(pk=org.pk).values_list("name", "brand_name", "brand_color")),
    )


def _lowcode_snapshot(org) -> tuple:
    """Every low-code table of organisation A, as rows (so any change shows)."""
    return _app_snapshot(org, "lowcode")


def _app_snapshot(org, label: str) -> tuple:
    """Every table of app ``label`` for organisation A, as rows (so any change shows)."""
    from django.apps import apps

    rows = []
    for model in apps.get_app_config(label).get_models():
        fields = [f.attname for f in model._meta.concrete_fields]
        rows.append(tuple(model.objects.filter(org=org).order_by("pk").values_list(*fields)))
    return tuple(rows)


PAYLOAD = {
    "name": "Hijacked",
    "brand_color": "#000000",
    "role": "owner",
    "title": "pwned",
    "email": "x@evil.test",
    "grants": {"core.member.invite": True},
    "member_id": 1,
    "member_ids": [1],
    "body": "intrusion",
    "emoji": "x",
}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_other_organisation_gets_404_and_changes_nothing(
    route, org, owner, outsider, add_member, api
):
    factories = _pk_factories(org, owner, add_member)
    url = _fill(route, factories, org, add_member)
    before = _snapshot(org)
    client = api(outsider)
    for method in route.methods:
        response = getattr(client, method)(url, PAYLOAD, format="json")
        assert response.status_code == 404, (method, url, response.status_code, response.content)
        assert response.json()["error"]["code"] == "not_found"
    assert _snapshot(org) == before


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_anonymous_call_gets_401(route, org, owner, add_member, api):
    url = _fill(route, _pk_factories(org, owner, add_member), org, add_member)
    before = _snapshot(org)
    for method in route.methods:
        response = getattr(api(None), method)(url, PAYLOAD, format="json")
        assert response.status_code == 401, (method, url, response.status_code)
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _snapshot(org) == before


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_suspended_member_gets_404(route, org, owner, add_member, api):
    suspended = add_member(org, "admin", status="suspended")
    url = _fill(route, _pk_factories(org, owner, add_member), org, add_member)
    for method in route.methods:
        response = getattr(api(suspended), method)(url, PAYLOAD, format="json")
        assert response.status_code == 404, (method, url, response.status_code)


def test_unknown_org_is_404_like_another_orgs(api, member):
    assert api(member).get("/api/v1/orgs/999999/members/").status_code == 404
    assert api(member).get("/api/v1/orgs/0/").status_code == 404
    response = api(member).get("/api/v1/orgs/not-a-number/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_other_orgs_department_is_not_a_valid_parent(api, owner, outsider):
    theirs = do_create_department(outsider, name="Theirs")
    response = api(owner).post(
        f"/api/v1/orgs/{owner.org_id}/departments/",
        {"name": "Mine", "parent": theirs.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "parent" in response.json()["error"]["fields"]
    assert not Department.objects.filter(name="Mine").exists()


def test_other_orgs_member_cannot_be_added_to_my_department(api, owner, outsider):
    dep = do_create_department(owner, name="Lab")
    response = api(owner).post(
        f"/api/v1/orgs/{owner.org_id}/departments/{dep.pk}/members/",
        {"member_id": outsider.pk},
        format="json",
    )
    assert response.status_code == 404
    assert not DepartmentMember.objects.filter(department=dep).exists()


def _lowcode_import(owner):
    """A finished CSV import of organisation A (the task runs eagerly in tests)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from lowcode.imports import do_start_import, run_import

    upload = SimpleUploadedFile("a-secret.csv", b"Batch\nA-secret\n", content_type="text/csv")
    job = do_start_import(owner, _lowcode_form(owner), upload)
    run_import(job.pk)
    return job


def _lowcode_public_link(owner):
    from lowcode.public import do_create_public_link

    return do_create_public_link(owner, _lowcode_form(owner), name="A's link")[0]


def _app_token_installed_in(org) -> str:
    """A client-credentials token of a marketplace app installed in ``org`` with every scope."""
    import base64
    import uuid

    from rest_framework.test import APIClient

    from marketplace.models import App, AppVersion, Installation, Partner
    from marketplace.oauth import create_oauth_client, ensure_app_member
    from marketplace.scopes import SCOPES

    tag = uuid.uuid4().hex[:8]
    partner = Partner.objects.create(name="Probe", slug=f"probe-{tag}", contact_email="p@x.test")
    app = App.objects.create(partner=partner, app_id=f"test.probe.{tag}", name="Probe")
    version = AppVersion.objects.create(
        app=app, version="1", manifest={}, scopes=list(SCOPES), status="published"
    )
    client_id, secret = create_oauth_client(app, ["https://probe.example.test/cb"])
    installation = Installation.objects.create(
        org=org, app=app, version=version, granted_scopes=list(SCOPES)
    )
    ensure_app_member(installation)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = APIClient().post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "org": org.pk},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 200, response.content
    assert set(response.json()["scope"].split()) == set(SCOPES)
    return response.json()["access_token"]


# Routes whose views do not take marketplace apps' OAuth tokens at all (401, not 404).
APP_TOKEN_NOT_ACCEPTED = {
    "connector-scenario-run": "authenticates scenario tokens and personal tokens only",
}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_app_installed_in_other_organisation_gets_404_and_changes_nothing(
    route, org, owner, other_org, add_member
):
    """Organisation B's app, with every scope granted, is refused in A before any scope check."""
    from rest_framework.test import APIClient

    factories = _pk_factories(org, owner, add_member)
    url = _fill(route, factories, org, add_member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_app_token_installed_in(other_org)}")
    expected = 401 if route.name in APP_TOKEN_NOT_ACCEPTED else 404
    before = _snapshot(org)
    for method in route.methods:
        response = getattr(client, method)(url, PAYLOAD, format="json")
        assert response.status_code == expected, (method, url, response.status_code)
        assert response.json()["error"]["code"] in ("not_found", "authentication_failed")
    assert _snapshot(org) == before
