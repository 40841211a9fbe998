"""Who may do what in a low-code app, and ``access_<thing>(member, id)`` lookups.

Levels, each implying the ones before it: ``submit`` (fill the forms, see my records),
``view_all`` (see every record, lookups, reports), ``manage`` (design, publish, import,
delete others' records). Org admins and an app's creator always manage. An app its
caller may not even submit to answers 404, the same as a missing one.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from core.access import as_id
from core.errors import Forbidden, NotFound
from core.models import DepartmentMember, Membership
from core.permissions import has_permission
from lowcode.models import App, Form, LookupPage, Record

LEVELS = ("submit", "view_all", "manage")


def _department_ids(member: Membership) -> set[int]:
    cached: set[int] | None = getattr(member, "_lowcode_departments", None)
    if cached is None:
        cached = set(
            DepartmentMember.objects.filter(org_id=member.org_id, membership=member).values_list(
                "department_id", flat=True
            )
        )
        member._lowcode_departments = cached  # type: ignore[attr-defined]
    return cached


def app_levels(member: Membership, app: App) -> set[str]:
    """The levels ``member`` holds in ``app`` (empty: the app is invisible to them)."""
    if not member.is_active or app.org_id != member.org_id or app.archived_at is not None:
        return set()
    if has_permission(member, "lowcode.app.manage_all") or app.created_by_id == member.pk:
        return set(LEVELS)
    held: set[str] = set()
    grants = app.permissions or {}
    departments: set[int] | None = None
    for index, level in enumerate(LEVELS):
        grant = grants.get(level) or {}
        match = member.role in grant.get("roles", []) or member.pk in grant.get("members", [])
        if not match and grant.get("departments"):
            departments = departments if departments is not None else _department_ids(member)
            match = bool(departments & set(grant["departments"]))
        if match:
            held.update(LEVELS[: index + 1])
    if not app.is_published and "manage" not in held:
        return set()
    return held


def check_app_level(member: Membership, app: App, level: str) -> None:
    if level not in app_levels(member, app):
        raise Forbidden(
            _("You may not do this in this app."),
            code="permission_denied",
            fields={"level": [level]},
        )


def access_app(member: Membership, app_id: Any, level: str = "submit") -> App:
    app = App.objects.filter(org_id=member.org_id, pk=as_id(app_id)).first()
    levels = app_levels(member, app) if app is not None else set()
    if app is None or not levels:
        raise NotFound(_("App not found."))
    if level not in levels:
        check_app_level(member, app, level)
    app._levels = levels  # type: ignore[attr-defined]
    return app


def access_form(member: Membership, form_id: Any, level: str = "submit") -> Form:
    # The draft and the derived schemas are not needed to check access or write records.
    form = next(
        iter(
            Form.objects.select_related("app", "published_version")
            .defer(
                "draft_fields",
                "draft_layout",
                "published_version__schema",
                "published_version__ui_schema",
            )
            .filter(org_id=member.org_id, pk=as_id(form_id))[:1]
        ),
        None,
    )
    levels = app_levels(member, form.app) if form is not None else set()
    if form is None or not levels:
        raise NotFound(_("Form not found."))
    if level not in levels:
        check_app_level(member, form.app, level)
    form.app._levels = levels  # type: ignore[attr-defined]
    return form


def visible_records_q(member: Membership, levels: set[str]) -> Q:
    """Records a member sees in a form: all with ``view_all``, else their own."""
    if "view_all" in levels:
        return Q()
    from lowcode.selectors import extra_visibility_q

    return Q(created_by=member) | extra_visibility_q(member)


def access_record(
    member: Membership, record_id: Any, level: str = "submit", *, deleted: bool = False
) -> Record:
    """A record the member may see; ``level`` is also checked for writes."""
    record = (
        Record.objects.select_related("form__app", "version")
        .filter(org_id=member.org_id, pk=as_id(record_id), deleted_at__isnull=not deleted)
        .first()
    )
    levels = app_levels(member, record.form.app) if record is not None else set()
    if record is None or not levels:
        raise NotFound(_("Record not found."))
    if not Record.objects.filter(Q(pk=record.pk) & visible_records_q(member, levels)).exists():
        raise NotFound(_("Record not found."))
    if level not in levels:
        check_app_level(member, record.form.app, level)
    record.form.app._levels = levels  # type: ignore[attr-defined]
    return record


def access_lookup(member: Membership, lookup_id: Any, level: str = "view_all") -> LookupPage:
    lookup = (
        LookupPage.objects.select_related("app", "form__published_version")
        .filter(org_id=member.org_id, pk=as_id(lookup_id))
        .first()
    )
    levels = app_levels(member, lookup.app) if lookup is not None else set()
    if lookup is None or not levels:
        raise NotFound(_("Lookup not found."))
    if level not in levels:
        check_app_level(member, lookup.app, level)
    return lookup
