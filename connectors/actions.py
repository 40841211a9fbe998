"""Every connector write: connections (with encrypted secrets), destinations, runs.

``check_*`` validates and authorises; ``do_*`` writes. Managing connections needs the
``connectors.connection.manage`` operation (admins by default).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

# No type stubs are installed for jsonschema.
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

from connectors.models import Connection, Destination, SyncRun
from connectors.registries import ConnectorError, ConnectorType, connector_registry
from core.audit import record_audit
from core.crypto import decrypt, encrypt
from core.errors import Conflict, ValidationFailed
from core.models import Membership
from core.permissions import check_permission

_SALT, _INFO = b"tack.connectors", b"connection secrets at rest"
MASK = "********"
MIN_INTERVAL_MINUTES = 5


# --- secrets ---------------------------------------------------------------------------


def encrypt_secrets(values: dict[str, Any]) -> str:
    return encrypt(json.dumps(values), salt=_SALT, info=_INFO) if values else ""


def decrypt_secrets(stored: str) -> dict[str, Any]:
    if not stored:
        return {}
    loaded: dict[str, Any] = json.loads(decrypt(stored, salt=_SALT, info=_INFO))
    return loaded


def full_config(connection: Connection) -> dict[str, Any]:
    """The configuration the connector needs: plain settings plus decrypted secrets."""
    return {**connection.config, **decrypt_secrets(connection.secrets)}


def masked_config(connection: Connection) -> dict[str, Any]:
    """What the API and UI show: secrets replaced by a mask (and only if set)."""
    secrets = decrypt_secrets(connection.secrets)
    return {**connection.config, **dict.fromkeys(secrets, MASK)}


# --- connections ----------------------------------------------------------------------


def connector_type(name: Any) -> ConnectorType:
    if not isinstance(name, str) or name not in connector_registry:
        raise ValidationFailed(
            _("Unknown connector type."), fields={"type": [_("Choose a connector type.")]}
        )
    return connector_registry.get(name)


def check_config(
    connector: ConnectorType, config: Any, *, previous: Connection | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate against the spec; split into (plain, secret). A masked secret keeps its value."""
    if not isinstance(config, dict):
        raise ValidationFailed(_("The configuration must be an object."), fields={"config": []})
    config = dict(config)
    kept = decrypt_secrets(previous.secrets) if previous is not None else {}
    secret_keys = connector.secret_fields()
    for key in secret_keys:
        # The mask, or leaving the key out, keeps the stored secret; "" clears it.
        if (key not in config or config.get(key) == MASK) and key in kept:
            config[key] = kept[key]
    validator = Draft202012Validator(connector.spec(), format_checker=FormatChecker())
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(config):
        path = ".".join(["config", *map(str, error.absolute_path)])
        if error.validator == "required":
            for key in error.validator_value:
                if key not in config:
                    errors.setdefault(f"config.{key}", []).append(_("This field is required."))
            continue
        message = error.message
        if any(str(part) in secret_keys for part in error.absolute_path):
            message = _("Invalid value.")  # never echo a secret back
        errors.setdefault(path, []).append(message)
    if errors:
        raise ValidationFailed(_("The configuration is not valid."), fields=errors)
    plain = {k: v for k, v in config.items() if k not in secret_keys}
    secret = {k: v for k, v in config.items() if k in secret_keys}
    return plain, secret


def _check_schedule(schedule: str, interval_minutes: int | None, cron: str) -> None:
    if schedule not in Connection.Schedule.values:
        raise ValidationFailed(_("Unknown schedule."), fields={"schedule": [_("Invalid.")]})
    if schedule == Connection.Schedule.INTERVAL and (
        interval_minutes is None or not MIN_INTERVAL_MINUTES <= interval_minutes <= 7 * 24 * 60
    ):
        raise ValidationFailed(
            _("Sync every %(min)s minutes to 7 days.") % {"min": MIN_INTERVAL_MINUTES},
            fields={"interval_minutes": [_("Out of range.")]},
        )
    if schedule == Connection.Schedule.CRON:
        from connectors.schedule import next_cron_time

        try:
            next_cron_time(cron, timezone.now())
        except ValueError as exc:
            raise ValidationFailed(str(exc), fields={"cron": [str(exc)]}) from None


def next_sync_time(connection: Connection) -> Any:
    now = timezone.now()
    if not connection.enabled or connection.schedule == Connection.Schedule.MANUAL:
        return None
    if connection.schedule == Connection.Schedule.INTERVAL:
        return now + timedelta(minutes=connection.interval_minutes or 60)
    from connectors.schedule import next_cron_time

    return next_cron_time(connection.cron, now)


@transaction.atomic
def do_create_connection(
    actor: Membership,
    *,
    type: str,
    config: Any,
    name: str = "",
    schedule: str = Connection.Schedule.MANUAL,
    interval_minutes: int | None = None,
    cron: str = "",
    ip: str | None = None,
) -> Connection:
    check_permission(actor, "connectors.connection.manage")
    connector = connector_type(type)
    plain, secret = check_config(connector, config)
    _check_schedule(schedule, interval_minutes, cron)
    connection = Connection(
        org_id=actor.org_id,
        name=(name or "").strip()[:80] or connector.label,
        type=connector.type,
        config=plain,
        secrets=encrypt_secrets(secret),
        schedule=schedule,
        interval_minutes=interval_minutes,
        cron=cron,
        created_by=actor,
    )
    connection.next_sync_at = next_sync_time(connection)
    connection.save()
    record_audit(actor.org, actor.user, "connectors.connection.create", connection, ip=ip)
    connection.issued = connector.issue_credentials(actor, connection)  # type: ignore[attr-defined]
    return connection


@transaction.atomic
def do_update_connection(
    actor: Membership, connection: Connection, *, ip: str | None = None, **changes: Any
) -> Connection:
    check_permission(actor, "connectors.connection.manage")
    connector = connector_type(connection.type)
    if "config" in changes:
        plain, secret = check_config(connector, changes["config"], previous=connection)
        connection.config, connection.secrets = plain, encrypt_secrets(secret)
        connection.last_check_ok = None
    if "name" in changes:
        connection.name = (changes["name"] or "").strip()[:80] or connection.name
    for key in ("schedule", "interval_minutes", "cron", "enabled"):
        if key in changes:
            setattr(connection, key, changes[key])
    _check_schedule(connection.schedule, connection.interval_minutes, connection.cron)
    connection.next_sync_at = next_sync_time(connection)
    connection.updated_at = timezone.now()
    connection.save()
    record_audit(
        actor.org,
        actor.user,
        "connectors.connection.update",
        connection,
        data={"changed": sorted(changes)},
        ip=ip,
    )
    return connection


@transaction.atomic
def do_delete_connection(
    actor: Membership, connection: Connection, *, ip: str | None = None
) -> None:
    check_permission(actor, "connectors.connection.manage")
    lock_for_delete(Destination.objects.filter(connection=connection))
    record_audit(actor.org, actor.user, "connectors.connection.delete", connection, ip=ip)
    connection.delete()


def lock_for_delete(destinations: QuerySet[Destination]) -> None:
    """Lock destinations about to be deleted (in the deleting transaction).

    A sync page holds its destination (``sync._hold_destination``) until it commits, so
    the deletion waits for the page and then sees, and removes, the links it wrote; the
    next page finds the destination gone and stops. This takes the place of the links'
    database-level foreign keys (see ``SyncedRecord``).
    """
    list(destinations.order_by("pk").select_for_update().values_list("pk", flat=True))


_LIVE_RUN = (SyncRun.State.QUEUED, SyncRun.State.RUNNING, SyncRun.State.RETRYING)


@transaction.atomic
def do_set_destination_enabled(
    actor: Membership, destination: Destination, enabled: bool, *, ip: str | None = None
) -> Destination:
    """Pause or resume one stream's destination (syncs skip disabled ones)."""
    check_permission(actor, "connectors.connection.manage")
    if destination.enabled != enabled:
        destination.enabled = enabled
        destination.save(update_fields=["enabled"])
        name = "connectors.destination.enable" if enabled else "connectors.destination.disable"
        record_audit(actor.org, actor.user, name, destination, ip=ip)
    return destination


@transaction.atomic
def do_delete_destination(
    actor: Membership, destination: Destination, *, ip: str | None = None
) -> None:
    """Stop syncing a stream there. Records already in the form stay; their links and the
    checkpoint go, so a destination made again later starts with a full read."""
    check_permission(actor, "connectors.connection.manage")
    lock_for_delete(Destination.objects.filter(pk=destination.pk))
    live = SyncRun.objects.filter(
        org_id=destination.org_id, connection_id=destination.connection_id, state__in=_LIVE_RUN
    ).exists()
    if live:
        raise Conflict(
            _("A sync of this connection is under way: cancel it or wait for it to finish."),
            code="sync_running",
        )
    record_audit(
        actor.org,
        actor.user,
        "connectors.destination.delete",
        destination,
        data={"stream": destination.stream, "form": destination.form_id},
        ip=ip,
    )
    destination.delete()


def do_check_connection(actor: Membership, connection: Connection) -> Connection:
    """Run the connector's cheap connection test (outside any transaction) and store it."""
    check_permission(actor, "connectors.connection.manage")
    connector = connector_type(connection.type)
    try:
        result = connector.check(full_config(connection))
        ok, message = result.ok, result.message
    except ConnectorError as exc:
        ok, message = False, exc.message
    Connection.objects.filter(pk=connection.pk).update(
        last_check_at=timezone.now(), last_check_ok=ok, last_check_message=message[:500]
    )
    connection.refresh_from_db()
    return connection


# --- destinations ------------------------------------------------------------------------


_TEXTS = {"text", "long_text", "scanned_code"}
#: Which form field types can hold each stream field type's values.
_CAN_HOLD: dict[str, set[str]] = {
    "string": _TEXTS | {"email", "phone", "single_select", "date", "datetime"},
    "integer": _TEXTS | {"number", "member", "department", "relation"},
    "number": _TEXTS | {"number"},
    "boolean": _TEXTS | {"checkbox"},
    "date": _TEXTS | {"date"},
    "datetime": _TEXTS | {"datetime"},
    "array": {"long_text", "multi_select"},
    "object": {"long_text"},
}


def _check_mapping(form: Any, mapping: Any, stream_fields: dict[str, str]) -> dict[str, str]:
    """``mapping`` {form field key: stream field}; ``stream_fields`` {name: type}."""
    if not isinstance(mapping, dict) or not mapping:
        raise ValidationFailed(
            _("Map at least one stream field onto a form field."), fields={"mapping": []}
        )
    version = form.published_version
    if version is None:
        raise Conflict(_("Publish the form first."), code="form_not_published")
    fields = {f["key"]: f for f in version.fields}
    errors: dict[str, list[str]] = {}
    for key, source in mapping.items():
        if key not in fields:
            errors[f"mapping.{key}"] = [_("The form has no such field.")]
        elif source not in stream_fields:
            errors[f"mapping.{key}"] = [_("The stream has no field %(f)s.") % {"f": source}]
        elif fields[key]["type"] in ("serial", "computed", "created_by", "created_at"):
            errors[f"mapping.{key}"] = [_("This field is filled in automatically.")]
        elif fields[key]["type"] not in _CAN_HOLD.get(stream_fields[source], set()):
            errors[f"mapping.{key}"] = [
                _("A %(stream_type)s stream field cannot go into a %(form_type)s field.")
                % {"stream_type": stream_fields[source], "form_type": fields[key]["type"]}
            ]
    if errors:
        raise ValidationFailed(_("The mapping is not valid."), fields=errors)
    return {str(k): str(v) for k, v in mapping.items()}


@transaction.atomic
def do_save_destination(
    actor: Membership,
    connection: Connection,
    *,
    stream: str,
    form: Any = None,
    mapping: Any = None,
    conversation: Any = None,
    card_on: str = Destination.CardOn.NEVER,
    card_title: str = "",
    card_fields: list[str] | None = None,
) -> Destination:
    check_permission(actor, "connectors.connection.manage")
    connector = connector_type(connection.type)
    try:
        streams = {s.name: s for s in connector.discover(full_config(connection))}
    except ConnectorError as exc:
        raise ValidationFailed(exc.message, fields={"stream": [exc.message]}) from None
    if stream not in streams:
        raise ValidationFailed(_("Unknown stream."), fields={"stream": [_("Unknown stream.")]})
    names = {f.name: f.type for f in streams[stream].fields}
    if form is None and conversation is None:
        raise ValidationFailed(
            _("Send the stream into a form, a chat, or both."), fields={"form": [_("Required.")]}
        )
    if card_on not in Destination.CardOn.values:
        raise ValidationFailed(_("Unknown card setting."), fields={"card_on": [_("Invalid.")]})
    if conversation is not None and card_on == Destination.CardOn.NEVER:
        card_on = Destination.CardOn.CREATED
    unknown = [f for f in card_fields or [] if f not in names]
    if unknown:
        raise ValidationFailed(
            _("The stream has no field %(f)s.") % {"f": unknown[0]}, fields={"card_fields": []}
        )
    destination, _created = Destination.objects.get_or_create(
        org_id=actor.org_id, connection=connection, stream=stream
    )
    destination.form = form
    destination.mapping = _check_mapping(form, mapping, names) if form is not None else {}
    destination.conversation = conversation
    destination.card_on = card_on
    destination.card_title = (card_title or "")[:200]
    destination.card_fields = list(card_fields or [])[:10]
    if conversation is not None and destination.bot_id is None:
        from im.bots import do_create_bot

        destination.bot = do_create_bot(
            actor, name=connection.name[:80], conversation_id=conversation.pk
        ).bot
    destination.save()
    return destination


_FIELD_TYPES = {
    "integer": "number",
    "number": "number",
    "boolean": "checkbox",
    "date": "date",
    "datetime": "datetime",
    "string": "text",
}


def do_create_form_from_stream(
    actor: Membership, connection: Connection, *, stream: str, app: Any, name: str = ""
) -> Destination:
    """One step: a form whose fields mirror the stream, published, and the destination."""
    from lowcode.actions import do_create_form, do_publish_form

    check_permission(actor, "connectors.connection.manage")
    connector = connector_type(connection.type)
    found = connector.stream(full_config(connection), stream)
    fields, mapping = [], {}
    for field in found.fields:
        key = "ext_" + "".join(c if c.isalnum() else "_" for c in field.name.lower())[:36]
        if field.type not in _FIELD_TYPES:
            continue
        definition: dict[str, Any] = {
            "key": key,
            "type": _FIELD_TYPES[field.type],
            "label": field.label or field.name,
        }
        indexed = field.name in found.primary_key or field.name == found.cursor_field
        if field.type == "string":
            # Indexed text is capped so the field's B-tree index can always hold it.
            definition["options"] = {"max_length": 500 if indexed else 1000}
        if indexed:
            definition["indexed"] = True
        fields.append(definition)
        mapping[key] = field.name
    with transaction.atomic():
        form = do_create_form(
            actor, app, name=(name or f"{connection.name}: {found.label}")[:80], fields=fields
        )
        do_publish_form(actor, form)
        return do_save_destination(actor, connection, stream=stream, form=form, mapping=mapping)


# --- runs ---------------------------------------------------------------------------------


def do_request_sync(
    actor: Membership | None,
    connection: Connection,
    *,
    trigger: str = SyncRun.Trigger.MANUAL,
    full_refresh: bool = False,
) -> tuple[SyncRun, bool]:
    """Queue a run (``created`` False: one is already live and this joins it)."""
    if actor is not None:
        check_permission(actor, "connectors.connection.manage")
    if not connection.destinations.filter(enabled=True).exists():
        raise Conflict(
            _("Choose where at least one stream goes before syncing."), code="no_destination"
        )
    live = SyncRun.objects.filter(
        org_id=connection.org_id,
        connection=connection,
        state__in=[SyncRun.State.QUEUED, SyncRun.State.RUNNING, SyncRun.State.RETRYING],
    ).first()
    if live is not None:
        return live, False
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                org_id=connection.org_id,
                connection=connection,
                trigger=trigger,
                full_refresh=full_refresh,
                requested_by=actor,
            )
    except IntegrityError:
        return SyncRun.objects.get(
            org_id=connection.org_id,
            connection=connection,
            state__in=[SyncRun.State.QUEUED, SyncRun.State.RUNNING, SyncRun.State.RETRYING],
        ), False
    from connectors.tasks import run_sync_task

    transaction.on_commit(lambda: run_sync_task.delay(run.pk))
    return run, True


def do_cancel_run(actor: Membership, run: SyncRun) -> SyncRun:
    check_permission(actor, "connectors.connection.manage")
    if run.state not in (SyncRun.State.QUEUED, SyncRun.State.RUNNING, SyncRun.State.RETRYING):
        raise Conflict(_("This run has already finished."), code="run_finished")
    SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    if run.state != SyncRun.State.RUNNING:
        SyncRun.objects.filter(pk=run.pk).update(
            state=SyncRun.State.CANCELLED, finished_at=timezone.now()
        )
    run.refresh_from_db()
    return run


def do_run_connector_action(
    actor: Membership, connection: Connection, action: str, params: Any
) -> dict[str, Any]:
    """Run one of the connector's write actions in the external system (audited)."""
    check_permission(actor, "connectors.connection.manage")
    connector = connector_type(connection.type)
    spec = next((a for a in connector.actions if a.name == action), None)
    if spec is None:
        raise ValidationFailed(
            _("This connector has no such action."), fields={"action": [_("Unknown action.")]}
        )
    errors = {
        ".".join(["params", *map(str, e.absolute_path)]): [e.message]
        for e in Draft202012Validator(spec.params_schema).iter_errors(params)
    }
    if errors:
        raise ValidationFailed(_("The action's parameters are not valid."), fields=errors)
    result = connector.run_action(full_config(connection), action, params)
    record_audit(
        actor.org,
        actor.user,
        "connectors.action",
        connection,
        data={"action": action, "result": {k: result[k] for k in ("id", "number") if k in result}},
    )
    return result
