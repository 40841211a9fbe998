"""Approval flows: definitions, approvers, modes, branches, every transition, chat cards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.actions import do_add_department_member, do_create_department
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from im.models import Conversation, ConversationMember, Message
from lowcode import approvals
from lowcode.actions import (
    do_create_record,
    do_delete_record,
    do_publish_form,
    do_update_form,
    do_update_record,
)
from lowcode.approvals import (
    do_approve,
    do_reject,
    do_save_flow,
    do_transfer,
    do_urge,
    do_withdraw,
    send_due_reminders,
)
from lowcode.models import ApprovalCc, ApprovalInstance, ApprovalStep, ApprovalTask, Record

pytestmark = pytest.mark.django_db

FIELDS = [
    {"key": "title", "type": "text", "label": "Title", "required": True},
    {"key": "amount", "type": "money", "label": "Amount", "options": {"currency": "CNY"}},
    {
        "key": "kind",
        "type": "single_select",
        "label": "Kind",
        "options": {
            "choices": [{"id": "travel", "label": "Travel"}, {"id": "meal", "label": "Meal"}]
        },
    },
]


def members_spec(*members):
    return {"kind": "members", "members": [m.pk for m in members]}


def node(node_id, approvers, **extra):
    return {
        "id": node_id,
        "name": extra.pop("name", node_id.upper()),
        "approvers": approvers,
        **extra,
    }


@pytest.fixture
def form(make_form, owner, member):
    form = make_form(FIELDS, name="Expense claim")
    app = form.app
    app.permissions = {
        "submit": {"roles": ["member", "admin", "guest"], "members": [], "departments": []},
        "view_all": {"roles": [], "members": [], "departments": []},
        "manage": {"roles": [], "members": [], "departments": []},
    }
    app.save(update_fields=["permissions"])
    return form


@pytest.fixture
def people(org, add_member):
    return [add_member(org, "member") for _ in range(4)]


def submit(form, who, amount=12_500_00, **data):
    record, _created = do_create_record(
        who, form, {"title": "Trip", "amount": {"amount": amount, "currency": "CNY"}, **data}
    )
    return record, ApprovalInstance.objects.filter(record=record).first()


def states(instance):
    return [
        (t.approver_id, t.state) for t in instance.tasks.order_by("node_index", "position", "id")
    ]


def refreshed(instance):
    instance.refresh_from_db()
    return instance


# --- definitions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        ({}, "definition"),
        ({"nodes": []}, "definition.nodes"),
        ({"nodes": [{"id": "a", "name": "A"}]}, "definition.nodes.0"),
        (
            {"nodes": [{"id": "a", "name": "A", "approvers": {"kind": "boss"}}]},
            "definition.nodes.0.approvers.kind",
        ),
        (
            {"nodes": [{"id": "a", "name": "A", "approvers": {"kind": "members"}}]},
            "definition.nodes.0.approvers",
        ),
        (
            {"nodes": [{"id": "a", "name": "A", "approvers": {"kind": "role", "role": "king"}}]},
            "definition.nodes.0.approvers.role",
        ),
        (
            {"nodes": [{"id": "a", "name": "A", "approvers": {"kind": "nth_manager"}}]},
            "definition.nodes.0.approvers",
        ),
        (
            {"nodes": [{"id": "a", "name": "A", "approvers": {"kind": "manager"}, "mode": "some"}]},
            "definition.nodes.0.mode",
        ),
        (
            {
                "nodes": [
                    {
                        "id": "a",
                        "name": "A",
                        "approvers": {"kind": "manager"},
                        "time_limit_hours": 0,
                    }
                ]
            },
            "definition.nodes.0.time_limit_hours",
        ),
        (
            {
                "nodes": [
                    {
                        "id": "a",
                        "name": "A",
                        "approvers": {"kind": "manager"},
                        "condition": {"field": "amount", "op": "between", "value": 1},
                    }
                ]
            },
            "definition.nodes.0.condition.op",
        ),
        (
            {
                "nodes": [
                    {
                        "id": "a",
                        "name": "A",
                        "approvers": {"kind": "manager"},
                        "condition": {"field": "nope", "op": "gt", "value": 1},
                    }
                ]
            },
            "definition.nodes.0.condition.field",
        ),
        (
            {
                "nodes": [
                    {
                        "id": "a",
                        "name": "A",
                        "approvers": {"kind": "manager"},
                        "condition": {"field": "amount", "op": "gt", "value": "lots"},
                    }
                ]
            },
            "definition.nodes.0.condition.value",
        ),
        (
            {
                "nodes": [
                    {
                        "id": "a",
                        "name": "A",
                        "approvers": {"kind": "manager"},
                        "condition": {"field": "kind", "op": "in", "value": "travel"},
                    }
                ]
            },
            "definition.nodes.0.condition.value",
        ),
        (
            {"nodes": [node("a", {"kind": "manager"}), node("a", {"kind": "manager"})]},
            "definition.nodes.1.id",
        ),
        (
            {"nodes": [node("a", {"kind": "members", "members": [999999]})]},
            "definition.nodes.0.approvers.members",
        ),
        (
            {
                "nodes": [node("a", {"kind": "manager"})],
                "cc": {"kind": "members", "members": [999999]},
            },
            "definition.cc.members",
        ),
        ({"nodes": [node("a", {"kind": "manager"})], "extra": 1}, "definition"),
    ],
)
def test_invalid_definitions_are_400_per_field(api, owner, form, definition, path):
    response = api(owner).put(
        f"/api/v1/orgs/{owner.org_id}/lowcode/forms/{form.pk}/approval-flow/",
        {"definition": definition},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert path in response.json()["error"]["fields"], response.json()


def test_other_orgs_member_is_not_a_valid_approver(owner, form, outsider):
    with pytest.raises(ValidationFailed) as caught:
        do_save_flow(owner, form, {"nodes": [node("a", members_spec(outsider))]})
    assert "definition.nodes.0.approvers.members" in caught.value.fields


def test_flow_get_and_put(api, owner, member, form, people):
    url = f"/api/v1/orgs/{owner.org_id}/lowcode/forms/{form.pk}/approval-flow/"
    empty = api(member).get(url)
    assert empty.status_code == 200
    assert empty.json() == {
        "form_id": form.pk,
        "is_enabled": False,
        "definition": {"nodes": []},
        "updated_at": None,
    }
    definition = {"nodes": [node("n1", members_spec(people[0]), mode="any", time_limit_hours=24)]}
    saved = api(owner).put(url, {"definition": definition, "is_enabled": True}, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["definition"] == definition and saved.json()["is_enabled"] is True
    assert api(member).get(url).json()["definition"] == definition
    # Saving needs manage.
    assert api(member).put(url, {"definition": definition}, format="json").status_code == 403


def test_flow_of_another_org_is_404(api, owner, form, outsider):
    url = f"/api/v1/orgs/{owner.org_id}/lowcode/forms/{form.pk}/approval-flow/"
    assert api(outsider).get(url).status_code == 404
    their_url = f"/api/v1/orgs/{outsider.org_id}/lowcode/forms/{form.pk}/approval-flow/"
    assert api(outsider).get(their_url).status_code == 404


def test_disabled_flow_starts_nothing(owner, member, form, people):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(people[0]))]}, is_enabled=False)
    record, instance = submit(form, member)
    assert instance is None and record.approval_state == ""


# --- approvers ---------------------------------------------------------------------


@pytest.fixture
def tree(owner, org, add_member):
    """Company > Sales > East; the submitter sits in East."""
    company = do_create_department(owner, name="Company")
    sales = do_create_department(owner, name="Sales", parent=company)
    east = do_create_department(owner, name="East", parent=sales)
    ceo, head, lead, clerk = (add_member(org, "member") for _ in range(4))
    do_add_department_member(owner, company, ceo, is_manager=True)
    do_add_department_member(owner, sales, head, is_manager=True)
    do_add_department_member(owner, east, lead, is_manager=True)
    do_add_department_member(owner, east, clerk)
    return {"ceo": ceo, "head": head, "lead": lead, "clerk": clerk}


def test_manager_is_the_department_manager(owner, form, tree):
    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "manager"})]})
    _record, instance = submit(form, tree["clerk"])
    assert states(instance) == [(tree["lead"].pk, "pending")]


def test_manager_of_a_manager_is_the_parent_departments(owner, form, tree):
    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "manager"})]})
    _record, instance = submit(form, tree["lead"])
    assert states(instance) == [(tree["head"].pk, "pending")]


@pytest.mark.parametrize(("level", "who"), [(1, "lead"), (2, "head"), (3, "ceo")])
def test_nth_manager_walks_up(owner, form, tree, level, who):
    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "nth_manager", "level": level})]})
    _record, instance = submit(form, tree["clerk"])
    assert states(instance) == [(tree[who].pk, "pending")]


def test_role_approvers_are_the_active_members_with_that_role(owner, org, form, member, add_member):
    first, second = add_member(org, "admin"), add_member(org, "admin")
    add_member(org, "admin", status="suspended")
    do_save_flow(
        owner, form, {"nodes": [node("n1", {"kind": "role", "role": "admin"}, mode="any")]}
    )
    _record, instance = submit(form, member)
    assert states(instance) == [(first.pk, "pending"), (second.pk, "pending")]


def fallback_step(instance):
    return ApprovalStep.objects.get(instance=instance, action="fallback")


def test_nobody_to_approve_goes_to_the_app_managers_not_approved(owner, form, member, people):
    manager = people[0]
    form.app.permissions["manage"]["members"] = [manager.pk]
    form.app.save(update_fields=["permissions"])
    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "nth_manager", "level": 5})]})
    record, instance = submit(form, member)
    assert instance.state == "pending" and instance.finished_at is None
    # The owner manages every app (and created this one); the app grants manage to one.
    assert states(instance) == [(owner.pk, "pending"), (manager.pk, "pending")]
    step = fallback_step(instance)
    assert step.node_index == 0 and step.actor_id is None
    assert step.data == {
        "reason": "no_manager",
        "to": "app_managers",
        "members": [owner.pk, manager.pk],
    }
    assert step.comment == ("No department manager for the submitter. Sent to the app's managers.")
    assert not ApprovalStep.objects.filter(instance=instance, action="auto_approve").exists()
    record.refresh_from_db()
    assert record.approval_state == "pending"
    # The managers decide as an "any" node: the first approval completes it.
    do_approve(manager, instance)
    assert refreshed(instance).state == "approved"
    assert states(instance) == [(owner.pk, "cancelled"), (manager.pk, "approved")]


def test_member_in_no_department_reaching_a_manager_node_is_not_approved(
    api, owner, admin, form, member
):
    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "manager"})]})
    response = api(member).post(
        f"/api/v1/orgs/{owner.org_id}/lowcode/records/",
        {"form": form.pk, "data": {"title": "Yacht", "amount": {"amount": 10**12}}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["approval_state"] == "pending"
    instance = ApprovalInstance.objects.get(record_id=response.json()["id"])
    assert instance.state == "pending"
    assert states(instance) == [(owner.pk, "pending"), (admin.pk, "pending")]
    assert fallback_step(instance).data["reason"] == "no_manager"
    detail = api(admin).get(base(admin) + f"{instance.pk}/").json()
    assert detail["nodes"] == [{"index": 0, "name": "N1", "mode": "any", "state": "pending"}]
    assert [s["action"] for s in detail["steps"]] == ["submit", "fallback"]
    assert detail["allowed_actions"] == ["approve", "reject", "transfer"]


def test_public_link_submission_goes_to_the_app_managers(client, owner, form):
    from lowcode.public import do_create_public_link

    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "manager"})]})
    _link, token = do_create_public_link(owner, form)
    response = client.post(f"/f/{token}/", {"title": "Anon", "amount": "10000"})
    assert response.status_code == 302
    instance = ApprovalInstance.objects.get(record__form=form)
    assert instance.submitter_id is None and instance.state == "pending"
    assert states(instance) == [(owner.pk, "pending")]
    step = fallback_step(instance)
    assert (step.data["reason"], step.data["to"]) == ("no_submitter", "app_managers")
    assert step.comment == (
        "The submission came from a public link: no department manager. Sent to the app's managers."
    )


def test_fallback_without_app_managers_asks_the_org_admins(owner, org, form, add_member):
    from core.models import RoleGrant
    from core.permissions import forget_role_grants

    admin = add_member(org, "admin")
    RoleGrant.objects.create(
        org=org, role="admin", permission="lowcode.app.manage_all", granted=False
    )
    forget_role_grants(org.pk)
    assert approvals.app_managers(form.app, exclude=owner.pk) == []
    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "manager"})]})
    _record, instance = submit(form, owner)
    assert states(instance) == [(admin.pk, "pending")]
    assert fallback_step(instance).data == {
        "reason": "no_manager",
        "to": "org_admins",
        "members": [admin.pk],
    }


def test_fallback_with_nobody_but_the_submitter_stays_pending(owner, form):
    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "manager"})]})
    record, instance = submit(form, owner)  # the owner is the org's only manager
    instance = refreshed(instance)
    assert instance.state == "pending" and states(instance) == []
    step = fallback_step(instance)
    assert step.data == {"reason": "no_manager", "to": "nobody", "members": []}
    assert "until the submitter withdraws it" in step.comment
    record.refresh_from_db()
    assert record.approval_state == "pending"
    do_withdraw(owner, instance)
    assert refreshed(instance).state == "withdrawn"


# --- self-approval --------------------------------------------------------------------


def test_submitter_is_left_out_of_the_approvers(owner, org, form, add_member):
    admin, other_admin = add_member(org, "admin"), add_member(org, "admin")
    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "role", "role": "admin"})]})
    _record, instance = submit(form, admin)
    assert states(instance) == [(other_admin.pk, "pending")]
    assert not ApprovalStep.objects.filter(instance=instance, action="fallback").exists()
    with pytest.raises(Forbidden):
        do_approve(admin, instance)


def test_admin_cannot_approve_their_own_submission_to_an_admin_node(api, owner, admin, form):
    do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "role", "role": "admin"})]})
    response = api(admin).post(
        f"/api/v1/orgs/{owner.org_id}/lowcode/records/",
        {"form": form.pk, "data": {"title": "Mine", "amount": {"amount": 99_999_900}}},
        format="json",
    )
    assert response.status_code == 201, response.content
    instance = ApprovalInstance.objects.get(record_id=response.json()["id"])
    # The only admin is the submitter: the app's other managers (the owner) approve.
    assert states(instance) == [(owner.pk, "pending")]
    assert fallback_step(instance).data["reason"] == "only_submitter"
    approve = api(admin).post(base(admin) + f"{instance.pk}/approve/", {}, format="json")
    assert approve.status_code == 403
    assert refreshed(instance).state == "pending"
    assert api(admin).get(base(admin) + f"{instance.pk}/").json()["allowed_actions"] == [
        "withdraw",
        "urge",
    ]


def test_a_task_the_submitter_holds_cannot_approve(owner, form, member, people):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(people[0]))]})
    _record, instance = submit(form, member)
    ApprovalTask.objects.filter(instance=instance).update(approver=member)  # an older approval
    with pytest.raises(Forbidden) as caught:
        do_approve(member, instance)
    assert caught.value.code == "self_approval"
    assert approvals.allowed_actions(member, refreshed(instance)) == [
        "reject",
        "transfer",
        "withdraw",
        "urge",
    ]


def test_transfer_to_the_submitter_is_refused(api, owner, form, member, people):
    a = people[0]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a))]})
    _record, instance = submit(form, member)
    response = api(a).post(
        base(a) + f"{instance.pk}/transfer/", {"member_id": member.pk}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "member_id" in response.json()["error"]["fields"]
    assert states(instance) == [(a.pk, "pending")]
    assert api(member).post(base(member) + f"{instance.pk}/approve/", {}).status_code == 403


def test_countersign_needs_two_people_not_one_twice(api, owner, admin, form, member):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(owner, admin), mode="all")]})
    _record, instance = submit(form, member)
    url = base(owner) + f"{instance.pk}/"
    assert api(owner).post(url + "approve/", {}, format="json").status_code == 200
    moved = api(admin).post(url + "transfer/", {"member_id": owner.pk}, format="json")
    assert moved.status_code == 400, moved.content
    assert "member_id" in moved.json()["error"]["fields"]
    assert api(owner).post(url + "approve/", {}, format="json").status_code == 409
    assert refreshed(instance).state == "pending"
    assert states(instance) == [(owner.pk, "approved"), (admin.pk, "pending")]


def test_transfer_refuses_anyone_with_a_task_in_the_step(owner, form, member, people):
    a, b, c = people[:3]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a, b), mode="all")]})
    _record, instance = submit(form, member)
    do_transfer(a, instance, c.pk)
    for holder in (a, b):  # a's task was transferred (done), b's is open
        with pytest.raises(ValidationFailed) as caught:
            do_transfer(c, instance, holder.pk)
        assert "member_id" in caught.value.fields


def test_a_member_approves_a_step_at_most_once(owner, form, member, people):
    a, b = people[:2]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a, b), mode="all")]})
    _record, instance = submit(form, member)
    do_approve(a, instance)
    ApprovalTask.objects.filter(instance=instance, approver=b).update(approver=a)  # older data
    with pytest.raises(Conflict) as caught:
        do_approve(a, instance)
    assert caught.value.code == "already_approved"
    assert refreshed(instance).state == "pending"


# --- modes ---------------------------------------------------------------------


def test_sequential_one_at_a_time_in_order(owner, form, member, people):
    a, b = people[:2]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a, b), mode="sequential")]})
    record, instance = submit(form, member)
    assert states(instance) == [(a.pk, "pending"), (b.pk, "waiting")]
    with pytest.raises(Conflict) as caught:
        do_approve(b, instance)  # not b's turn yet
    assert caught.value.code == "invalid_transition"
    do_approve(a, instance, "ok")
    assert states(instance) == [(a.pk, "approved"), (b.pk, "pending")]
    assert refreshed(instance).state == "pending"
    do_approve(b, instance)
    assert refreshed(instance).state == "approved"
    record.refresh_from_db()
    assert record.approval_state == "approved"


def test_all_must_approve(owner, form, member, people):
    a, b = people[:2]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a, b), mode="all")]})
    _record, instance = submit(form, member)
    assert states(instance) == [(a.pk, "pending"), (b.pk, "pending")]
    do_approve(b, instance)
    assert refreshed(instance).state == "pending"
    do_approve(a, instance)
    assert refreshed(instance).state == "approved"


def test_any_one_approval_completes_the_node_and_cancels_the_rest(owner, form, member, people):
    a, b, c = people[:3]
    do_save_flow(
        owner,
        form,
        {"nodes": [node("n1", members_spec(a, b), mode="any"), node("n2", members_spec(c))]},
    )
    _record, instance = submit(form, member)
    do_approve(b, instance)
    assert states(instance) == [(a.pk, "cancelled"), (b.pk, "approved"), (c.pk, "pending")]
    assert refreshed(instance).current_node == 1
    with pytest.raises(Conflict):
        do_approve(a, instance)  # a's task was cancelled


def test_rejection_rejects_the_instance_and_cancels_open_tasks(owner, form, member, people):
    a, b, c = people[:3]
    do_save_flow(
        owner,
        form,
        {"nodes": [node("n1", members_spec(a, b), mode="all"), node("n2", members_spec(c))]},
    )
    record, instance = submit(form, member)
    do_reject(a, instance, "Too expensive")
    instance = refreshed(instance)
    assert instance.state == "rejected" and instance.finished_at is not None
    assert states(instance) == [(a.pk, "rejected"), (b.pk, "cancelled")]
    record.refresh_from_db()
    assert record.approval_state == "rejected"
    step = ApprovalStep.objects.get(instance=instance, action="reject")
    assert (step.actor_id, step.comment, step.node_index) == (a.pk, "Too expensive", 0)


def test_reject_needs_a_comment(owner, form, member, people):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(people[0]))]})
    _record, instance = submit(form, member)
    with pytest.raises(ValidationFailed) as caught:
        do_reject(people[0], instance, "  ")
    assert "comment" in caught.value.fields
    assert refreshed(instance).state == "pending"


# --- conditions and CC ----------------------------------------------------------------


def branch_flow(manager, director):
    return {
        "nodes": [
            node("manager", members_spec(manager)),
            node(
                "director",
                members_spec(director),
                condition={"field": "amount", "op": "gt", "value": 1_000_000},
            ),
        ]
    }


def test_big_amount_goes_to_the_director(owner, form, member, people):
    manager, director = people[:2]
    do_save_flow(owner, form, branch_flow(manager, director))
    _record, instance = submit(form, member, amount=1_250_000)
    do_approve(manager, instance)
    assert refreshed(instance).state == "pending"
    assert states(instance)[-1] == (director.pk, "pending")
    do_approve(director, instance)
    assert refreshed(instance).state == "approved"


def test_small_amount_skips_the_director(owner, form, member, people):
    manager, director = people[:2]
    do_save_flow(owner, form, branch_flow(manager, director))
    _record, instance = submit(form, member, amount=1_000_000)  # exactly 10,000.00: not more
    do_approve(manager, instance)
    assert refreshed(instance).state == "approved"
    assert not ApprovalTask.objects.filter(instance=instance, approver=director).exists()
    assert ApprovalStep.objects.filter(instance=instance, action="skip", node_index=1).exists()


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"field": "kind", "op": "eq", "value": "travel"}, True),
        ({"field": "kind", "op": "ne", "value": "travel"}, False),
        ({"field": "kind", "op": "in", "value": ["meal", "travel"]}, True),
        ({"field": "kind", "op": "in", "value": ["meal"]}, False),
        ({"field": "amount", "op": "gte", "value": 500}, True),
        ({"field": "amount", "op": "lt", "value": 500}, False),
        ({"field": "amount", "op": "lte", "value": 500}, True),
    ],
)
def test_conditions(condition, holds):
    data = {"kind": "travel", "amount": {"amount": 500, "currency": "CNY"}}
    assert approvals.condition_holds(FIELDS, data, condition) is holds
    assert approvals.condition_holds(FIELDS, {}, condition) is (condition["op"] == "ne")


CHECKBOX = [{"key": "urgent", "type": "checkbox", "label": "Urgent"}]


@pytest.mark.parametrize(
    ("data", "condition", "holds"),
    [
        ({}, {"op": "eq", "value": False}, True),  # unticked: stored as absent
        ({}, {"op": "ne", "value": True}, True),
        ({}, {"op": "eq", "value": True}, False),
        ({"urgent": True}, {"op": "eq", "value": True}, True),
        ({"urgent": True}, {"op": "eq", "value": False}, False),
        ({"urgent": True}, {"op": "eq", "value": "true"}, True),
        ({"urgent": True}, {"op": "ne", "value": "TRUE"}, False),
        ({}, {"op": "eq", "value": "false"}, True),
        ({"urgent": False}, {"op": "eq", "value": "false"}, True),
        ({}, {"op": "in", "value": [False]}, True),
        ({"urgent": True}, {"op": "in", "value": ["false"]}, False),
    ],
)
def test_checkbox_conditions(data, condition, holds):
    condition = {"field": "urgent", **condition}
    assert approvals.condition_holds(CHECKBOX, data, condition) is holds


def test_unticked_checkbox_takes_its_branch(owner, make_form, member, people):
    form = make_form([{"key": "title", "type": "text", "label": "T"}, *CHECKBOX])
    routine, rush = people[:2]
    do_save_flow(
        owner,
        form,
        {
            "nodes": [
                node(
                    "routine",
                    members_spec(routine),
                    condition={"field": "urgent", "op": "eq", "value": False},
                ),
                node(
                    "rush",
                    members_spec(rush),
                    condition={"field": "urgent", "op": "eq", "value": "true"},
                ),
            ]
        },
    )
    calm, _created = do_create_record(member, form, {"title": "a", "urgent": False})
    hurry, _created = do_create_record(member, form, {"title": "b", "urgent": True})
    assert states(ApprovalInstance.objects.get(record=calm)) == [(routine.pk, "pending")]
    assert states(ApprovalInstance.objects.get(record=hurry)) == [(rush.pk, "pending")]


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "urgent", "op": "eq", "value": "yes"},
        {"field": "urgent", "op": "eq", "value": 1},
        {"field": "urgent", "op": "gt", "value": True},
        {"field": "urgent", "op": "in", "value": [True, "maybe"]},
    ],
)
def test_checkbox_conditions_take_true_or_false(owner, make_form, condition):
    form = make_form(CHECKBOX)
    with pytest.raises(ValidationFailed) as caught:
        do_save_flow(owner, form, {"nodes": [node("n1", {"kind": "manager"}, condition=condition)]})
    assert "definition.nodes.0.condition.value" in caught.value.fields


@pytest.mark.parametrize("huge", [2**63, 10**30])
@pytest.mark.parametrize("where", ["approvers", "cc", "flow_cc"])
def test_huge_member_ids_are_400(api, owner, form, huge, where):
    spec = {"kind": "members", "members": [huge]}
    first = node("n1", spec if where == "approvers" else {"kind": "manager"})
    if where == "cc":
        first["cc"] = spec
    definition = {"nodes": [first], **({"cc": spec} if where == "flow_cc" else {})}
    response = api(owner).put(
        f"/api/v1/orgs/{owner.org_id}/lowcode/forms/{form.pk}/approval-flow/",
        {"definition": definition},
        format="json",
    )
    assert response.status_code == 400, response.content
    path = {
        "approvers": "definition.nodes.0.approvers.members.0",
        "cc": "definition.nodes.0.cc.members.0",
        "flow_cc": "definition.cc.members.0",
    }[where]
    assert path in response.json()["error"]["fields"], response.json()


def test_largest_id_is_an_unknown_member_not_an_error(owner, form):
    with pytest.raises(ValidationFailed) as caught:
        do_save_flow(
            owner, form, {"nodes": [node("n1", {"kind": "members", "members": [2**63 - 1]})]}
        )
    assert "definition.nodes.0.approvers.members" in caught.value.fields


def test_node_cc_and_flow_cc(owner, form, member, people):
    a, watcher, finance = people[:3]
    do_save_flow(
        owner,
        form,
        {
            "nodes": [node("n1", members_spec(a), cc=members_spec(watcher))],
            "cc": members_spec(finance),
        },
    )
    _record, instance = submit(form, member)
    assert list(
        ApprovalCc.objects.filter(instance=instance).values_list("member_id", "node_index")
    ) == [(watcher.pk, 0)]
    do_approve(a, instance)
    assert set(
        ApprovalCc.objects.filter(instance=instance).values_list("member_id", "node_index")
    ) == {(watcher.pk, 0), (finance.pk, None)}


def test_rejected_flow_does_not_cc_the_flow_cc(owner, form, member, people):
    a, finance = people[:2]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a))], "cc": members_spec(finance)})
    _record, instance = submit(form, member)
    do_reject(a, instance, "no")
    assert not ApprovalCc.objects.filter(instance=instance).exists()


# --- transitions: transfer, withdraw, urge, 409s ------------------------------------


@pytest.fixture
def pending(owner, form, member, people):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(people[0]), time_limit_hours=2)]})
    _record, instance = submit(form, member)
    return instance


def test_transfer_hands_the_task_to_another_member(pending, people):
    a, b = people[:2]
    do_transfer(a, pending, b.pk, "You know this client")
    assert states(pending) == [(a.pk, "transferred"), (b.pk, "pending")]
    new = ApprovalTask.objects.get(instance=pending, approver=b)
    assert new.node_index == 0 and new.position == 0 and new.due_at is not None
    step = ApprovalStep.objects.get(instance=pending, action="transfer")
    assert step.data["to"] == b.pk and step.comment == "You know this client"
    with pytest.raises(Conflict):
        do_approve(a, pending)  # a handed it over
    do_approve(b, pending)
    assert refreshed(pending).state == "approved"


def test_transfer_refuses_bad_targets(pending, people, outsider):
    a = people[0]
    for target in (a.pk, outsider.pk, 999999):
        with pytest.raises(ValidationFailed) as caught:
            do_transfer(a, pending, target)
        assert "member_id" in caught.value.fields
    assert states(pending) == [(a.pk, "pending")]


def test_withdraw_by_the_submitter(pending, member, people):
    record = pending.record
    do_withdraw(member, pending)
    instance = refreshed(pending)
    assert instance.state == "withdrawn"
    assert states(instance) == [(people[0].pk, "cancelled")]
    record.refresh_from_db()
    assert record.approval_state == "withdrawn"


def test_only_the_submitter_withdraws_or_urges(pending, people):
    with pytest.raises(Forbidden):
        do_withdraw(people[0], pending)
    with pytest.raises(Forbidden):
        do_urge(people[0], pending)


def test_non_approver_cannot_approve_reject_or_transfer(pending, people, member):
    for act in (
        lambda: do_approve(people[1], pending),
        lambda: do_reject(people[1], pending, "x"),
        lambda: do_transfer(people[1], pending, member.pk),
    ):
        with pytest.raises(Forbidden):
            act()


@pytest.mark.parametrize("finish", ["approve", "reject", "withdraw"])
@pytest.mark.parametrize("then", ["approve", "reject", "transfer", "withdraw", "urge"])
def test_actions_on_a_finished_approval_are_409(pending, member, people, finish, then):
    a, b = people[:2]
    {
        "approve": lambda: do_approve(a, pending),
        "reject": lambda: do_reject(a, pending, "no"),
        "withdraw": lambda: do_withdraw(member, pending),
    }[finish]()
    steps = ApprovalStep.objects.filter(instance=pending).count()
    with pytest.raises(Conflict) as caught:
        {
            "approve": lambda: do_approve(a, pending),
            "reject": lambda: do_reject(a, pending, "again"),
            "transfer": lambda: do_transfer(a, pending, b.pk),
            "withdraw": lambda: do_withdraw(member, pending),
            "urge": lambda: do_urge(member, pending),
        }[then]()
    assert caught.value.code == "invalid_transition"
    assert ApprovalStep.objects.filter(instance=pending).count() == steps


def test_transition_tables_are_explicit():
    assert ("approved", "approve") not in approvals.INSTANCE_TRANSITIONS
    assert approvals.TASK_TRANSITIONS[("pending", "transfer")] == "transferred"
    assert ("approved", "approve") not in approvals.TASK_TRANSITIONS


def test_urge_is_limited_to_once_an_hour(pending, member, people):
    do_urge(member, pending)
    assert ApprovalStep.objects.filter(instance=pending, action="urge").count() == 1
    with pytest.raises(Conflict) as caught:
        do_urge(member, pending)
    assert caught.value.code == "urged_recently"
    ApprovalStep.objects.filter(instance=pending, action="urge").update(
        at=timezone.now() - timedelta(hours=2)
    )
    do_urge(member, pending)
    assert ApprovalStep.objects.filter(instance=pending, action="urge").count() == 2


def test_reminders_for_overdue_tasks_at_most_three(pending, people):
    task = ApprovalTask.objects.get(instance=pending)
    assert task.due_at is not None
    assert send_due_reminders() == 0  # not due yet
    ApprovalTask.objects.filter(pk=task.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    assert send_due_reminders() == 1
    assert send_due_reminders() == 0  # reminded less than time_limit_hours ago
    later = timezone.now() + timedelta(hours=2, minutes=1)
    assert send_due_reminders(later) == 1
    assert send_due_reminders(later + timedelta(hours=2, minutes=1)) == 1
    assert send_due_reminders(later + timedelta(hours=10)) == 0  # three is the limit
    task.refresh_from_db()
    assert task.reminder_count == 3
    assert ApprovalStep.objects.filter(instance=pending, action="remind").count() == 3
    notices = Message.objects.filter(
        conversation__direct_key=f"approvals:{people[0].pk}", kind="text"
    )
    assert notices.filter(body__startswith="Reminder").count() == 3


def test_reminder_celery_task_runs(pending):
    from lowcode.tasks import send_approval_reminders

    ApprovalTask.objects.filter(instance=pending).update(due_at=timezone.now() - timedelta(hours=1))
    assert send_approval_reminders.delay().get() == 1


def test_every_step_records_who_when_and_comment(pending, member, people):
    do_approve(people[0], pending, "fine")
    steps = list(ApprovalStep.objects.filter(instance=pending).order_by("id"))
    assert [s.action for s in steps] == ["submit", "approve", "finish"]
    assert steps[0].actor_id == member.pk
    assert (steps[1].actor_id, steps[1].comment, steps[1].node_index) == (people[0].pk, "fine", 0)
    assert all(s.at is not None for s in steps)


def test_flow_changes_do_not_affect_running_approvals(owner, form, pending, people):
    do_save_flow(owner, form, {"nodes": [node("other", members_spec(people[2]))]})
    do_approve(people[0], pending)
    assert refreshed(pending).state == "approved"


# --- records: lock, visibility, field usage ------------------------------------------


def test_pending_record_is_locked_for_everyone(pending, member, owner):
    record = Record.objects.get(pk=pending.record_id)
    for who in (member, owner):  # the submitter, and a manager of the app
        with pytest.raises(Conflict) as caught:
            do_update_record(who, record, {"title": "Changed"})
        assert caught.value.code == "approval_locked"
        with pytest.raises(Conflict):
            do_delete_record(who, record)
    record.refresh_from_db()
    assert record.data["title"] == "Trip" and record.deleted_at is None


def test_approved_record_is_locked_for_its_submitter_even_a_manager(api, owner, admin, form):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(owner))]})
    form.app.permissions["manage"]["members"] = [admin.pk]
    form.app.save(update_fields=["permissions"])
    record, instance = submit(form, admin, amount=100)
    do_approve(owner, instance)
    response = api(admin).patch(
        f"/api/v1/orgs/{owner.org_id}/lowcode/records/{record.pk}/",
        {"data": {"amount": {"amount": 1_000_000, "currency": "CNY"}}},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "approval_locked"
    record.refresh_from_db()
    assert record.data["amount"]["amount"] == 100 and record.approval_state == "approved"


def test_approved_record_is_locked_for_a_submitter_without_manage(pending, member, people):
    do_approve(people[0], pending)
    record = Record.objects.get(pk=pending.record_id)
    with pytest.raises(Conflict) as caught:
        do_update_record(member, record, {"title": "Changed"})
    assert caught.value.code == "approval_locked"


def test_another_manager_may_edit_an_approved_record_which_is_no_longer_approved(
    api, pending, member, owner, people
):
    do_approve(people[0], pending)
    record = Record.objects.get(pk=pending.record_id)
    url = f"/api/v1/orgs/{owner.org_id}/lowcode/records/{record.pk}/"
    # A refused write leaves the approval as it was.
    bad = api(owner).patch(url, {"data": {"amount": {"amount": "lots"}}}, format="json")
    assert bad.status_code == 400
    record.refresh_from_db()
    assert record.approval_state == "approved"
    assert not ApprovalStep.objects.filter(instance=pending, action="edit_after_approval").exists()
    response = api(owner).patch(url, {"data": {"title": "Fixed"}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["approval_state"] == ""
    record.refresh_from_db()
    assert record.approval_state == "" and record.data["title"] == "Fixed"
    step = ApprovalStep.objects.get(instance=pending, action="edit_after_approval")
    assert step.actor_id == owner.pk and step.data == {"previous_state": "approved"}
    assert refreshed(pending).state == "approved"  # the history keeps what was decided
    detail = api(member).get(base(member) + f"{pending.pk}/").json()
    assert detail["steps"][-1]["action"] == "edit_after_approval"


def test_withdrawn_or_rejected_record_can_be_edited_again(pending, member):
    do_withdraw(member, pending)
    record = Record.objects.get(pk=pending.record_id)
    assert do_update_record(member, record, {"title": "Again"}).data["title"] == "Again"


def test_approvers_and_cc_see_the_record(api, owner, form, member, people):
    a, watcher, stranger = people[:3]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a), cc=members_spec(watcher))]})
    record, _instance = submit(form, member)
    url = f"/api/v1/orgs/{owner.org_id}/lowcode/records/{record.pk}/"
    assert api(a).get(url).status_code == 200
    assert api(watcher).get(url).status_code == 200
    assert api(stranger).get(url).status_code == 404
    listing = api(a).get(f"/api/v1/orgs/{owner.org_id}/lowcode/records/?form={form.pk}")
    assert [r["id"] for r in listing.json()["results"]] == [record.pk]


def test_removing_a_field_a_condition_uses_blocks_the_publish(owner, form, people):
    do_save_flow(owner, form, branch_flow(*people[:2]))
    do_update_form(owner, form, fields=[f for f in FIELDS if f["key"] != "amount"])
    with pytest.raises(Conflict) as caught:
        do_publish_form(owner, form)
    assert caught.value.code == "field_in_use"


# --- API ----------------------------------------------------------------------------


def base(who):
    return f"/api/v1/orgs/{who.org_id}/lowcode/approvals/"


def test_inbox_boxes(api, owner, form, member, people):
    a, watcher = people[:2]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a), cc=members_spec(watcher))]})
    record, instance = submit(form, member)
    todo = api(a).get(base(a) + "?box=todo").json()["results"]
    assert [i["id"] for i in todo] == [instance.pk]
    item = todo[0]
    assert item["record_id"] == record.pk and item["record_number"] == record.number
    assert item["form_name"] == "Expense claim" and item["app_id"] == form.app_id
    assert item["submitter"] == {"id": member.pk, "name": member.user.display_name}
    assert item["current_node_name"] == "N1" and item["state"] == "pending"
    assert item["summary"][0] == {"label": "Title", "value": "Trip"}
    assert "12,500.00" in item["summary"][1]["value"]
    assert item["my_task"]["state"] == "pending" and item["my_task"]["node_name"] == "N1"
    assert [
        i["id"] for i in api(member).get(base(member) + "?box=submitted").json()["results"]
    ] == [instance.pk]
    assert [i["id"] for i in api(watcher).get(base(watcher) + "?box=cc").json()["results"]] == [
        instance.pk
    ]
    assert api(a).get(base(a) + "?box=done").json()["results"] == []
    do_approve(a, instance)
    assert api(a).get(base(a) + "?box=todo").json()["results"] == []
    done = api(a).get(base(a) + "?box=done").json()["results"]
    assert [i["id"] for i in done] == [instance.pk] and done[0]["my_task"]["state"] == "approved"
    assert api(a).get(base(a) + "?box=junk").status_code == 400


def test_inbox_pages_newest_first(api, owner, form, member, people):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(people[0]))]})
    ids = [submit(form, member)[1].pk for _ in range(3)]
    first = api(member).get(base(member) + "?box=submitted&limit=2").json()
    assert [i["id"] for i in first["results"]] == ids[::-1][:2]
    second = (
        api(member)
        .get(base(member) + f"?box=submitted&limit=2&cursor={first['next_cursor']}")
        .json()
    )
    assert [i["id"] for i in second["results"]] == [ids[0]] and second["next_cursor"] is None


def test_detail_and_actions_over_the_api(api, owner, form, member, people):
    a, b = people[:2]
    do_save_flow(
        owner,
        form,
        {"nodes": [node("n1", members_spec(a)), node("n2", members_spec(b), mode="all")]},
    )
    _record, instance = submit(form, member)
    url = base(a) + f"{instance.pk}/"
    detail = api(a).get(url).json()
    assert detail["allowed_actions"] == ["approve", "reject", "transfer"]
    assert [n["state"] for n in detail["nodes"]] == ["pending", "waiting"]
    assert api(member).get(url).json()["allowed_actions"] == ["withdraw", "urge"]
    approved = api(a).post(url + "approve/", {"comment": "ok"}, format="json")
    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert [n["state"] for n in body["nodes"]] == ["approved", "pending"]
    assert [s["action"] for s in body["steps"]] == ["submit", "approve"]
    assert body["steps"][1]["actor"]["id"] == a.pk and body["steps"][1]["comment"] == "ok"
    assert body["allowed_actions"] == []
    again = api(a).post(url + "approve/", {}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    assert api(b).post(url + "reject/", {}, format="json").status_code == 400
    assert api(b).post(url + "reject/", {"comment": ""}, format="json").status_code == 400
    rejected = api(b).post(url + "reject/", {"comment": "No budget"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert [n["state"] for n in rejected.json()["nodes"]] == ["approved", "rejected"]
    withdrawn = api(member).post(url + "withdraw/", {}, format="json")
    assert (
        withdrawn.status_code == 409 and withdrawn.json()["error"]["code"] == "invalid_transition"
    )
    assert api(member).post(url + "urge/", {}, format="json").status_code == 409


def test_transfer_withdraw_urge_over_the_api(api, owner, form, member, people):
    a, b = people[:2]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a))]})
    _record, instance = submit(form, member)
    url = base(a) + f"{instance.pk}/"
    moved = api(a).post(url + "transfer/", {"member_id": b.pk, "comment": "yours"}, format="json")
    assert moved.status_code == 200, moved.content
    assert [(t["approver"]["id"], t["state"]) for t in moved.json()["tasks"]] == [
        (a.pk, "transferred"),
        (b.pk, "pending"),
    ]
    assert api(a).post(url + "approve/", {}, format="json").status_code == 409
    assert api(member).post(url + "urge/", {}, format="json").status_code == 200
    urged = api(member).post(url + "urge/", {}, format="json")
    assert urged.status_code == 409 and urged.json()["error"]["code"] == "urged_recently"
    assert api(a).post(url + "withdraw/", {}, format="json").status_code == 403
    done = api(member).post(url + "withdraw/", {}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "withdrawn"
    assert api(b).post(url + "approve/", {}, format="json").status_code == 409


def test_strangers_get_404_and_visible_non_approvers_403(
    api, owner, form, member, people, add_member
):
    a, stranger = people[:2]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a))]})
    _record, instance = submit(form, member)
    url = base(a) + f"{instance.pk}/"
    assert api(stranger).get(url).status_code == 404
    assert api(stranger).post(url + "approve/", {}, format="json").status_code == 404
    # The owner sees every record (view_all) but is not an approver.
    assert api(owner).get(url).status_code == 200
    assert api(owner).post(url + "approve/", {}, format="json").status_code == 403
    assert api(member).post(url + "approve/", {}, format="json").status_code == 403


def test_another_orgs_approval_is_404(api, owner, form, member, people, outsider):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(people[0]))]})
    _record, instance = submit(form, member)
    for url in (f"{base(outsider)}{instance.pk}/", f"{base(owner)}{instance.pk}/"):
        assert api(outsider).get(url).status_code == 404
        assert api(outsider).post(url + "withdraw/", {}, format="json").status_code == 404
    assert api(outsider).get(base(outsider) + "?box=submitted").json()["results"] == []


def test_record_created_over_the_api_starts_the_flow(api, owner, form, member, people):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(people[0]))]})
    response = api(member).post(
        f"/api/v1/orgs/{owner.org_id}/lowcode/records/",
        {"form": form.pk, "data": {"title": "Taxi", "amount": {"amount": 5000, "currency": "CNY"}}},
        format="json",
    )
    assert response.status_code == 201
    record = Record.objects.get(pk=response.json()["id"])
    assert record.approval_state == "pending"
    edit = api(member).patch(
        f"/api/v1/orgs/{owner.org_id}/lowcode/records/{record.pk}/",
        {"data": {"title": "x"}},
        format="json",
    )
    assert edit.status_code == 409


# --- chat cards -----------------------------------------------------------------------


def card_message(task):
    task.refresh_from_db()
    return Message.objects.get(pk=task.card_message_id)


def click(api, who, message, action_id):
    return api(who).post(
        f"/api/v1/orgs/{who.org_id}/messages/{message.pk}/card-actions/",
        {"action_id": action_id},
        format="json",
    )


def test_approver_gets_a_card_in_the_approvals_conversation(pending, member, people):
    a = people[0]
    task = ApprovalTask.objects.get(instance=pending)
    message = card_message(task)
    conversation = message.conversation
    assert conversation.kind == Conversation.Kind.NOTICE and conversation.name == "Approvals"
    assert list(
        ConversationMember.objects.filter(conversation=conversation).values_list(
            "membership_id", flat=True
        )
    ) == [a.pk]
    card = message.card
    assert (
        card["title"] == f"Expense claim #{pending.record.number} from {member.user.display_name}"
    )
    assert {"label": "Amount", "value": card["fields"][1]["value"]} in card["fields"]
    assert "12,500.00" in card["fields"][1]["value"]
    assert [b["action_id"] for b in card["buttons"]] == ["approve", "reject"]


def test_approve_from_chat(api, pending, member, people):
    a = people[0]
    message = card_message(ApprovalTask.objects.get(instance=pending))
    response = click(api, a, message, "approve")
    assert response.status_code == 200, response.content
    assert refreshed(pending).state == "approved"
    card = response.json()["message"]["card"]
    assert "buttons" not in card or card["buttons"] == []
    assert any(f["value"] == f"Approved by {a.user.display_name}" for f in card["fields"])
    assert response.json()["reply"]["body"] == "Approved."
    again = click(api, a, message, "approve")
    assert again.status_code in (400, 409)
    # The submitter hears the outcome in their own Approvals conversation.
    assert Message.objects.filter(
        conversation__direct_key=f"approvals:{member.pk}", body__contains="was approved"
    ).exists()


def test_reject_from_chat(api, pending, people):
    a = people[0]
    message = card_message(ApprovalTask.objects.get(instance=pending))
    response = click(api, a, message, "reject")
    assert response.status_code == 200, response.content
    instance = refreshed(pending)
    assert instance.state == "rejected"
    assert (
        ApprovalStep.objects.get(instance=instance, action="reject").comment == "Rejected from chat"
    )
    card = Message.objects.get(pk=message.pk).card
    assert "buttons" not in card


def test_card_updates_on_withdraw_and_transfer(pending, member, people):
    a, b = people[:2]
    task = ApprovalTask.objects.get(instance=pending)
    do_transfer(a, pending, b.pk)
    assert any(
        f["value"] == f"Transferred to {b.user.display_name}"
        for f in card_message(task).card["fields"]
    )
    assert "buttons" not in card_message(task).card
    new = ApprovalTask.objects.get(instance=pending, approver=b)
    assert [x["action_id"] for x in card_message(new).card["buttons"]] == ["approve", "reject"]
    do_withdraw(member, pending)
    card = card_message(new).card
    assert "buttons" not in card and any(
        f["value"] == "Withdrawn by the submitter" for f in card["fields"]
    )


def test_card_click_after_withdraw_is_refused(api, pending, member, people):
    a = people[0]
    message = card_message(ApprovalTask.objects.get(instance=pending))
    stale_card = message.card
    do_withdraw(member, pending)
    Message.objects.filter(pk=message.pk).update(card=stale_card)  # a client still showing buttons
    response = click(api, a, message, "approve")
    assert response.status_code == 409
    assert refreshed(pending).state == "withdrawn"


def test_only_one_notice_conversation_per_member(owner, form, member, people):
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(people[0]))]})
    submit(form, member)
    submit(form, member)
    assert (
        Conversation.objects.filter(kind="notice", direct_key=f"approvals:{people[0].pk}").count()
        == 1
    )
    assert (
        Message.objects.filter(
            conversation__direct_key=f"approvals:{people[0].pk}", kind="card"
        ).count()
        == 2
    )


def test_card_handler_without_task_is_404(pending, people):
    from lowcode.approval_cards import on_card_click

    message = card_message(ApprovalTask.objects.get(instance=pending))
    with pytest.raises(NotFound):
        on_card_click(people[1], message, {"action_id": "approve", "value": ""})


def test_card_of_a_bot_with_an_unknown_handler_is_unavailable(api, pending, people):
    from im.models import Bot

    message = card_message(ApprovalTask.objects.get(instance=pending))
    Bot.objects.filter(pk=message.bot_id).update(handler="nobody.here")
    response = click(api, people[0], message, "approve")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "card_owner_unavailable"
    assert refreshed(pending).state == "pending"


def test_withdraw_cancels_pending_and_waiting_tasks(owner, form, member, people):
    a, b = people[:2]
    do_save_flow(owner, form, {"nodes": [node("n1", members_spec(a, b))]})
    _record, instance = submit(form, member)
    assert states(instance) == [(a.pk, "pending"), (b.pk, "waiting")]
    do_withdraw(member, instance)
    assert states(instance) == [(a.pk, "cancelled"), (b.pk, "cancelled")]


@pytest.mark.parametrize("state", list(ApprovalTask.State.values))
@pytest.mark.parametrize("action", ["activate", "approve", "reject", "transfer", "cancel"])
def test_task_moves_only_along_the_table(state, action):
    task = ApprovalTask(state=state)
    expected = approvals.TASK_TRANSITIONS.get((state, action))
    if expected is None:
        with pytest.raises(Conflict) as caught:
            approvals._move_task(task, action)
        assert caught.value.code == "invalid_transition"
        assert task.state == state
    else:
        approvals._move_task(task, action)
        assert task.state == expected


@pytest.mark.parametrize("state", ["approved", "rejected", "withdrawn"])
@pytest.mark.parametrize("action", ["approve", "reject", "transfer", "withdraw", "urge", "remind"])
def test_finished_instances_allow_nothing(state, action):
    with pytest.raises(Conflict) as caught:
        approvals.check_instance_transition(ApprovalInstance(state=state), action)
    assert caught.value.code == "invalid_transition"


def test_deleted_records_are_not_reminded_nor_approvable_from_chat(api, owner, pending, people):
    # Deleted before pending records were locked (or by a later bulk clean-up).
    Record.objects.filter(pk=pending.record_id).update(deleted_at=timezone.now())
    ApprovalTask.objects.filter(instance=pending).update(due_at=timezone.now() - timedelta(hours=1))
    assert send_due_reminders() == 0
    message = card_message(ApprovalTask.objects.get(instance=pending))
    assert click(api, people[0], message, "approve").status_code == 404
    assert api(people[0]).get(base(people[0]) + "?box=todo").json()["results"] == []
    assert api(people[0]).get(base(people[0]) + f"{pending.pk}/").status_code == 404
