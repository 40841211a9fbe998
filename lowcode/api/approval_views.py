"""Approval API: a form's flow, the approvals inbox, and acting on an approval.

Flow definition (``PUT forms/<id>/approval-flow/``; see ``lowcode.approvals``)::

    {"nodes": [{"id": "n1", "name": "Manager",
                "approvers": {"kind": "members", "members": [ids]}
                             | {"kind": "role", "role": "admin"}
                             | {"kind": "manager"} | {"kind": "nth_manager", "level": 2},
                "mode": "sequential" | "all" | "any",
                "condition": {"field": "amount", "op": "gt|gte|lt|lte|eq|ne|in", "value": ...},
                "cc": <approver spec>, "time_limit_hours": 24}],
     "cc": <approver spec>}

Money conditions compare minor units; checkbox conditions take true/false (an unticked
box is false). Member ids are at most 2**63 - 1.

The submitter never approves their own submission: they are left out of the approvers,
and a task cannot be transferred to them (nor to the actor, nor to anyone holding or
having held a task in that node: 400 on ``member_id``). A node whose approvers resolve
to nobody is never approved automatically: it goes to the app's managers (else the org's
owners and admins), who decide it as an ``any`` node; a ``fallback`` step says why and to
whom (``data.reason``, ``data.to``: ``app_managers``, ``org_admins`` or ``nobody``).
Nodes report the mode they actually run in.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import OrgScopedViewSet
from core.api.fields import IdField
from core.errors import ValidationFailed
from core.models import Membership
from lowcode import approvals
from lowcode.access import access_form
from lowcode.api.serializers import AnyJSONField
from lowcode.approval_cards import record_summary
from lowcode.models import ApprovalFlow, ApprovalInstance, ApprovalTask

DESCRIPTION = __doc__

# --- shapes ----------------------------------------------------------------------------


class FlowSerializer(serializers.Serializer[Any]):
    form_id = serializers.IntegerField()
    is_enabled = serializers.BooleanField()
    definition = AnyJSONField()
    updated_at = serializers.DateTimeField(allow_null=True)


class FlowWriteSerializer(serializers.Serializer[Any]):
    definition = AnyJSONField()
    is_enabled = serializers.BooleanField(required=False, default=True)


class PersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SummarySerializer(serializers.Serializer[Any]):
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.CharField()


class MyTaskSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    state = serializers.CharField()
    node_name = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)


class ApprovalSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    state = serializers.CharField(help_text="pending, approved, rejected or withdrawn.")
    record_id = serializers.IntegerField()
    record_number = serializers.IntegerField()
    form_id = serializers.IntegerField()
    form_name = serializers.CharField()
    app_id = serializers.IntegerField()
    app_name = serializers.CharField()
    submitter = PersonSerializer(allow_null=True)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    current_node_name = serializers.CharField()
    summary = SummarySerializer(many=True)
    my_task = MyTaskSerializer(allow_null=True)


class ApprovalPageSerializer(serializers.Serializer[Any]):
    results = ApprovalSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class NodeSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    name = serializers.CharField()
    mode = serializers.CharField()
    state = serializers.CharField(
        help_text="waiting, pending, approved, rejected, skipped or cancelled."
    )


class TaskSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    node_index = serializers.IntegerField()
    approver = PersonSerializer()
    state = serializers.CharField(
        help_text="waiting, pending, approved, rejected, transferred or cancelled."
    )
    acted_at = serializers.DateTimeField(allow_null=True)
    comment = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)


class StepSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    action = serializers.CharField()
    actor = PersonSerializer(allow_null=True)
    node_index = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField()
    at = serializers.DateTimeField()
    data = AnyJSONField()  # type: ignore[assignment]


class ApprovalDetailSerializer(ApprovalSerializer):
    nodes = NodeSerializer(many=True)
    tasks = TaskSerializer(many=True)
    steps = StepSerializer(many=True)
    allowed_actions = serializers.ListField(
        child=serializers.ChoiceField(["approve", "reject", "transfer", "withdraw", "urge"])
    )


class CommentSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class RejectSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(max_length=1000, allow_blank=True)


class TransferSerializer(serializers.Serializer[Any]):
    member_id = IdField()
    comment = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


# --- presenting ------------------------------------------------------------------------


def _person(member: Membership | None) -> dict[str, Any] | None:
    return {"id": member.pk, "name": member.user.display_name} if member is not None else None


def _node_name(instance: ApprovalInstance, index: int) -> str:
    nodes = instance.definition.get("nodes", [])
    return str(nodes[index]["name"]) if 0 <= index < len(nodes) else ""


def _brief(instance: ApprovalInstance) -> dict[str, Any]:
    record = instance.record
    task: ApprovalTask | None = getattr(instance, "my_task", None)
    return {
        "id": instance.pk,
        "state": instance.state,
        "record_id": record.pk,
        "record_number": record.number,
        "form_id": record.form_id,
        "form_name": record.form.name,
        "app_id": record.form.app_id,
        "app_name": record.form.app.name,
        "submitter": _person(instance.submitter),
        "started_at": instance.started_at,
        "finished_at": instance.finished_at,
        "current_node_name": _node_name(instance, instance.current_node)
        if instance.state == ApprovalInstance.State.PENDING
        else "",
        "summary": record_summary(record),
        "my_task": {
            "id": task.pk,
            "state": task.state,
            "node_name": _node_name(instance, task.node_index),
            "due_at": task.due_at,
        }
        if task is not None
        else None,
    }


def _node_states(
    instance: ApprovalInstance, tasks: list[ApprovalTask], steps: list[Any]
) -> list[str]:
    State = ApprovalInstance.State
    states = []
    for index in range(len(instance.definition.get("nodes", []))):
        actions = {s.action for s in steps if s.node_index == index}
        mine = [t for t in tasks if t.node_index == index]
        if "skip" in actions:
            state = "skipped"
        elif any(t.state == ApprovalTask.State.REJECTED for t in mine):
            state = "rejected"
        elif "auto_approve" in actions or (
            mine
            and not any(t.state in approvals.OPEN_TASK_STATES for t in mine)
            and any(t.state == ApprovalTask.State.APPROVED for t in mine)
        ):
            state = "approved"
        elif instance.state == State.PENDING and index == instance.current_node:
            state = "pending"
        elif instance.state == State.PENDING:
            state = "waiting"
        else:
            state = "cancelled"
        states.append(state)
    return states


def _detail(member: Membership, instance: ApprovalInstance) -> dict[str, Any]:
    instance.refresh_from_db()
    approvals.attach_my_tasks(member, [instance])
    body = _brief(instance)
    tasks = list(
        instance.tasks.select_related("approver__user").order_by("node_index", "position", "id")
    )
    steps = list(instance.steps.select_related("actor__user").order_by("id"))
    nodes = instance.definition.get("nodes", [])
    fell_back = {s.node_index for s in steps if s.action == "fallback"}
    body["nodes"] = [
        {
            "index": i,
            "name": node["name"],
            "mode": "any" if i in fell_back else node.get("mode", "sequential"),
            "state": state,
        }
        for i, (node, state) in enumerate(
            zip(nodes, _node_states(instance, tasks, steps), strict=True)
        )
    ]
    body["tasks"] = [
        {
            "id": t.pk,
            "node_index": t.node_index,
            "approver": _person(t.approver),
            "state": t.state,
            "acted_at": t.acted_at,
            "comment": t.comment,
            "due_at": t.due_at,
        }
        for t in tasks
    ]
    body["steps"] = [
        {
            "id": s.pk,
            "action": s.action,
            "actor": _person(s.actor),
            "node_index": s.node_index,
            "comment": s.comment,
            "at": s.at,
            "data": s.data,
        }
        for s in steps
    ]
    body["allowed_actions"] = approvals.allowed_actions(member, instance)
    return ApprovalDetailSerializer(body).data


def _flow_body(form_id: int, flow: ApprovalFlow | None) -> dict[str, Any]:
    body = {
        "form_id": form_id,
        "is_enabled": flow.is_enabled if flow else False,
        "definition": flow.definition if flow else {"nodes": []},
        "updated_at": flow.updated_at if flow else None,
    }
    return FlowSerializer(body).data


def _parse(serializer_class: Any, request: Request) -> dict[str, Any]:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    validated: dict[str, Any] = data.validated_data
    return validated


# --- views -----------------------------------------------------------------------------


class FormApprovalFlowViewSet(OrgScopedViewSet):
    """A form's approval flow. Reading needs submit level, saving needs manage."""

    queryset = ApprovalFlow.objects.all()
    serializer_class = FlowSerializer
    pagination_class = None

    @extend_schema(responses=FlowSerializer, description=DESCRIPTION)
    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        form = access_form(self.membership, pk)
        return Response(_flow_body(form.pk, approvals.flow_of(form)))

    @extend_schema(request=FlowWriteSerializer, responses=FlowSerializer, description=DESCRIPTION)
    def update(self, request: Request, org_id: int, pk: str) -> Response:
        form = access_form(self.membership, pk, "manage")
        data = _parse(FlowWriteSerializer, request)
        flow = approvals.do_save_flow(self.membership, form, data["definition"], data["is_enabled"])
        return Response(_flow_body(form.pk, flow))


def _cursor(request: Request) -> int | None:
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    try:
        value: int = IdField().run_validation(raw)
    except Exception:
        raise ValidationFailed("Invalid cursor.", fields={"cursor": ["Invalid cursor."]}) from None
    return value


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit") or "50"
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise ValidationFailed("Invalid limit.", fields={"limit": ["Expected 1 to 200."]})
    return int(raw)


class ApprovalViewSet(OrgScopedViewSet):
    """Approvals I take part in: my to-do list, what I did, what I submitted, my CCs."""

    queryset = ApprovalInstance.objects.all()
    serializer_class = ApprovalDetailSerializer
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "box", OpenApiTypes.STR, enum=list(approvals.BOXES), description="Default todo."
            ),
            OpenApiParameter(
                "cursor", OpenApiTypes.STR, description="next_cursor of the previous page."
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 200 (default 50)."),
        ],
        responses=ApprovalPageSerializer,
        operation_id="orgs_lowcode_approvals_list",
    )
    def inbox(self, request: Request, org_id: int) -> Response:
        """Newest first. ``my_task`` is my pending task (todo) or my latest acted one (done)."""
        limit = _limit(request)
        box = request.query_params.get("box") or "todo"
        page = approvals.approval_inbox(
            self.membership, box, before=_cursor(request), limit=limit + 1
        )
        more = len(page) > limit
        page = page[:limit]
        body = {
            "results": [_brief(i) for i in page],
            "next_cursor": str(page[-1].pk) if more and page else None,
        }
        return Response(ApprovalPageSerializer(body).data)

    @extend_schema(responses=ApprovalDetailSerializer)
    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(_detail(self.membership, approvals.access_approval(self.membership, pk)))

    @extend_schema(request=CommentSerializer, responses=ApprovalDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, org_id: int, pk: str) -> Response:
        instance = approvals.access_approval(self.membership, pk)
        data = _parse(CommentSerializer, request)
        return Response(
            _detail(
                self.membership, approvals.do_approve(self.membership, instance, data["comment"])
            )
        )

    @extend_schema(request=RejectSerializer, responses=ApprovalDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, org_id: int, pk: str) -> Response:
        """Reject; a comment is required."""
        instance = approvals.access_approval(self.membership, pk)
        data = _parse(RejectSerializer, request)
        return Response(
            _detail(
                self.membership, approvals.do_reject(self.membership, instance, data["comment"])
            )
        )

    @extend_schema(request=TransferSerializer, responses=ApprovalDetailSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, org_id: int, pk: str) -> Response:
        """Hand my pending task to another member of the organisation."""
        instance = approvals.access_approval(self.membership, pk)
        data = _parse(TransferSerializer, request)
        instance = approvals.do_transfer(
            self.membership, instance, data["member_id"], data["comment"]
        )
        return Response(_detail(self.membership, instance))

    @extend_schema(request=None, responses=ApprovalDetailSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, org_id: int, pk: str) -> Response:
        """The submitter takes the submission back while it is pending."""
        instance = approvals.access_approval(self.membership, pk)
        return Response(_detail(self.membership, approvals.do_withdraw(self.membership, instance)))

    @extend_schema(request=None, responses=ApprovalDetailSerializer)
    @action(detail=True, methods=["post"])
    def urge(self, request: Request, org_id: int, pk: str) -> Response:
        """The submitter reminds the current approvers (once an hour)."""
        instance = approvals.access_approval(self.membership, pk)
        return Response(_detail(self.membership, approvals.do_urge(self.membership, instance)))
