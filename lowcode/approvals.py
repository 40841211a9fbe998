"""Approval flows: the definition, approver resolution, the state machine and its actions.

A form may have one flow (``ApprovalFlow``). Creating a record of a form whose flow is
enabled starts an ``ApprovalInstance`` (the definition is snapshotted, so editing the
flow never changes running approvals). Imported records do not start one.

Definition (checked by ``check_flow_definition``, JSON Schema ``FLOW_SCHEMA``)::

    {
      "nodes": [
        {
          "id": "n1",                       # unique within the flow
          "name": "Manager",
          "approvers": <approver spec>,
          "mode": "sequential" | "all" | "any",   # default sequential
          "condition": {"field": "amount", "op": "gt", "value": 1000000},  # optional
          "cc": <approver spec>,            # optional: CC'd when the node is reached
          "time_limit_hours": 24            # optional: reminders after this long
        }
      ],
      "cc": <approver spec>                 # optional: CC'd when the flow is approved
    }

Approver specs: ``{"kind": "members", "members": [membership ids]}``,
``{"kind": "role", "role": "owner"|"admin"|"member"|"guest"}``, ``{"kind": "manager"}``
(the manager of the submitter's department; when the submitter manages it, the parent
department's manager) and ``{"kind": "nth_manager", "level": N}`` (N levels up that
chain; departments without another manager are skipped). Only active members count.

Conditions compare the record's value of a published field: ``gt gte lt lte eq ne in``
(``in`` takes a list). Money compares its amount in minor units (fen, cents): "more
than 10,000.00" is ``{"op": "gt", "value": 1000000}``. A missing value never matches
(except ``ne``), except that an unticked checkbox (stored as absent) is ``false``;
checkbox conditions take ``true``/``false`` (or the strings ``"true"``/``"false"``). A
node whose condition is false is skipped (step ``skip``).

Nobody approves their own submission: the submitter is left out of every node's
approvers, cannot be handed a task (``do_transfer``) and may not approve a task they
somehow hold. A member approves at most once per node, and a task cannot be
transferred to anyone who already holds (or held) a task in that node.

A node whose approvers resolve to nobody (no department manager, a public-link
submission without a submitter, or only the submitter) is never approved
automatically. It falls back (step ``fallback``, whose comment and ``data.reason`` say
why) to the app's managers (``manage`` level: the members, roles and departments the
app grants it, its creator, and org owners and admins), except the submitter, who then
approve it as an ``any`` node (the first approval decides). When the app has no such
manager, the org's owners and admins are asked; when there is nobody at all, the node
stays pending without approvers (``data.to`` is ``"nobody"``) until the submitter
withdraws it.

Modes: ``sequential`` (one approver at a time, in order; the others ``waiting``),
``all`` (countersign: everyone must approve) and ``any`` (or-sign: the first approval
completes the node and cancels the other tasks). A rejection anywhere rejects the
instance and cancels every open task. Every action writes an ``ApprovalStep``.

State machine (``INSTANCE_TRANSITIONS``, ``TASK_TRANSITIONS``): an action that is not
allowed in the current state raises ``Conflict`` (409, code ``invalid_transition``).

Records: while its approval is pending a record cannot be edited or deleted by anyone
(409 ``approval_locked``). Once approved, only an app manager who is not the submitter
may change or delete it; that clears the record's ``approval_state`` and writes an
``edit_after_approval`` step on the approval.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

# No type stubs are installed for jsonschema.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from core.audit import record_audit
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Department, DepartmentMember, Membership
from core.permissions import role_permissions
from lowcode import hooks
from lowcode.access import app_levels, check_app_level
from lowcode.models import (
    App,
    ApprovalCc,
    ApprovalFlow,
    ApprovalInstance,
    ApprovalStep,
    ApprovalTask,
    Form,
    Record,
)

logger = logging.getLogger("tack.approvals")

MAX_NODES = 20
MAX_REMINDERS = 3
URGE_INTERVAL = timedelta(hours=1)
COMMENT_MAX = 1000
MAX_ID = 2**63 - 1  # ids are 64-bit: a larger one must be a 400, not a database error

Instance = ApprovalInstance.State
Task = ApprovalTask.State

# --- the definition ------------------------------------------------------------------

_APPROVERS: dict[str, Any] = {
    "type": "object",
    "required": ["kind"],
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": ["members", "role", "manager", "nth_manager"]},
        "members": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "uniqueItems": True,
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        },
        "role": {"enum": list(Membership.Role.values)},
        "level": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "allOf": [
        {"if": {"properties": {"kind": {"const": "members"}}}, "then": {"required": ["members"]}},
        {"if": {"properties": {"kind": {"const": "role"}}}, "then": {"required": ["role"]}},
        {
            "if": {"properties": {"kind": {"const": "nth_manager"}}},
            "then": {"required": ["level"]},
        },
    ],
}
OPS = ("gt", "gte", "lt", "lte", "eq", "ne", "in")
_CONDITION: dict[str, Any] = {
    "type": "object",
    "required": ["field", "op", "value"],
    "additionalProperties": False,
    "properties": {
        "field": {"type": "string", "minLength": 1, "maxLength": 64},
        "op": {"enum": list(OPS)},
        "value": {},
    },
}
_NODE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "approvers"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 40},
        "name": {"type": "string", "minLength": 1, "maxLength": 80},
        "approvers": _APPROVERS,
        "mode": {"enum": ["sequential", "all", "any"]},
        "condition": _CONDITION,
        "cc": _APPROVERS,
        "time_limit_hours": {"type": "integer", "minimum": 1, "maximum": 720},
    },
}
FLOW_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Tack approval flow",
    "type": "object",
    "required": ["nodes"],
    "additionalProperties": False,
    "properties": {
        "nodes": {"type": "array", "minItems": 1, "maxItems": MAX_NODES, "items": _NODE},
        "cc": _APPROVERS,
    },
}
Draft202012Validator.check_schema(FLOW_SCHEMA)
_validator = Draft202012Validator(FLOW_SCHEMA)


def _specs(definition: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for index, node in enumerate(definition["nodes"]):
        yield f"definition.nodes.{index}.approvers", node["approvers"]
        if "cc" in node:
            yield f"definition.nodes.{index}.cc", node["cc"]
    if "cc" in definition:
        yield "definition.cc", definition["cc"]


def check_flow_definition(form: Form, definition: Any) -> dict[str, Any]:
    """The definition, checked against the schema, the organisation and the form's fields."""
    errors: dict[str, list[str]] = {}
    for error in _validator.iter_errors(definition):
        path = ".".join(["definition", *map(str, error.absolute_path)])
        errors.setdefault(path, []).append(error.message)
    if errors:
        raise ValidationFailed(_("The approval flow is not valid."), fields=errors)
    ids = [node["id"] for node in definition["nodes"]]
    for index, node_id in enumerate(ids):
        if ids.index(node_id) != index:
            errors[f"definition.nodes.{index}.id"] = [_("Node ids must be unique.")]
    for where, spec in _specs(definition):
        if spec["kind"] == "members":
            found = set(
                Membership.objects.filter(org_id=form.org_id, pk__in=spec["members"]).values_list(
                    "pk", flat=True
                )
            )
            missing = sorted(set(spec["members"]) - found)
            if missing:
                errors[f"{where}.members"] = [
                    _("Unknown member ids: %(ids)s.") % {"ids": ", ".join(map(str, missing))}
                ]
    fields = {
        f["key"]: f for f in (form.published_version.fields if form.published_version else [])
    }
    for index, node in enumerate(definition["nodes"]):
        condition = node.get("condition")
        if condition is None:
            continue
        where = f"definition.nodes.{index}.condition"
        field = fields.get(condition["field"])
        if field is None:
            errors[f"{where}.field"] = [_("Not a published field of this form.")]
            continue
        problem = _condition_problem(field, condition["op"], condition["value"])
        if problem:
            errors[f"{where}.value"] = [problem]
    if errors:
        raise ValidationFailed(_("The approval flow is not valid."), fields=errors)
    return dict(definition)


def _condition_problem(field: dict[str, Any], op: str, value: Any) -> str | None:
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > 100:
            return _("Use a list of 1 to 100 values.")
        values = value
    else:
        values = [value]
    if field["type"] == "checkbox":
        if op not in ("eq", "ne", "in") or any(_flag(item) is None for item in values):
            return _("Compare a checkbox with true or false.")
        return None
    numeric = field["type"] in ("number", "money")
    for item in values:
        if numeric and _number(item) is None:
            return (
                _("Compare money in minor units (fen, cents), as a whole number.")
                if field["type"] == "money"
                else _("Use a number.")
            )
        if not numeric and not isinstance(item, str | int | float | bool):
            return _("Use a text, a number or a boolean.")
    if (
        not numeric
        and op in ("gt", "gte", "lt", "lte")
        and field["type"]
        not in (
            "date",
            "datetime",
            "text",
            "serial",
        )
    ):
        return _("This field cannot be compared by size.")
    return None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, dict):  # a money value
        value = value.get("amount")
    if isinstance(value, int | float | str):
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return None
        return number if number.is_finite() else None
    return None


def _flag(value: Any) -> bool | None:
    """A checkbox value or condition operand as a boolean (None: not a boolean)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def condition_holds(fields: list[dict[str, Any]], data: dict[str, Any], condition: Any) -> bool:
    """Whether a node's condition is true for a record's ``data``."""
    if not condition:
        return True
    field = next((f for f in fields if f["key"] == condition["field"]), None)
    op: str = condition["op"]
    expected = condition["value"]
    actual = data.get(condition["field"])
    if field is not None and field["type"] == "checkbox":
        # An unticked box is stored as absent: it is false, not missing.
        ticked = bool(_flag(actual)) if actual is not None else False
        wanted = [
            _flag(v)
            for v in (expected if op == "in" and isinstance(expected, list) else [expected])
        ]
        if op == "in":
            return ticked in wanted
        if op in ("eq", "ne") and wanted[0] is not None:
            return (ticked == wanted[0]) == (op == "eq")
        return False
    if actual is None or actual == "" or actual == []:
        return op == "ne"
    if field is not None and field["type"] in ("number", "money"):
        left = _number(actual)
        targets = [_number(v) for v in (expected if op == "in" else [expected])]
        if left is None:
            return op == "ne"
        rights = [t for t in targets if t is not None]
        if not rights:
            return False
        return _compare(left, op, rights)
    if isinstance(actual, list):  # multi-select: any chosen value matches
        if op == "in":
            return bool(set(map(str, actual)) & set(map(str, expected)))
        if op in ("eq", "ne"):
            return (str(expected) in map(str, actual)) == (op == "eq")
        return False
    if op == "in":
        return str(actual) in map(str, expected)
    if op in ("eq", "ne"):
        return (str(actual) == str(expected)) == (op == "eq")
    return _compare(str(actual), op, [str(expected)])


def _compare(left: Any, op: str, rights: list[Any]) -> bool:
    right = rights[0]
    result: bool
    if op == "gt":
        result = left > right
    elif op == "gte":
        result = left >= right
    elif op == "lt":
        result = left < right
    elif op == "lte":
        result = left <= right
    elif op == "eq":
        result = left == right
    elif op == "ne":
        result = left != right
    else:
        result = left in rights
    return result


# --- approvers -------------------------------------------------------------------------


def _active(org_id: int) -> Any:
    return Membership.objects.filter(org_id=org_id, status=Membership.Status.ACTIVE)


def manager_levels(submitter: Membership | None) -> list[list[Membership]]:
    """The submitter's managers, nearest first: level 1 is ``[0]``.

    Starts at the submitter's first department; a department the submitter manages, or
    that has no active manager, is skipped on the way up.
    """
    if submitter is None:
        return []
    link = (
        DepartmentMember.objects.filter(org_id=submitter.org_id, membership=submitter)
        .select_related("department")
        .order_by("id")
        .first()
    )
    department: Department | None = link.department if link else None
    levels: list[list[Membership]] = []
    seen: set[int] = set()
    while department is not None and department.pk not in seen and len(seen) < 50:
        seen.add(department.pk)
        managers = list(
            _active(submitter.org_id)
            .filter(department_links__department=department, department_links__is_manager=True)
            .select_related("user")
            .order_by("id")
        )
        if managers and submitter.pk not in {m.pk for m in managers}:
            levels.append(managers)
        department = department.parent
    return levels


def resolve_approvers(
    spec: dict[str, Any], org_id: int, submitter: Membership | None
) -> list[Membership]:
    """The active members an approver spec names, in order, without duplicates."""
    kind = spec["kind"]
    if kind == "members":
        found = {
            m.pk: m for m in _active(org_id).filter(pk__in=spec["members"]).select_related("user")
        }
        return [found[pk] for pk in spec["members"] if pk in found]
    if kind == "role":
        return list(
            _active(org_id).filter(role=spec["role"]).select_related("user").order_by("id")[:100]
        )
    level = 1 if kind == "manager" else int(spec.get("level", 1))
    levels = manager_levels(submitter)
    return levels[level - 1] if len(levels) >= level else []


# --- the state machine -----------------------------------------------------------------

#: (instance state, action) → the states the instance may be in afterwards.
INSTANCE_TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (Instance.PENDING, "approve"): frozenset({Instance.PENDING, Instance.APPROVED}),
    (Instance.PENDING, "reject"): frozenset({Instance.REJECTED}),
    (Instance.PENDING, "transfer"): frozenset({Instance.PENDING}),
    (Instance.PENDING, "withdraw"): frozenset({Instance.WITHDRAWN}),
    (Instance.PENDING, "urge"): frozenset({Instance.PENDING}),
    (Instance.PENDING, "remind"): frozenset({Instance.PENDING}),
}
#: (task state, action) → the task's next state.
TASK_TRANSITIONS: dict[tuple[str, str], str] = {
    (Task.WAITING, "activate"): Task.PENDING,
    (Task.WAITING, "cancel"): Task.CANCELLED,
    (Task.PENDING, "approve"): Task.APPROVED,
    (Task.PENDING, "reject"): Task.REJECTED,
    (Task.PENDING, "transfer"): Task.TRANSFERRED,
    (Task.PENDING, "cancel"): Task.CANCELLED,
}
OPEN_TASK_STATES = (Task.WAITING, Task.PENDING)


def _invalid(message: str) -> Conflict:
    return Conflict(message, code="invalid_transition")


def check_instance_transition(instance: ApprovalInstance, action: str) -> None:
    if (instance.state, action) not in INSTANCE_TRANSITIONS:
        raise _invalid(
            _("This approval is %(state)s; it cannot be %(action)s now.")
            % {
                "state": instance.get_state_display().lower(),
                "action": str(_ACTION_WORDS.get(action, action)),
            }
        )


# "… it cannot be %(action)s": the action as the sentence needs it, translated.
_ACTION_WORDS = {
    "approve": pgettext_lazy("it cannot be …", "approved"),
    "reject": pgettext_lazy("it cannot be …", "rejected"),
    "transfer": pgettext_lazy("it cannot be …", "transferred"),
    "withdraw": pgettext_lazy("it cannot be …", "withdrawn"),
    "urge": pgettext_lazy("it cannot be …", "urged"),
    "remind": pgettext_lazy("it cannot be …", "reminded"),
}


def _move_task(task: ApprovalTask, action: str) -> None:
    state = TASK_TRANSITIONS.get((task.state, action))
    if state is None:
        raise _invalid(
            _("This task is %(state)s; it cannot be %(action)s.")
            % {
                "state": task.get_state_display().lower(),
                "action": str(_ACTION_WORDS.get(action, action)),
            }
        )
    task.state = state


def _set_instance_state(instance: ApprovalInstance, action: str, state: str) -> None:
    assert state in INSTANCE_TRANSITIONS[(instance.state, action)], (instance.state, action, state)
    instance.state = state
    if state != Instance.PENDING:
        instance.finished_at = timezone.now()
    instance.save(update_fields=["state", "finished_at", "current_node"])
    Record.objects.filter(pk=instance.record_id).update(approval_state=state)


def _step(
    instance: ApprovalInstance,
    action: str,
    actor: Membership | None,
    *,
    node_index: int | None = None,
    comment: str = "",
    data: dict[str, Any] | None = None,
) -> ApprovalStep:
    return ApprovalStep.objects.create(
        org_id=instance.org_id,
        instance=instance,
        actor=actor,
        action=action,
        node_index=node_index,
        comment=comment[:COMMENT_MAX],
        data=data or {},
    )


# --- flows -----------------------------------------------------------------------------


@transaction.atomic
def do_save_flow(
    actor: Membership, form: Form, definition: Any, is_enabled: bool = True
) -> ApprovalFlow:
    """Create or replace the form's flow. Running approvals keep the flow they started with."""
    check_app_level(actor, form.app, "manage")
    definition = check_flow_definition(form, definition)
    flow = ApprovalFlow.objects.select_for_update().filter(org_id=form.org_id, form=form).first()
    if flow is None:
        flow = ApprovalFlow(org_id=form.org_id, form=form)
    flow.definition = definition
    flow.is_enabled = bool(is_enabled)
    flow.updated_by = actor
    flow.updated_at = timezone.now()
    flow.save()
    record_audit(
        actor.org,
        actor.user,
        "lowcode.approval_flow.save",
        form,
        data={"is_enabled": flow.is_enabled, "nodes": len(definition["nodes"])},
    )
    return flow


def flow_of(form: Form) -> ApprovalFlow | None:
    return ApprovalFlow.objects.filter(org_id=form.org_id, form=form).first()


# --- starting and moving through nodes -------------------------------------------------


def do_start_approval(submitter: Membership | None, record: Record) -> ApprovalInstance | None:
    """Start the form's enabled flow for a new record (``hooks.RECORD_CREATED``)."""
    flow = ApprovalFlow.objects.filter(
        org_id=record.org_id, form_id=record.form_id, is_enabled=True
    ).first()
    if flow is None or not flow.definition.get("nodes"):
        return None
    existing = ApprovalInstance.objects.filter(org_id=record.org_id, record=record).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        instance = ApprovalInstance.objects.create(
            org_id=record.org_id,
            record=record,
            flow=flow,
            definition=flow.definition,
            submitter=submitter,
        )
        record.approval_state = Instance.PENDING
        Record.objects.filter(pk=record.pk).update(approval_state=Instance.PENDING)
        _step(instance, "submit", submitter)
        _enter_nodes(instance, 0)
    return instance


def _nodes(instance: ApprovalInstance) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = instance.definition.get("nodes", [])
    return nodes


def _record_fields(instance: ApprovalInstance) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    record = Record.objects.select_related("version").get(pk=instance.record_id)
    return list(record.version.fields), dict(record.data)


def _due(node: dict[str, Any]) -> Any:
    hours = node.get("time_limit_hours")
    return timezone.now() + timedelta(hours=hours) if hours else None


def _enter_nodes(instance: ApprovalInstance, start: int) -> None:
    """Enter node ``start`` or the first later node that applies; finish after the last."""
    fields, data = _record_fields(instance)
    nodes = _nodes(instance)
    for index in range(start, len(nodes)):
        node = nodes[index]
        instance.current_node = index
        if not condition_holds(fields, data, node.get("condition")):
            _step(instance, "skip", None, node_index=index, data={"reason": "condition"})
            continue
        if node.get("cc"):
            _add_ccs(
                instance, resolve_approvers(node["cc"], instance.org_id, instance.submitter), index
            )
        resolved = resolve_approvers(node["approvers"], instance.org_id, instance.submitter)
        # Nobody approves their own submission.
        approvers = [m for m in resolved if m.pk != instance.submitter_id]
        mode = node.get("mode", "sequential")
        if not approvers:
            approvers = _fall_back(instance, node, index, only_submitter=bool(resolved))
            mode = "any"
            if not approvers:  # nobody at all: the node waits (the submitter may withdraw)
                instance.save(update_fields=["current_node"])
                return
        due = _due(node)
        tasks = ApprovalTask.objects.bulk_create(
            [
                ApprovalTask(
                    org_id=instance.org_id,
                    instance=instance,
                    node_index=index,
                    position=position,
                    approver=approver,
                    state=Task.WAITING if mode == "sequential" and position else Task.PENDING,
                    due_at=due if not (mode == "sequential" and position) else None,
                )
                for position, approver in enumerate(approvers)
            ]
        )
        instance.save(update_fields=["current_node"])
        for task in tasks:
            if task.state == Task.PENDING:
                _notify_task(task)
        return
    instance.current_node = max(len(nodes) - 1, 0)
    _finish(instance, "approve", Instance.APPROVED, None)


def app_managers(app: App, *, exclude: int | None = None) -> list[Membership]:
    """The active members holding ``manage`` in ``app`` (at most 100), by id.

    The app's ``manage`` grant (roles, members, departments), its creator, and the roles
    allowed to manage every app (org owners and admins unless the org changed that).
    """
    grant = (app.permissions or {}).get("manage") or {}
    admin_roles = [
        role
        for role in Membership.Role.values
        if "lowcode.app.manage_all" in role_permissions(app.org_id, role)
    ]
    who = Q(role__in=[*admin_roles, *grant.get("roles", [])]) | Q(pk__in=grant.get("members", []))
    if app.created_by_id is not None:
        who |= Q(pk=app.created_by_id)
    if grant.get("departments"):
        who |= Q(department_links__department_id__in=grant["departments"])
    candidates = _active(app.org_id).filter(who).distinct().select_related("user").order_by("id")
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude)
    return [m for m in candidates[:200] if "manage" in app_levels(m, app)][:100]


_FALLBACK_REASONS = {
    "no_submitter": pgettext_lazy(
        "approval fallback", "The submission came from a public link: no department manager."
    ),
    "no_manager": pgettext_lazy("approval fallback", "No department manager for the submitter."),
    "only_submitter": pgettext_lazy(
        "approval fallback", "The only approver is the submitter, who cannot approve it."
    ),
    "no_approvers": pgettext_lazy("approval fallback", "No approver could be found for this step."),
}
_FALLBACK_TARGETS = {
    "app_managers": pgettext_lazy("approval fallback", "Sent to the app's managers."),
    "org_admins": pgettext_lazy(
        "approval fallback",
        "The app has no other manager; sent to the organisation's owners and admins.",
    ),
    "nobody": pgettext_lazy(
        "approval fallback",
        "Nobody else can approve it; it stays pending until the submitter withdraws it.",
    ),
}


def _fall_back(
    instance: ApprovalInstance, node: dict[str, Any], index: int, *, only_submitter: bool
) -> list[Membership]:
    """Who approves a node that resolved to nobody but the submitter; writes a ``fallback`` step.

    The app's managers, else the org's owners and admins, always without the submitter;
    possibly nobody. Never an automatic approval.
    """
    if only_submitter:
        reason = "only_submitter"
    elif node["approvers"]["kind"] in ("manager", "nth_manager"):
        reason = "no_submitter" if instance.submitter_id is None else "no_manager"
    else:
        reason = "no_approvers"
    app = Record.objects.select_related("form__app").get(pk=instance.record_id).form.app
    approvers = app_managers(app, exclude=instance.submitter_id)
    target = "app_managers"
    if not approvers:
        target = "org_admins"
        approvers = list(
            _active(instance.org_id)
            .filter(role__in=[Membership.Role.OWNER, Membership.Role.ADMIN])
            .exclude(pk=instance.submitter_id or 0)
            .select_related("user")
            .order_by("id")[:100]
        )
    if not approvers:
        target = "nobody"
        logger.warning("approval %s: nobody can approve node %s", instance.pk, index)
    _step(
        instance,
        "fallback",
        None,
        node_index=index,
        comment=f"{_FALLBACK_REASONS[reason]} {_FALLBACK_TARGETS[target]}",
        data={"reason": reason, "to": target, "members": [m.pk for m in approvers]},
    )
    return approvers


def _node_mode(instance: ApprovalInstance, index: int) -> str:
    """The node's mode; a node that fell back to other approvers is ``any``."""
    if ApprovalStep.objects.filter(instance=instance, node_index=index, action="fallback").exists():
        return "any"
    mode: str = _nodes(instance)[index].get("mode", "sequential")
    return mode


def _add_ccs(instance: ApprovalInstance, members: list[Membership], node_index: int | None) -> None:
    already = set(ApprovalCc.objects.filter(instance=instance).values_list("member_id", flat=True))
    new = [m for m in members if m.pk not in already]
    if not new:
        return
    ApprovalCc.objects.bulk_create(
        [
            ApprovalCc(org_id=instance.org_id, instance=instance, member=m, node_index=node_index)
            for m in new
        ]
    )
    _step(instance, "cc", None, node_index=node_index, data={"members": [m.pk for m in new]})
    from lowcode import approval_cards

    for member in new:
        approval_cards.notify(member, instance, approval_cards.cc_text(instance))


def _finish(instance: ApprovalInstance, action: str, state: str, actor: Membership | None) -> None:
    for task in ApprovalTask.objects.filter(instance=instance, state__in=OPEN_TASK_STATES):
        _move_task(task, "cancel")
        task.save(update_fields=["state"])
    _set_instance_state(instance, action, state)
    _step(instance, "finish", None, data={"state": state})
    if state == Instance.APPROVED and instance.definition.get("cc"):
        _add_ccs(
            instance,
            resolve_approvers(instance.definition["cc"], instance.org_id, instance.submitter),
            None,
        )
    from lowcode import approval_cards

    approval_cards.refresh_cards(instance)
    if instance.submitter_id is not None and (actor is None or actor.pk != instance.submitter_id):
        submitter = Membership.objects.select_related("user").get(pk=instance.submitter_id)
        approval_cards.notify(submitter, instance, approval_cards.outcome_text(instance))


def _notify_task(task: ApprovalTask) -> None:
    from lowcode import approval_cards

    approval_cards.post_task_card(task)


# --- acting ----------------------------------------------------------------------------


def _locked(instance: ApprovalInstance) -> ApprovalInstance:
    return ApprovalInstance.objects.select_for_update().get(pk=instance.pk)


def _my_task(actor: Membership, instance: ApprovalInstance, action: str) -> ApprovalTask:
    """The actor's pending task in the instance's current node; 403/409 explain why not."""
    mine = list(
        ApprovalTask.objects.select_for_update()
        .filter(instance=instance, approver=actor)
        .order_by("-id")
    )
    if not mine:
        raise Forbidden(_("You are not an approver of this approval."), code="not_approver")
    check_instance_transition(instance, action)
    if action == "approve" and instance.submitter_id == actor.pk:
        raise Forbidden(_("You cannot approve your own submission."), code="self_approval")
    for task in mine:
        if task.state == Task.PENDING and task.node_index == instance.current_node:
            if action == "approve" and any(
                t.state == Task.APPROVED and t.node_index == task.node_index for t in mine
            ):
                raise Conflict(_("You have already approved this step."), code="already_approved")
            return task
    if any(t.state == Task.WAITING for t in mine):
        raise _invalid(_("It is not your turn to approve yet."))
    raise _invalid(_("You have already acted on this approval."))


def _comment(comment: Any) -> str:
    if comment is None:
        return ""
    if not isinstance(comment, str):
        raise ValidationFailed(
            _("The comment must be text."), fields={"comment": [_("Expected text.")]}
        )
    text: str = comment.strip()
    if len(text) > COMMENT_MAX:
        raise ValidationFailed(
            _("Comments may be at most %(n)s characters.") % {"n": COMMENT_MAX},
            fields={"comment": [_("Too long.")]},
        )
    return text


@transaction.atomic
def do_approve(
    actor: Membership, instance: ApprovalInstance, comment: str = ""
) -> ApprovalInstance:
    comment = _comment(comment)
    instance = _locked(instance)
    task = _my_task(actor, instance, "approve")
    _move_task(task, "approve")
    task.acted_at = timezone.now()
    task.comment = comment
    task.save(update_fields=["state", "acted_at", "comment"])
    _step(
        instance,
        "approve",
        actor,
        node_index=task.node_index,
        comment=comment,
        data={"task": task.pk},
    )
    node = _nodes(instance)[task.node_index]
    mode = _node_mode(instance, task.node_index)
    open_tasks = list(
        ApprovalTask.objects.filter(
            instance=instance, node_index=task.node_index, state__in=OPEN_TASK_STATES
        ).order_by("position", "id")
    )
    from lowcode import approval_cards

    if mode == "any":
        for other in open_tasks:
            _move_task(other, "cancel")
            other.save(update_fields=["state"])
        open_tasks = []
    elif (
        mode == "sequential" and open_tasks and not any(t.state == Task.PENDING for t in open_tasks)
    ):
        following = open_tasks[0]
        _move_task(following, "activate")
        following.due_at = _due(node)
        following.save(update_fields=["state", "due_at"])
        _notify_task(following)
    if not open_tasks:
        _enter_nodes(instance, task.node_index + 1)
    approval_cards.refresh_cards(instance)
    return instance


@transaction.atomic
def do_reject(actor: Membership, instance: ApprovalInstance, comment: str) -> ApprovalInstance:
    comment = _comment(comment)
    if not comment:
        raise ValidationFailed(
            _("Say why you reject it."), fields={"comment": [_("A comment is required to reject.")]}
        )
    instance = _locked(instance)
    task = _my_task(actor, instance, "reject")
    _move_task(task, "reject")
    task.acted_at = timezone.now()
    task.comment = comment
    task.save(update_fields=["state", "acted_at", "comment"])
    _step(
        instance,
        "reject",
        actor,
        node_index=task.node_index,
        comment=comment,
        data={"task": task.pk},
    )
    _finish(instance, "reject", Instance.REJECTED, actor)
    return instance


@transaction.atomic
def do_transfer(
    actor: Membership, instance: ApprovalInstance, to_member: Any, comment: str = ""
) -> ApprovalInstance:
    """Hand my pending task to another member; they approve in my place."""
    comment = _comment(comment)
    instance = _locked(instance)
    task = _my_task(actor, instance, "transfer")
    from core.access import as_id

    target = (
        _active(instance.org_id).select_related("user").filter(pk=as_id(to_member)).first()
        if not isinstance(to_member, Membership)
        else to_member
    )
    if target is None or target.org_id != instance.org_id or not target.is_active:
        raise ValidationFailed(
            _("Choose an active member."), fields={"member_id": [_("Unknown member.")]}
        )
    if target.pk == actor.pk:
        raise ValidationFailed(
            _("Choose someone else."), fields={"member_id": [_("You cannot transfer to yourself.")]}
        )
    if target.pk == instance.submitter_id:
        raise ValidationFailed(
            _("Choose someone else."),
            fields={"member_id": [_("The submitter cannot approve their own submission.")]},
        )
    # Anyone who holds or held a task in this step (even one already approved): one
    # person must never count twice in a countersign.
    if ApprovalTask.objects.filter(
        instance=instance, node_index=task.node_index, approver=target
    ).exists():
        raise ValidationFailed(
            _("This member already approves this step."),
            fields={"member_id": [_("Already an approver of this step.")]},
        )
    _move_task(task, "transfer")
    task.acted_at = timezone.now()
    task.comment = comment
    task.save(update_fields=["state", "acted_at", "comment"])
    new = ApprovalTask.objects.create(
        org_id=instance.org_id,
        instance=instance,
        node_index=task.node_index,
        position=task.position,
        approver=target,
        state=Task.PENDING,
        due_at=_due(_nodes(instance)[task.node_index]),
    )
    _step(
        instance,
        "transfer",
        actor,
        node_index=task.node_index,
        comment=comment,
        data={"task": task.pk, "to": target.pk, "new_task": new.pk},
    )
    _notify_task(new)
    from lowcode import approval_cards

    approval_cards.refresh_cards(instance)
    return instance


def _check_submitter(actor: Membership, instance: ApprovalInstance, what: str) -> None:
    if instance.submitter_id != actor.pk:
        raise Forbidden(
            _("Only the submitter can %(what)s this approval.") % {"what": what},
            code="not_submitter",
        )


@transaction.atomic
def do_withdraw(actor: Membership, instance: ApprovalInstance) -> ApprovalInstance:
    instance = _locked(instance)
    _check_submitter(actor, instance, _("withdraw"))
    check_instance_transition(instance, "withdraw")
    _step(instance, "withdraw", actor, node_index=instance.current_node)
    _finish(instance, "withdraw", Instance.WITHDRAWN, actor)
    return instance


@transaction.atomic
def do_urge(actor: Membership, instance: ApprovalInstance) -> ApprovalInstance:
    """Remind the current approvers now; at most once an hour per approval."""
    instance = _locked(instance)
    _check_submitter(actor, instance, _("urge"))
    check_instance_transition(instance, "urge")
    last = (
        ApprovalStep.objects.filter(instance=instance, action="urge")
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    if last is not None and timezone.now() - last < URGE_INTERVAL:
        minutes = int((URGE_INTERVAL - (timezone.now() - last)).total_seconds() // 60) + 1
        raise Conflict(
            _("You urged the approvers less than an hour ago. Try again in %(n)s minutes.")
            % {"n": minutes},
            code="urged_recently",
        )
    pending = list(
        ApprovalTask.objects.filter(instance=instance, state=Task.PENDING).select_related(
            "approver__user"
        )
    )
    _step(
        instance,
        "urge",
        actor,
        node_index=instance.current_node,
        data={"tasks": [t.pk for t in pending]},
    )
    from lowcode import approval_cards

    for task in pending:
        approval_cards.notify(
            task.approver, instance, approval_cards.urge_text(instance), task=task
        )
    return instance


def send_due_reminders(now: Any = None) -> int:
    """Remind approvers of overdue pending tasks: every ``time_limit_hours``, at most 3 times."""
    now = now or timezone.now()
    sent = 0
    candidates = (
        ApprovalTask.objects.filter(
            state=Task.PENDING,
            due_at__lte=now,
            reminder_count__lt=MAX_REMINDERS,
            instance__state=Instance.PENDING,
            instance__record__deleted_at__isnull=True,
        )
        .select_related("instance", "approver__user")
        .order_by("id")[:1000]
    )
    from lowcode import approval_cards

    for task in candidates:
        nodes = _nodes(task.instance)
        hours = (
            nodes[task.node_index].get("time_limit_hours", 24)
            if task.node_index < len(nodes)
            else 24
        )
        if task.reminded_at is not None and now - task.reminded_at < timedelta(hours=hours):
            continue
        with transaction.atomic():
            updated = ApprovalTask.objects.filter(
                pk=task.pk, state=Task.PENDING, reminder_count=task.reminder_count
            ).update(reminded_at=now, reminder_count=task.reminder_count + 1)
            if not updated:
                continue
            _step(
                task.instance,
                "remind",
                None,
                node_index=task.node_index,
                data={"task": task.pk, "count": task.reminder_count + 1},
            )
            approval_cards.notify(
                task.approver, task.instance, approval_cards.reminder_text(task.instance), task=task
            )
        sent += 1
    return sent


# --- who sees what ---------------------------------------------------------------------


def instance_levels(member: Membership, instance: ApprovalInstance) -> set[str]:
    """``submitter``, ``approver``, ``cc``, ``view_all``: why the member sees the approval."""
    why: set[str] = set()
    if instance.submitter_id == member.pk:
        why.add("submitter")
    if ApprovalTask.objects.filter(instance=instance, approver=member).exists():
        why.add("approver")
    if ApprovalCc.objects.filter(instance=instance, member=member).exists():
        why.add("cc")
    if "view_all" in app_levels(member, instance.record.form.app):
        why.add("view_all")
    return why


def access_approval(member: Membership, instance_id: Any) -> ApprovalInstance:
    """An approval the member takes part in (or may see every record of); else 404."""
    from core.access import as_id

    instance = (
        ApprovalInstance.objects.select_related("record__form__app", "submitter__user")
        .filter(org_id=member.org_id, pk=as_id(instance_id), record__deleted_at__isnull=True)
        .first()
    )
    if instance is None or not member.is_active or not instance_levels(member, instance):
        raise NotFound(_("Approval not found."))
    return instance


def allowed_actions(member: Membership, instance: ApprovalInstance) -> list[str]:
    allowed: list[str] = []
    if instance.state != Instance.PENDING:
        return allowed
    if ApprovalTask.objects.filter(
        instance=instance, approver=member, state=Task.PENDING, node_index=instance.current_node
    ).exists():
        allowed += (
            ["reject", "transfer"]
            if instance.submitter_id == member.pk
            else ["approve", "reject", "transfer"]
        )
    if instance.submitter_id == member.pk:
        allowed += ["withdraw", "urge"]
    return allowed


# --- the inbox -------------------------------------------------------------------------

BOXES = ("todo", "done", "submitted", "cc")
ACTED_STATES = (Task.APPROVED, Task.REJECTED, Task.TRANSFERRED)


def approval_inbox(
    member: Membership, box: str, *, before: int | None = None, limit: int = 50
) -> list[ApprovalInstance]:
    """One page of a box, newest first; each instance carries ``my_task`` (or None).

    ``todo``: my pending tasks; ``done``: approvals I acted on; ``submitted``: mine;
    ``cc``: approvals I am copied on.
    """
    if box not in BOXES:
        raise ValidationFailed(
            _("Unknown box."),
            fields={"box": [_("Use one of: %(boxes)s.") % {"boxes": ", ".join(BOXES)}]},
        )
    base = ApprovalInstance.objects.filter(org_id=member.org_id, record__deleted_at__isnull=True)
    task_states: tuple[str, ...] = ()
    if box == "todo":
        task_states = (Task.PENDING,)
        base = base.filter(
            state=Instance.PENDING,
            pk__in=ApprovalTask.objects.filter(
                org_id=member.org_id, approver=member, state=Task.PENDING
            ).values("instance_id"),
        )
    elif box == "done":
        task_states = ACTED_STATES
        base = base.filter(
            pk__in=ApprovalTask.objects.filter(
                org_id=member.org_id, approver=member, state__in=ACTED_STATES
            ).values("instance_id")
        )
    elif box == "submitted":
        base = base.filter(submitter=member)
    else:
        base = base.filter(
            pk__in=ApprovalCc.objects.filter(org_id=member.org_id, member=member).values(
                "instance_id"
            )
        )
    if before is not None:
        base = base.filter(pk__lt=before)
    instances = list(
        base.select_related("record__form__app", "record__version", "submitter__user").order_by(
            "-id"
        )[:limit]
    )
    attach_my_tasks(member, instances, task_states)
    return instances


def attach_my_tasks(
    member: Membership, instances: list[ApprovalInstance], states: tuple[str, ...] = ()
) -> None:
    """Set ``instance.my_task``: my pending task if any, else my latest task in ``states``."""
    tasks = ApprovalTask.objects.filter(
        org_id=member.org_id, approver=member, instance__in=[i.pk for i in instances]
    ).order_by("id")
    if states:
        tasks = tasks.filter(state__in=states)
    mine: dict[int, ApprovalTask] = {}
    for task in tasks:
        current = mine.get(task.instance_id)
        if current is None or current.state != Task.PENDING:
            mine[task.instance_id] = task
    for instance in instances:
        instance.my_task = mine.get(instance.pk)  # type: ignore[attr-defined]


# --- hooks -----------------------------------------------------------------------------


def _start_on_create(actor: Membership | None, record: Record) -> None:
    do_start_approval(actor, record)


def _locked_while_in_approval(actor: Membership, record: Record) -> None:
    """``hooks.RECORD_WRITE_CHECKS``: pending records are locked; approved ones nearly.

    Pending: nobody edits or deletes it. Approved: only an app manager who is not the
    submitter may, and that clears the record's approval state and writes an
    ``edit_after_approval`` step (in the write's transaction: a refused write undoes it).
    Restoring a deleted record changes no data and is not locked.
    """
    if record.approval_state not in (Instance.PENDING, Instance.APPROVED):
        return
    if record.deleted_at is not None:
        return
    if record.approval_state == Instance.PENDING:
        raise Conflict(
            _("This record is pending approval; it cannot be changed."), code="approval_locked"
        )
    instance = (
        ApprovalInstance.objects.select_for_update()
        .filter(org_id=record.org_id, record_id=record.pk, state=Instance.APPROVED)
        .order_by("-id")
        .first()
    )
    submitter_id = instance.submitter_id if instance is not None else record.created_by_id
    if (
        "manage" not in app_levels(actor, record.form.app)
        or actor.pk == submitter_id
        or actor.pk == record.created_by_id
    ):
        raise Conflict(
            _("This record has been approved; it cannot be changed."), code="approval_locked"
        )
    Record.objects.filter(pk=record.pk).update(approval_state="")
    record.approval_state = ""
    if instance is not None:
        _step(
            instance,
            "edit_after_approval",
            actor,
            node_index=None,
            comment=_(
                "Changed after approval by an app manager; the record is no longer approved."
            ),
            data={"previous_state": Instance.APPROVED},
        )
    record_audit(
        actor.org,
        actor.user,
        "lowcode.record.edited_after_approval",
        record,
        data={"approval": instance.pk if instance is not None else None},
    )


def _approval_visibility(member: Membership) -> Q:
    tasks = ApprovalTask.objects.filter(org_id=member.org_id, approver=member).values(
        "instance__record_id"
    )
    ccs = ApprovalCc.objects.filter(org_id=member.org_id, member=member).values(
        "instance__record_id"
    )
    return Q(pk__in=tasks) | Q(pk__in=ccs)


def _flows_using(form: Form, removed: set[str]) -> list[str]:
    flow = flow_of(form)
    if flow is None:
        return []
    used = {
        node["condition"]["field"]
        for node in flow.definition.get("nodes", [])
        if isinstance(node.get("condition"), dict)
    } & removed
    if not used:
        return []
    return [_("The approval flow's conditions use %(keys)s.") % {"keys": ", ".join(sorted(used))}]


hooks.RECORD_CREATED.append(_start_on_create)
hooks.RECORD_WRITE_CHECKS.append(_locked_while_in_approval)
hooks.RECORD_VISIBILITY.append(_approval_visibility)
hooks.FIELD_USAGE_CHECKS.append(_flows_using)

# Registers the in-process handler of the approval cards' buttons.
import lowcode.approval_cards  # noqa: E402, F401
