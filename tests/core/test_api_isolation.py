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

    return {
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
    }


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
