"""Low-code web pages: shells that the page scripts fill from the low-code API.

Like the chat page, a view only resolves the organisation (``org_page``) and the thing
the page is about (with the same ``access_*`` lookups as the API, so another
organisation's id is a 404 and a missing level a 403), then passes the script its
configuration and the translated interface strings. Reads and writes go through
``/api/v1/orgs/<org_id>/lowcode/`` with the session cookie and the CSRF header.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.permissions import has_permission
from core.views import OrgRequest, org_page
from lowcode.access import access_app, access_form, access_lookup
from lowcode.models import App

IMPORT_PARTIAL = "lowcode/partials/import_dialog.html"


def interface_strings() -> dict[str, str]:
    """Everything the low-code scripts show, translated for the current language."""
    return {
        # common
        "load_error": _("Could not load. Check your connection and try again."),
        "save_error": _("Could not save. Check the highlighted fields."),
        "network_error": _("The server could not be reached. Try again."),
        "saving": _("Saving…"),
        "saved": _("Saved"),
        "loading": _("Loading…"),
        "retry": _("Try again"),
        "cancel": _("Cancel"),
        "close": _("Close"),
        "save": _("Save"),
        "delete": _("Delete"),
        "edit": _("Edit"),
        "undo": _("Undo"),
        "remove": _("Remove"),
        "add": _("Add"),
        "yes": _("Yes"),
        "no": _("No"),
        "none": _("None"),
        "required": _("This field is required."),
        "optional": _("optional"),
        "search": _("Search"),
        "apply": _("Apply"),
        # apps home and app page
        "new_app": _("New app"),
        "app_name": _("App name"),
        "app_created": _("App created."),
        "no_apps": _("No apps yet"),
        "no_apps_hint": _("Create an app to collect data with forms, lookups and approvals."),
        "published": _("Published"),
        "draft": _("Draft"),
        "n_forms_one": _("1 form"),
        "n_forms_many": _("%(count)s forms"),
        "fill": _("Fill"),
        "records": _("Records"),
        "design": _("Design"),
        "qr_codes": _("QR codes"),
        "new_form": _("New form"),
        "form_name": _("Form name"),
        "form_created": _("Form created."),
        "no_forms": _("No forms yet"),
        "no_forms_hint": _("Add a form, design its fields and publish it."),
        "not_published": _("Not published"),
        "unpublished_changes": _("Unpublished changes"),
        "version_n": _("Version %(n)s"),
        "no_lookups": _("No lookups yet."),
        "new_lookup": _("New lookup"),
        "lookup_saved": _("Lookup saved."),
        "app_saved": _("App settings saved."),
        "app_published": _("The app is published: people with access can use it."),
        "app_unpublished": _("The app is unpublished: only its managers see it."),
        "level_submit": _("Fill in forms"),
        "level_view_all": _("See all records"),
        "level_manage": _("Manage"),
        "role_owner": _("Owner"),
        "role_admin": _("Admin"),
        "role_member": _("Member"),
        "role_guest": _("Guest"),
        "pick_member": _("Add a member…"),
        "pick_department": _("Add a department…"),
        "confirm_delete_lookup": _("Delete this lookup?"),
        # designer
        "palette_hint": _("Drag a field onto the form, or click it to add it at the end."),
        "canvas_empty": _("Drag fields here"),
        "canvas_empty_hint": _("Or click a field type on the left to add it."),
        "move_up": _("Move up"),
        "move_down": _("Move down"),
        "duplicate": _("Duplicate"),
        "field_moved": _("Field moved to position %(n)s."),
        "field_added": _("%(label)s added."),
        "field_removed": _("%(label)s removed."),
        "new_field": _("New field"),
        "select_field": _("Select a field on the form to edit its properties."),
        "label": _("Label"),
        "key": _("Key"),
        "key_help": _("Used in the API, imports and QR links. It cannot change once published."),
        "key_locked": _("Published: the key is fixed so records keep their data."),
        "help_text": _("Help text"),
        "placeholder": _("Placeholder"),
        "required_label": _("Required"),
        "indexed_label": _("Indexed (fast lookups and filters)"),
        "width": _("Width"),
        "width_full": _("Full width"),
        "width_half": _("Half width"),
        "choices": _("Choices"),
        "add_choice": _("Add choice"),
        "choice_n": _("Option %(n)s"),
        "currency": _("Currency"),
        "decimals": _("Decimals"),
        "min": _("Minimum"),
        "max": _("Maximum"),
        "unit": _("Unit"),
        "max_length": _("Maximum length"),
        "expression": _("Expression"),
        "expression_help": _("Use + - * / and brackets with these number fields:"),
        "no_number_fields": _("Add a number or money field first."),
        "columns": _("Columns"),
        "add_column": _("Add column"),
        "column_type": _("Column type"),
        "target_form": _("Target form"),
        "multiple": _("Allow several"),
        "prefix": _("Prefix"),
        "digits": _("Digits"),
        "symbology": _("Code type"),
        "max_files": _("Maximum files"),
        "max_rows": _("Maximum rows"),
        "save_draft": _("Save draft"),
        "draft_saved": _("Draft saved."),
        "unsaved": _("Unsaved changes"),
        "all_saved": _("All changes saved"),
        "publish": _("Publish"),
        "published_version": _("Published as version %(n)s."),
        "nothing_to_publish": _("Nothing changed since version %(n)s."),
        "would_orphan": _("This change would orphan existing data."),
        "field_in_use": _("Some removed fields are still in use:"),
        "fix_errors": _("Fix the highlighted fields, then try again."),
        "preview": _("Preview"),
        "fields_tab": _("Fields"),
        "flow_tab": _("Approval flow"),
        "settings_tab": _("Form settings"),
        "description": _("Description"),
        "qr_field": _("QR codes per value of"),
        "qr_field_help": _(
            "A published single-select field: the QR sheet prints one code per choice, "
            "and each code pre-fills that choice."
        ),
        "leave_unsaved": _("You have unsaved changes."),
        # approval flow editor
        "flow_enabled": _("Records of this form need approval"),
        "flow_empty": _("No approval steps. Records are accepted as soon as they are submitted."),
        "add_node": _("Add step"),
        "node_name": _("Step name"),
        "approvers": _("Approvers"),
        "kind_members": _("Specific members"),
        "kind_role": _("Everyone with a role"),
        "kind_manager": _("The submitter's manager"),
        "kind_nth_manager": _("A manager further up"),
        "level": _("Levels up"),
        "mode": _("When several approve"),
        "mode_sequential": _("One after another"),
        "mode_all": _("All must approve"),
        "mode_any": _("Any one is enough"),
        "condition": _("Only when"),
        "no_condition": _("Always"),
        "cc": _("Copy to (CC)"),
        "no_cc": _("Nobody"),
        "time_limit": _("Time limit (hours)"),
        "save_flow": _("Save flow"),
        "flow_saved": _("Approval flow saved."),
        "flow_unavailable": _("Approval flows are not available on this server yet."),
        "op_gt": _("is greater than"),
        "op_gte": _("is at least"),
        "op_lt": _("is less than"),
        "op_lte": _("is at most"),
        "op_eq": _("equals"),
        "op_ne": _("is not"),
        "op_in": _("is one of"),
        "step_n": _("Step %(n)s"),
        # fill page
        "submit": _("Submit"),
        "submitting": _("Submitting…"),
        "submitted": _("Submitted"),
        "submitted_text": _("Record #%(n)s was saved."),
        "fill_another": _("Fill in another"),
        "view_records": _("See records"),
        "auto_filled": _("Filled in automatically"),
        "add_row": _("Add row"),
        "remove_row": _("Remove row"),
        "no_rows": _("No rows yet."),
        "upload": _("Upload"),
        "uploading": _("Uploading…"),
        "upload_error": _("The file could not be uploaded."),
        "scan": _("Scan"),
        "scan_unsupported": _("This browser cannot scan codes. Type the code instead."),
        "search_members": _("Search people…"),
        "no_match": _("No matches."),
        "choose": _("Choose…"),
        "form_not_published": _("This form has not been published yet."),
        "fix_fields": _("Some fields need attention."),
        # records
        "no_records": _("No records yet"),
        "no_records_hint": _("Records appear here as soon as someone fills in the form."),
        "no_results": _("No records match these filters."),
        "load_more": _("Load more"),
        "add_filter": _("Add filter"),
        "clear_filters": _("Clear filters"),
        "field": _("Field"),
        "operator": _("Operator"),
        "value": _("Value"),
        "choose_columns": _("Columns"),
        "op_contains": _("contains"),
        "op_range": _("between"),
        "op_empty": _("is empty"),
        "op_not_empty": _("is not empty"),
        "record_n": _("Record #%(n)s"),
        "history": _("History"),
        "approval": _("Approval"),
        "record_deleted": _("Record deleted."),
        "record_restored": _("Record restored."),
        "restore": _("Restore"),
        "record_saved": _("Record saved."),
        "confirm_delete": _("Delete this record? You can undo right after."),
        "change_created": _("Created"),
        "change_updated": _("Updated"),
        "change_deleted": _("Deleted"),
        "change_restored": _("Restored"),
        "change_imported": _("Imported"),
        "number": _("Number"),
        "created_at": _("Created at"),
        "created_by": _("Created by"),
        "updated_at": _("Updated at"),
        "state_pending": _("Pending"),
        "state_approved": _("Approved"),
        "state_rejected": _("Rejected"),
        "state_withdrawn": _("Withdrawn"),
        "state_none": _("No approval"),
        "n_records_loaded": _("%(count)s shown"),
        # lookup
        "lookup_prompt": _("Type a value and press Enter"),
        "lookup_empty": _("Nothing found for “%(q)s”."),
        "lookup_hint": _("Results appear here."),
        "input_field": _("Search by"),
        "match": _("Match"),
        "match_eq": _("Exactly"),
        "match_contains": _("Contains"),
        "lookup_name": _("Lookup name"),
        "form": _("Form"),
        # approvals
        "box_todo": _("To do"),
        "box_done": _("Done"),
        "box_submitted": _("Submitted by me"),
        "box_cc": _("CC"),
        "inbox_empty_todo": _("Nothing waiting for you."),
        "inbox_empty": _("Nothing here yet."),
        "pick_item": _("Choose an item on the left to see it here."),
        "approve": _("Approve"),
        "reject": _("Reject"),
        "transfer": _("Transfer"),
        "withdraw": _("Withdraw"),
        "urge": _("Urge"),
        "comment": _("Comment"),
        "comment_required": _("A comment is required to reject."),
        "transfer_to": _("Transfer to"),
        "pick_someone": _("Choose someone to transfer to."),
        "action_done": _("Done."),
        "urged": _("Reminder sent."),
        "timeline": _("Timeline"),
        "submitted_by": _("Submitted by %(name)s"),
        "current_step": _("Current step: %(name)s"),
        "due": _("Due %(when)s"),
        "act_start": _("submitted"),
        "act_approve": _("approved"),
        "act_reject": _("rejected"),
        "act_transfer": _("transferred"),
        "act_withdraw": _("withdrew"),
        "act_urge": _("sent a reminder"),
        "act_comment": _("commented"),
        "act_auto": _("passed automatically"),
        "act_fallback": _("sent the step to the app's managers"),
        "act_edit_after_approval": _("changed the record after approval"),
        "act_skip": _("skipped a step (its condition did not apply)"),
        "act_cc": _("copied people in"),
        "act_finish": _("finished"),
        "act_remind": _("reminded the approvers"),
        "system": _("System"),
        "open_record": _("Open record"),
        "approvals_unavailable": _("Approvals are not available on this server yet."),
    }


def _config(request: OrgRequest, **extra: Any) -> dict[str, Any]:
    org_id = request.org.pk
    member, user = request.membership, request.user
    config: dict[str, Any] = {
        "org_id": org_id,
        "api": f"/api/v1/orgs/{org_id}/",
        "lowcode_api": f"/api/v1/orgs/{org_id}/lowcode/",
        "pages": f"/o/{org_id}/apps/",
        "me": {"member_id": member.pk, "user_id": user.pk, "display_name": user.display_name},
        "can_browse_members": has_permission(member, "core.member.read"),
        "strings": interface_strings(),
    }
    config.update(extra)
    return config


def _page(
    request: OrgRequest, template: str, config: dict[str, Any], **context: Any
) -> HttpResponse:
    return render(request, template, {"lc_config": config, **context})


def _levels(app: App) -> list[str]:
    return sorted(getattr(app, "_levels", set()))


@org_page
@require_GET
def apps_home(request: OrgRequest) -> HttpResponse:
    """My apps as cards, and "New app" for those who may create one."""
    can_create = has_permission(request.membership, "lowcode.app.create")
    return _page(request, "lowcode/apps.html", _config(request, can_create=can_create))


@org_page
@require_GET
def app_detail(request: OrgRequest, app_id: int) -> HttpResponse:
    """An app: its forms, lookups, approvals and (for managers) its settings."""
    app = access_app(request.membership, app_id)
    config = _config(request, app_id=app.pk, levels=_levels(app))
    return _page(request, "lowcode/app.html", config, app=app, levels=_levels(app))


@org_page
@require_GET
def designer(request: OrgRequest, form_id: int) -> HttpResponse:
    """The drag-and-drop form designer and the form's approval flow (managers only)."""
    form = access_form(request.membership, form_id, "manage")
    config = _config(request, form_id=form.pk, app_id=form.app_id)
    return _page(request, "lowcode/designer.html", config, form=form, app=form.app)


@org_page
@require_GET
def fill(request: OrgRequest, form_id: int) -> HttpResponse:
    """The mobile-first fill page; ``?<key>=<value>`` pre-fills fields (QR codes)."""
    form = access_form(request.membership, form_id)
    prefill = {key: request.GET.get(key, "")[:500] for key in list(request.GET)[:50]}
    config = _config(
        request, form_id=form.pk, app_id=form.app_id, prefill=prefill, levels=_levels(form.app)
    )
    return _page(request, "lowcode/fill.html", config, form=form, app=form.app)


@org_page
@require_GET
def records(request: OrgRequest, form_id: int) -> HttpResponse:
    """The record table: columns, filters, sort, side panel with history and approval."""
    form = access_form(request.membership, form_id)
    levels = _levels(form.app)
    config = _config(
        request,
        form_id=form.pk,
        app_id=form.app_id,
        levels=levels,
        export_url=f"/api/v1/orgs/{request.org.pk}/lowcode/forms/{form.pk}/export/",
    )
    import_partial = None
    if "manage" in levels:
        try:
            get_template(IMPORT_PARTIAL)
            import_partial = IMPORT_PARTIAL
        except TemplateDoesNotExist:  # the import dialog ships separately
            import_partial = None
    return _page(
        request,
        "lowcode/records.html",
        config,
        form=form,
        app=form.app,
        levels=levels,
        import_partial=import_partial,
    )


@org_page
@require_GET
def lookup(request: OrgRequest, lookup_id: int) -> HttpResponse:
    """One big input; every record whose field matches, with the lookup's columns."""
    found = access_lookup(request.membership, lookup_id)
    config = _config(
        request,
        lookup_id=found.pk,
        app_id=found.app_id,
        form_id=found.form_id,
        query=request.GET.get("q", "")[:200],
    )
    return _page(request, "lowcode/lookup.html", config, lookup=found, app=found.app)


@org_page
@require_GET
def approvals(request: OrgRequest) -> HttpResponse:
    """The approval inbox: to do, done, submitted by me, CC."""
    box = request.GET.get("box", "todo")
    if box not in ("todo", "done", "submitted", "cc"):
        box = "todo"
    raw = request.GET.get("open", "")
    config = _config(
        request,
        box=box,
        open=int(raw) if raw.isdigit() and 0 < int(raw) < 2**63 else None,
        home_url=reverse("lowcode:apps", args=[request.org.pk]),
    )
    return _page(request, "lowcode/approvals.html", config)
