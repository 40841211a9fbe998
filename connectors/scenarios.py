"""Scenario APIs: one endpoint of the organisation's own that chains connector actions.

"Look the customer up in the CRM, then create the sale order in the ERP":

```json
{"slug": "order", "input_schema": {"type": "object", "required": ["customer", "product"],
  "properties": {"customer": {"type": "string"}, "product": {"type": "integer"},
                 "quantity": {"type": "number"}}},
 "steps": [
   {"id": "customer", "connection": 3, "action": "find_party",
    "params": {"name": "{{input.customer}}"}},
   {"id": "order", "connection": 3, "action": "create_sale_order",
    "params": {"party": "{{steps.customer.id}}",
               "lines": [{"product": "{{input.product}}", "quantity": "{{input.quantity}}"}]}}],
 "output": {"order_number": "{{steps.order.number}}"}}
```

A string that is exactly one ``{{path}}`` takes the value with its type; templates inside
longer strings are written as text. Paths start at ``input`` or ``steps.<id>``. Steps run
in order; the first failure stops the run and answers 409 ``step_failed`` naming the step
(nothing already done in the external systems is undone: the response says which steps
ran). The whole run has a time budget (``timeout_seconds``).

Callers: admins (``connectors.connection.manage``) with their own token, or a scenario
token that can run that scenario and nothing else. ``openapi_for(org)`` describes the
organisation's scenarios as an OpenAPI document.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

# No type stubs are installed for jsonschema.
from jsonschema import Draft202012Validator, SchemaError  # type: ignore[import-untyped]

from connectors.actions import connector_type, full_config
from connectors.models import Connection, Scenario, ScenarioRun, ScenarioToken
from connectors.registries import ConnectorError
from core.auth import hash_token
from core.errors import Conflict, ValidationFailed
from core.models import Membership
from core.permissions import check_permission

TOKEN_PREFIX = "tsc_"
MAX_STEPS = 10
MAX_TIMEOUT = 60
_TEMPLATE = re.compile(r"\{\{\s*([a-zA-Z_][\w.]*)\s*\}\}")
_STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class StepFailed(Conflict):
    code = "step_failed"


# --- templates -------------------------------------------------------------------------


def _lookup(path: str, context: dict[str, Any]) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def render(template: Any, context: dict[str, Any]) -> Any:
    """Fill ``{{path}}`` templates in any JSON value."""
    if isinstance(template, str):
        whole = _TEMPLATE.fullmatch(template.strip())
        if whole:
            return _lookup(whole.group(1), context)
        return _TEMPLATE.sub(lambda m: str(_lookup(m.group(1), context) or ""), template)
    if isinstance(template, dict):
        return {k: render(v, context) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, context) for v in template]
    return template


def _references(template: Any) -> set[str]:
    if isinstance(template, str):
        return {m.group(1) for m in _TEMPLATE.finditer(template)}
    if isinstance(template, dict):
        return set().union(*(_references(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(_references(v) for v in template)) if template else set()
    return set()


# --- definitions -----------------------------------------------------------------------


def check_definition(actor: Membership, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a scenario definition; return the cleaned fields."""
    errors: dict[str, list[str]] = {}
    schema = data.get("input_schema") or {"type": "object"}
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        errors["input_schema"] = [str(exc.message)]
    if not isinstance(schema, dict) or schema.get("type") != "object":
        errors.setdefault("input_schema", []).append(_("The input must be an object schema."))
    steps = data.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        errors["steps"] = [_("Give 1 to %(n)s steps.") % {"n": MAX_STEPS}]
        steps = []
    known: set[str] = set()
    connections = {
        c.pk: c
        for c in Connection.objects.filter(
            org_id=actor.org_id,
            pk__in=[
                s.get("connection")
                for s in steps
                if isinstance(s, dict) and isinstance(s.get("connection"), int)
            ],
        )
    }
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, dict):
            errors[where] = [_("Each step is an object.")]
            continue
        step_id = step.get("id")
        if not isinstance(step_id, str) or not _STEP_ID.match(step_id) or step_id in known:
            errors[f"{where}.id"] = [_("Give each step its own short id (a-z, 0-9, _).")]
        connection = connections.get(step.get("connection"))  # type: ignore[arg-type]
        if connection is None:
            errors[f"{where}.connection"] = [_("Choose a connection of this organisation.")]
        else:
            try:
                names = {a.name for a in connector_type(connection.type).actions}
            except ValidationFailed:
                names = set()
            if step.get("action") not in names:
                errors[f"{where}.action"] = [
                    _("%(connection)s has no action %(action)s.")
                    % {"connection": connection.name, "action": step.get("action")}
                ]
        params = step.get("params", {})
        if not isinstance(params, dict):
            errors[f"{where}.params"] = [_("Parameters are an object.")]
        for ref in _references(params):
            root, _sep, rest = ref.partition(".")
            if root == "input":
                continue
            if root != "steps" or rest.partition(".")[0] not in known:
                errors.setdefault(f"{where}.params", []).append(
                    _("%(ref)s is not the input or an earlier step.") % {"ref": ref}
                )
        if isinstance(step_id, str):
            known.add(step_id)
    output = data.get("output") or {}
    if not isinstance(output, dict):
        errors["output"] = [_("The output is an object.")]
    else:
        for ref in _references(output):
            root, _sep, rest = ref.partition(".")
            if root not in ("input", "steps") or (
                root == "steps" and rest.partition(".")[0] not in known
            ):
                errors.setdefault("output", []).append(_("%(ref)s is unknown.") % {"ref": ref})
    timeout = data.get("timeout_seconds", 15)
    if not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT:
        errors["timeout_seconds"] = [_("1 to %(n)s seconds.") % {"n": MAX_TIMEOUT}]
    slug = slugify(str(data.get("slug") or data.get("name") or ""))[:60]
    if not slug:
        errors["slug"] = [_("Give the scenario a name.")]
    if errors:
        raise ValidationFailed(_("The scenario is not valid."), fields=errors)
    return {
        "slug": slug,
        "name": str(data.get("name") or slug)[:80],
        "description": str(data.get("description") or "")[:500],
        "input_schema": schema,
        "steps": steps,
        "output": output,
        "timeout_seconds": timeout,
        "enabled": bool(data.get("enabled", True)),
    }


@transaction.atomic
def do_save_scenario(
    actor: Membership, data: dict[str, Any], *, scenario: Scenario | None = None
) -> Scenario:
    check_permission(actor, "connectors.connection.manage")
    cleaned = check_definition(actor, data)
    clash = Scenario.objects.filter(org_id=actor.org_id, slug=cleaned["slug"])
    if scenario is not None:
        clash = clash.exclude(pk=scenario.pk)
    if clash.exists():
        raise ValidationFailed(
            _("Another scenario already uses this name."), fields={"slug": [_("Taken.")]}
        )
    scenario = scenario or Scenario(org_id=actor.org_id, created_by=actor)
    for key, value in cleaned.items():
        setattr(scenario, key, value)
    scenario.updated_at = timezone.now()
    scenario.save()
    return scenario


@transaction.atomic
def do_create_scenario_token(
    actor: Membership, scenario: Scenario, *, name: str, days: int = 365
) -> tuple[ScenarioToken, str]:
    """A token for one scenario; the secret is returned once and only its hash kept."""
    check_permission(actor, "connectors.connection.manage")
    if not 1 <= days <= 730:
        raise ValidationFailed(_("1 to 730 days."), fields={"days": [_("Out of range.")]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ScenarioToken.objects.create(
        org_id=actor.org_id,
        scenario=scenario,
        name=(name or "").strip()[:80] or scenario.name,
        prefix=raw[:12],
        token_hash=hash_token(raw),
        created_by=actor,
        expires_at=timezone.now() + timedelta(days=days),
    )
    return token, raw


@transaction.atomic
def do_revoke_scenario_token(
    actor: Membership, token: ScenarioToken, *, ip: str | None = None
) -> ScenarioToken:
    """The token stops working at once; it stays listed, marked revoked. Idempotent."""
    from core.audit import record_audit

    check_permission(actor, "connectors.connection.manage")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_audit(
            actor.org,
            actor.user,
            "connectors.scenario_token.revoke",
            token,
            data={"scenario": token.scenario_id, "prefix": token.prefix},
            ip=ip,
        )
    return token


def token_for(raw: str, org_id: int, slug: str) -> ScenarioToken | None:
    """The live scenario token ``raw`` if it belongs to that scenario, else None."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ScenarioToken.objects.select_related("scenario")
        .filter(token_hash=hash_token(raw), org_id=org_id, scenario__slug=slug)
        .first()
    )
    if token is None or token.revoked_at is not None or token.expires_at <= timezone.now():
        return None
    return token


# --- running ---------------------------------------------------------------------------


def check_input(scenario: Scenario, payload: Any) -> dict[str, Any]:
    validator = Draft202012Validator(scenario.input_schema or {"type": "object"})
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(payload):
        path = ".".join(["input", *map(str, error.absolute_path)])
        errors.setdefault(path, []).append(error.message)
    if errors:
        raise ValidationFailed(_("The input is not valid."), fields=errors)
    return dict(payload)


def run_scenario(
    scenario: Scenario,
    payload: Any,
    *,
    member: Membership | None = None,
    token: ScenarioToken | None = None,
) -> dict[str, Any]:
    """Run the steps in order; the response's ``output`` (and each step's result)."""
    if not scenario.enabled:
        raise Conflict(_("This scenario is switched off."), code="scenario_disabled")
    context: dict[str, Any] = {"input": check_input(scenario, payload), "steps": {}}
    started = time.monotonic()
    outcomes: list[dict[str, Any]] = []
    connections = {
        c.pk: c
        for c in Connection.objects.filter(
            org_id=scenario.org_id, pk__in=[s["connection"] for s in scenario.steps]
        )
    }
    error: StepFailed | None = None
    for step in scenario.steps:
        elapsed = time.monotonic() - started
        if elapsed > scenario.timeout_seconds:
            error = StepFailed(
                _("The scenario ran out of time before step %(id)s.") % {"id": step["id"]},
                fields={f"steps.{step['id']}": [_("Not run: time is up.")]},
            )
            break
        connection = connections.get(step["connection"])
        began = time.monotonic()
        try:
            if connection is None or not connection.enabled:
                raise ConnectorError(_("The connection is gone or switched off."))
            params = render(step.get("params", {}), context)
            connector = connector_type(connection.type)
            spec = next(a for a in connector.actions if a.name == step["action"])
            problems = [
                e.message for e in Draft202012Validator(spec.params_schema).iter_errors(params)
            ]
            if problems:
                raise ConnectorError(_("Parameters: %(p)s") % {"p": "; ".join(problems[:3])})
            result = connector.run_action(full_config(connection), step["action"], params)
        except (ConnectorError, StopIteration, ValidationFailed) as exc:
            message = getattr(exc, "message", str(exc)) or _("The step failed.")
            outcomes.append({"id": step["id"], "ok": False, "ms": _ms(began), "error": message})
            error = StepFailed(
                _("Step %(id)s failed: %(message)s") % {"id": step["id"], "message": message},
                fields={f"steps.{step['id']}": [message]},
            )
            break
        context["steps"][step["id"]] = result
        outcomes.append({"id": step["id"], "ok": True, "ms": _ms(began), "error": ""})
    ScenarioRun.objects.create(
        org_id=scenario.org_id,
        scenario=scenario,
        member=member,
        token=token,
        ok=error is None,
        steps=outcomes,
        error=error.message[:500] if error else "",
        duration_ms=_ms(started),
    )
    if token is not None:
        ScenarioToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    if error is not None:
        error.fields["completed_steps"] = [o["id"] for o in outcomes if o["ok"]]
        raise error
    return {
        "output": render(scenario.output, context) if scenario.output else None,
        "steps": context["steps"],
    }


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)


# --- OpenAPI -----------------------------------------------------------------------------


def openapi_for(org_id: int, base_url: str = "") -> dict[str, Any]:
    """An OpenAPI 3.1 document for the organisation's enabled scenarios."""
    paths: dict[str, Any] = {}
    for scenario in Scenario.objects.filter(org_id=org_id, enabled=True):
        output_schema: dict[str, Any] = {"type": "object"}
        if scenario.output:
            output_schema = {
                "type": "object",
                "properties": {key: {} for key in scenario.output},
            }
        paths[f"/api/v1/orgs/{org_id}/connectors/scenarios/{scenario.slug}/run/"] = {
            "post": {
                "operationId": f"scenario_{scenario.slug.replace('-', '_')}",
                "summary": scenario.name,
                "description": scenario.description,
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": scenario.input_schema}},
                },
                "responses": {
                    "200": {
                        "description": "Every step succeeded.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "output": output_schema,
                                        "steps": {"type": "object"},
                                    },
                                }
                            }
                        },
                    },
                    "400": {"description": "The input does not match the input schema."},
                    "401": {"description": "No valid token."},
                    "409": {"description": "A step failed (step_failed) or time ran out."},
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"Scenario API of organisation {org_id}", "version": "1"},
        "servers": [{"url": base_url}] if base_url else [],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }
