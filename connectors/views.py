"""Connector web pages: shells that ``connectors.js`` fills from the connectors API.

Like the low-code pages, a view only resolves the organisation (``org_page``), checks the
admin permission (a 403 page for others) and the connection (another organisation's id is
a 404), then passes the script its configuration and the translated interface strings.
The script reuses the low-code helpers (``lowcode.js``: API client, DOM builders, toasts)
and talks to ``/api/v1/orgs/<org_id>/connectors/`` with the session cookie and CSRF header.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from connectors.access import access_connection
from connectors.models import SyncRun
from connectors.sync import MAX_ATTEMPTS
from core.permissions import check_permission
from core.views import OrgRequest, org_page
from lowcode.views import interface_strings as lowcode_strings

MANAGE = "connectors.connection.manage"


def interface_strings() -> dict[str, str]:
    """Everything the connector pages show, translated for the current language."""
    return {
        **lowcode_strings(),
        # catalogue and connections
        "add_connection": _("Add connection"),
        "choose_connector": _("Choose a connector"),
        "built_in": _("Built-in"),
        "plugin_from": _("Plugin: %(origin)s"),
        "push_connector": _("Receives pushed records"),
        "no_connections": _("No connections yet"),
        "no_connections_hint": _(
            "Connect an ERP, a CRM or a database to bring its records into your apps and chats."
        ),
        "connection_name": _("Connection name"),
        "connection_created": _("Connection created."),
        "connection_saved": _("Connection saved."),
        "connection_deleted": _("Connection deleted."),
        "confirm_delete_connection": _(
            "Delete this connection? Its destinations and run history go with it; "
            "records already synced stay in their forms."
        ),
        "settings": _("Settings"),
        "secret_unchanged": _("••••••• (unchanged)"),
        "secret_once": _("Copy the signing secret now: it is shown only once."),
        "signing_secret": _("Signing secret"),
        "webhook_url": _("Webhook URL"),
        "webhook_help": _(
            "Senders POST JSON records to these URLs, signed with the signing secret "
            "(headers X-Tack-Timestamp and X-Tack-Signature)."
        ),
        "rotate_secret": _("New signing secret"),
        "confirm_rotate": _("Make a new signing secret? The current one stops working at once."),
        "receiving": _("Receiving"),
        "open_connection": _("Open connection"),
        "create_connection": _("Create connection"),
        "secret_help": _("Stored encrypted; leave as is to keep the current value."),
        "test_connection": _("Test connection"),
        "testing": _("Testing…"),
        "health_ok": _("Healthy"),
        "health_failed": _("Failing"),
        "health_unknown": _("Not tested"),
        "checked_at": _("Checked %(when)s"),
        "schedule": _("Schedule"),
        "schedule_manual": _("Manually"),
        "schedule_interval": _("Every N minutes"),
        "schedule_cron": _("Cron expression"),
        "every_n_minutes": _("Every %(n)s min"),
        "interval_minutes": _("Minutes between syncs"),
        "cron": _("Cron expression"),
        "cron_help": _("Five fields: minute hour day month weekday, e.g. 0 6 * * 1-5"),
        "next_sync": _("Next sync %(when)s"),
        "enabled": _("Enabled"),
        "disabled": _("Disabled"),
        "enabled_label": _("Syncs are enabled"),
        "type": _("Type"),
        "health": _("Health"),
        "last_run": _("Last run"),
        "never_run": _("Never synced"),
        "open": _("Open"),
        "back": _("Back"),
        "create": _("Create"),
        "item_n": _("Item %(n)s"),
        # runs
        "sync_now": _("Sync now"),
        "full_refresh": _("Full refresh"),
        "sync_started": _("Sync started."),
        "sync_already": _("A sync is already running."),
        "cancel_run": _("Cancel run"),
        "cancel_requested": _("Cancellation requested."),
        "runs": _("Runs"),
        "no_runs": _("No runs yet. Press “Sync now” to bring the records in."),
        "no_pushes": _("Nothing received yet."),
        "run_queued": _("Queued"),
        "run_running": _("Running"),
        "run_retrying": _("Retrying"),
        "run_succeeded": _("Succeeded"),
        "run_failed": _("Failed"),
        "run_cancelled": _("Cancelled"),
        "counts": _("%(read)s read · %(created)s new · %(updated)s updated · %(failed)s failed"),
        "read_n": _("%(n)s read"),
        "stream_done": _("done"),
        "retrying_in": _("retrying in %(when)s (attempt %(attempt)s of %(max)s)"),
        "retrying_soon": _("retrying now (attempt %(attempt)s of %(max)s)"),
        "record_errors": _("Record errors (%(n)s)"),
        "started": _("Started"),
        "duration": _("Duration"),
        "state": _("State"),
        "result": _("Result"),
        "trigger": _("Trigger"),
        "seconds": _("%(n)s s"),
        "minutes": _("%(n)s min"),
        "just_now": _("just now"),
        "ago": _("%(when)s ago"),
        "in_time": _("in %(when)s"),
        "unit_s": _("%(n)s s"),
        "unit_m": _("%(n)s min"),
        "unit_h": _("%(n)s h"),
        "unit_d": _("%(n)s d"),
        # streams and destinations
        "streams": _("Streams"),
        "streams_error": _("The streams could not be listed: %(message)s"),
        "no_streams": _("This connector offers no streams."),
        "n_fields": _("%(n)s fields"),
        "incremental": _("Incremental"),
        "full_only": _("Full reads only"),
        "no_destination": _("Not synced anywhere yet."),
        "create_form": _("Create a form from this stream"),
        "create_form_help": _(
            "A new published form with one field per stream field, filled by every sync."
        ),
        "map_form": _("Map onto an existing form"),
        "app": _("App"),
        "pick_app": _("Choose an app…"),
        "no_apps_to_pick": _("No apps yet: create an app first."),
        "form_name_optional": _("Form name (optional)"),
        "form_created_from_stream": _("Form created; the next sync fills it."),
        "pick_form": _("Choose a form…"),
        "mapping": _("Field mapping"),
        "mapping_help": _("For each form field, the stream field that fills it."),
        "not_mapped": _("— not mapped —"),
        "type_hint_ok": _("types match"),
        "type_hint_warn": _("%(from)s into %(to)s: values are converted"),
        "destination_saved": _("Destination saved."),
        "pause": _("Pause"),
        "resume": _("Resume"),
        "paused": _("Paused"),
        "destination_paused": _("Paused: syncs skip this stream until you resume it."),
        "destination_resumed": _("Resumed: the next sync includes this stream."),
        "remove_destination": _("Stop syncing here"),
        "confirm_remove_destination": _(
            "Stop syncing this stream into the form? Records already in the form stay; "
            "syncing it again later starts with a full read."
        ),
        "destination_removed": _("This stream is no longer synced there."),
        "syncs_into": _("Syncs into"),
        "see_records": _("See records"),
        "chat_cards": _("Chat cards"),
        "chat_cards_help": _("Post a card in a conversation when a record arrives or changes."),
        "conversation": _("Conversation"),
        "pick_conversation": _("Choose a conversation…"),
        "card_on": _("When"),
        "card_on_never": _("Never"),
        "card_on_created": _("New records"),
        "card_on_changed": _("New and changed records"),
        "card_title": _("Card title"),
        "card_title_help": _("Use {field} placeholders, e.g. New customer {name}"),
        "card_fields": _("Fields to show (up to 10)"),
        "save_cards": _("Save chat cards"),
        "cards_need_destination": _("Create or map a form first."),
        # actions
        "actions": _("Actions"),
        "no_actions": _("This connector has no actions."),
        "action": _("Action"),
        "run_action": _("Run action"),
        "running": _("Running…"),
        "action_done": _("Action finished."),
        "json_invalid": _("Not valid JSON: %(message)s"),
        # scenarios
        "scenarios": _("Scenarios"),
        "new_scenario": _("New scenario"),
        "no_scenarios": _("No scenarios yet"),
        "no_scenarios_hint": _(
            "A scenario chains connector actions behind one endpoint of your own."
        ),
        "scenario_saved": _("Scenario saved."),
        "scenario_deleted": _("Scenario deleted."),
        "confirm_delete_scenario": _("Delete this scenario and its tokens?"),
        "name": _("Name"),
        "slug": _("Address name"),
        "slug_help": _("Part of the endpoint URL; letters, digits and dashes."),
        "input_schema": _("Input schema (JSON Schema)"),
        "steps": _("Steps"),
        "step_id": _("Step id"),
        "params_json": _("Parameters (JSON)"),
        "params_hint": _(
            "Use {{input.name}} for the caller's input and {{steps.<id>.<field>}} "
            "for an earlier step's result."
        ),
        "add_step": pgettext("scenario", "Add step"),
        "output_json": _("Output (JSON)"),
        "timeout": _("Time budget (seconds)"),
        "endpoint": _("Endpoint"),
        "openapi": _("OpenAPI document"),
        "tokens": _("Tokens"),
        "no_tokens": _("No tokens yet."),
        "token_name": _("Token name"),
        "new_token": _("New token"),
        "token_created": _("Copy this token now: it is shown only once."),
        "copy": _("Copy"),
        "copied": _("Copied."),
        "revoked": _("Revoked"),
        "revoke": _("Revoke"),
        "confirm_revoke_token": _(
            "Revoke this token? Anything calling the scenario with it stops working at once."
        ),
        "token_revoked": _("Token revoked."),
        "expires": _("Expires %(when)s"),
        "last_used": _("Last used %(when)s"),
        "never_used": _("Never used"),
        "recent_runs": _("Recent runs"),
        "ok": _("OK"),
        "error": _("Error"),
        "pick_connection": _("Choose a connection…"),
        "connection": _("Connection"),
        "no_scenario_runs": _("Not called yet."),
        "pick_action": _("Choose an action…"),
        "select_scenario": _("Choose a scenario on the left, or create one."),
    }


def _config(request: OrgRequest, **extra: Any) -> dict[str, Any]:
    org_id = request.org.pk
    member, user = request.membership, request.user
    config: dict[str, Any] = {
        "org_id": org_id,
        "api": f"/api/v1/orgs/{org_id}/",
        "lowcode_api": f"/api/v1/orgs/{org_id}/lowcode/",
        "connectors_api": f"/api/v1/orgs/{org_id}/connectors/",
        "pages": f"/o/{org_id}/connectors/",
        "apps_pages": f"/o/{org_id}/apps/",
        "me": {"member_id": member.pk, "user_id": user.pk, "display_name": user.display_name},
        "strings": interface_strings(),
        "max_attempts": MAX_ATTEMPTS,
        "triggers": {value: str(label) for value, label in SyncRun.Trigger.choices},
    }
    config.update(extra)
    return config


def _page(
    request: OrgRequest, template: str, config: dict[str, Any], **context: Any
) -> HttpResponse:
    return render(request, template, {"lc_config": config, **context})


@org_page
@require_GET
def connections(request: OrgRequest) -> HttpResponse:
    """The organisation's connections, their health and last runs; add one from the catalogue."""
    check_permission(request.membership, MANAGE)
    config = _config(request, page="connections")
    return _page(request, "connectors/connections.html", config, cx_tab="connections")


@org_page
@require_GET
def connection_detail(request: OrgRequest, connection_id: int) -> HttpResponse:
    """One connection: settings, streams and their destinations, runs, actions."""
    connection = access_connection(request.membership, connection_id)
    config = _config(request, page="connection", connection_id=connection.pk)
    return _page(
        request, "connectors/connection.html", config, connection=connection, cx_tab="connections"
    )


@org_page
@require_GET
def scenarios(request: OrgRequest) -> HttpResponse:
    """Scenario APIs: definitions, tokens and recent runs."""
    check_permission(request.membership, MANAGE)
    config = _config(
        request,
        page="scenarios",
        openapi_url=f"/api/v1/orgs/{request.org.pk}/connectors/scenarios/openapi/",
    )
    return _page(request, "connectors/scenarios.html", config, cx_tab="scenarios")
