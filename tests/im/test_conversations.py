"""Conversations: direct pairs, groups and their management, all-staff and department groups."""

from __future__ import annotations

import itertools

import pytest

from core.actions import (
    do_accept_invitation,
    do_add_department_member,
    do_create_department,
    do_invite_member,
    do_remove_department_member,
    do_remove_member,
    do_set_member_status,
)
from core.models import Membership, User
from im import actions
from im.models import Conversation, ConversationMember, Message

_bulk_seq = itertools.count(1)


def url(org, path: str) -> str:
    return f"/api/v1/orgs/{org.pk}/{path}"


def member_ids(conversation: Conversation) -> set[int]:
    return set(
        ConversationMember.objects.filter(conversation=conversation).values_list(
            "membership_id", flat=True
        )
    )


def assert_member_count_matches(conversation: Conversation) -> None:
    conversation.refresh_from_db()
    assert conversation.member_count == len(member_ids(conversation))


@pytest.fixture
def group(owner, admin, member) -> Conversation:
    conversation = actions.do_create_group(owner, name="Night shift", member_ids=[admin.pk])
    actions._add_members(conversation, [member])
    ConversationMember.objects.filter(conversation=conversation, membership=admin).update(
        role="admin"
    )
    return conversation


# --- Direct ------------------------------------------------------------------------------


def test_direct_conversation_is_one_per_pair_from_either_side(api, org, owner, member):
    first = api(owner).post(url(org, "conversations/direct/"), {"member_id": member.pk})
    again = api(owner).post(url(org, "conversations/direct/"), {"member_id": member.pk})
    other_side = api(member).post(url(org, "conversations/direct/"), {"member_id": owner.pk})

    assert first.status_code == again.status_code == other_side.status_code == 200
    assert first.json()["id"] == again.json()["id"] == other_side.json()["id"]
    assert first.json()["kind"] == "direct"
    assert Conversation.objects.filter(org=org, kind="direct").count() == 1
    conversation = Conversation.objects.get(pk=first.json()["id"])
    assert member_ids(conversation) == {owner.pk, member.pk}
    assert conversation.member_count == 2


def test_direct_conversation_title_is_the_other_person(api, org, owner, member):
    api(owner).post(url(org, "conversations/direct/"), {"member_id": member.pk})

    listed = api(owner).get(url(org, "conversations/")).json()

    assert [c["title"] for c in listed] == [member.user.display_name]


def test_direct_conversation_with_a_suspended_member_is_not_found(api, org, owner, add_member):
    suspended = add_member(org, status="suspended")

    response = api(owner).post(url(org, "conversations/direct/"), {"member_id": suspended.pk})

    assert response.status_code == 404


# --- Groups ------------------------------------------------------------------------------


def test_create_group_with_members_makes_the_creator_owner(api, org, owner, admin, member):
    response = api(member).post(
        url(org, "conversations/"), {"name": "  Pickers  ", "member_ids": [admin.pk, owner.pk]}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "group"
    assert body["name"] == "Pickers"
    assert body["member_count"] == 3
    conversation = Conversation.objects.get(pk=body["id"])
    assert member_ids(conversation) == {owner.pk, admin.pk, member.pk}
    roles = dict(
        ConversationMember.objects.filter(conversation=conversation).values_list(
            "membership_id", "role"
        )
    )
    assert roles == {member.pk: "owner", admin.pk: "member", owner.pk: "member"}


def test_guest_cannot_create_a_group(api, org, guest, member):
    response = api(guest).post(url(org, "conversations/"), {"name": "x", "member_ids": []})

    assert response.status_code == 403


def test_create_group_with_an_unknown_member_fails_and_creates_nothing(api, org, member):
    response = api(member).post(url(org, "conversations/"), {"name": "x", "member_ids": [999999]})

    assert response.status_code == 404
    assert not Conversation.objects.filter(org=org).exists()


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_group_owner_and_admins_can_rename(api, org, group, who, request):
    actor = request.getfixturevalue(who)

    response = api(actor).patch(
        url(org, f"conversations/{group.pk}/"), {"name": "Day shift", "topic": "Rota"}
    )

    assert response.status_code == 200
    group.refresh_from_db()
    assert (group.name, group.topic) == ("Day shift", "Rota")


def test_plain_group_member_cannot_rename(api, org, group, member):
    response = api(member).patch(url(org, f"conversations/{group.pk}/"), {"name": "Mine now"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    group.refresh_from_db()
    assert group.name == "Night shift"


def test_rename_to_blank_is_rejected(api, org, group, owner):
    response = api(owner).patch(url(org, f"conversations/{group.pk}/"), {"name": "   "})

    assert response.status_code == 400
    assert "error" in response.json()


def test_admin_adds_members_and_count_follows(api, org, group, admin, add_member):
    newcomers = [add_member(org), add_member(org)]

    response = api(admin).post(
        url(org, f"conversations/{group.pk}/members/"),
        {"member_ids": [m.pk for m in newcomers]},
        format="json",
    )

    assert response.status_code == 201
    assert {row["member_id"] for row in response.json()} == {m.pk for m in newcomers}
    assert {m.pk for m in newcomers} <= member_ids(group)
    group.refresh_from_db()
    assert group.member_count == 5
    assert_member_count_matches(group)


def test_adding_an_existing_member_again_changes_nothing(api, org, group, owner, member):
    response = api(owner).post(
        url(org, f"conversations/{group.pk}/members/"), {"member_ids": [member.pk]}, format="json"
    )

    assert response.status_code == 201
    assert_member_count_matches(group)
    group.refresh_from_db()
    assert group.member_count == 3


def test_new_member_starts_with_nothing_unread(api, org, group, owner, add_member):
    actions.do_send_message(owner, group, body="before you came")
    newcomer = add_member(org)

    api(owner).post(
        url(org, f"conversations/{group.pk}/members/"), {"member_ids": [newcomer.pk]}, format="json"
    )

    assert api(newcomer).get(url(org, "unread/")).json()["total_unread"] == 0


def test_plain_member_cannot_add_members(api, org, group, member, add_member):
    response = api(member).post(
        url(org, f"conversations/{group.pk}/members/"),
        {"member_ids": [add_member(org).pk]},
        format="json",
    )

    assert response.status_code == 403


def test_members_list_is_paginated_and_complete(api, org, group, owner):
    response = api(owner).get(url(org, f"conversations/{group.pk}/members/"))

    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert {row["member_id"] for row in rows} == member_ids(group)


def test_admin_removes_a_member(api, org, group, admin, member):
    response = api(admin).delete(url(org, f"conversations/{group.pk}/members/{member.pk}/"))

    assert response.status_code == 204
    assert member.pk not in member_ids(group)
    assert_member_count_matches(group)
    assert api(member).get(url(org, f"conversations/{group.pk}/")).status_code == 404


def test_owner_cannot_be_removed(api, org, group, admin, owner):
    response = api(admin).delete(url(org, f"conversations/{group.pk}/members/{owner.pk}/"))

    assert response.status_code == 403
    assert owner.pk in member_ids(group)


def test_member_leaves_a_group(api, org, group, member):
    response = api(member).post(url(org, f"conversations/{group.pk}/leave/"))

    assert response.status_code == 204
    assert member.pk not in member_ids(group)
    assert_member_count_matches(group)


def test_owner_must_transfer_before_leaving(api, org, group, owner):
    response = api(owner).post(url(org, f"conversations/{group.pk}/leave/"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "owner_must_transfer"
    assert owner.pk in member_ids(group)


def test_transfer_ownership_then_former_owner_may_leave(api, org, group, owner, member):
    response = api(owner).post(
        url(org, f"conversations/{group.pk}/transfer/"), {"member_id": member.pk}
    )

    assert response.status_code == 200
    assert response.json()["owner"] == member.pk
    roles = dict(
        ConversationMember.objects.filter(conversation=group).values_list("membership_id", "role")
    )
    assert roles[member.pk] == "owner"
    assert roles[owner.pk] == "admin"
    assert api(owner).post(url(org, f"conversations/{group.pk}/leave/")).status_code == 204


def test_only_the_owner_can_transfer_ownership(api, org, group, admin, member):
    response = api(admin).post(
        url(org, f"conversations/{group.pk}/transfer/"), {"member_id": member.pk}
    )

    assert response.status_code == 403
    group.refresh_from_db()
    assert group.owner_id != member.pk


def test_transfer_to_someone_outside_the_group_is_not_found(api, org, group, owner, add_member):
    stranger = add_member(org)

    response = api(owner).post(
        url(org, f"conversations/{group.pk}/transfer/"), {"member_id": stranger.pk}
    )

    assert response.status_code == 404


# --- My settings and the list ----------------------------------------------------------


def test_mute_and_pin_are_my_own_settings(api, org, group, owner, member):
    response = api(member).patch(
        url(org, f"conversations/{group.pk}/my-settings/"), {"muted": True, "pinned": True}
    )

    assert response.status_code == 200
    assert response.json() == {"muted": True, "pinned": True}
    mine = ConversationMember.objects.get(conversation=group, membership=member)
    theirs = ConversationMember.objects.get(conversation=group, membership=owner)
    assert (mine.muted, mine.pinned) == (True, True)
    assert (theirs.muted, theirs.pinned) == (False, False)

    api(member).patch(url(org, f"conversations/{group.pk}/my-settings/"), {"muted": False})
    mine.refresh_from_db()
    assert (mine.muted, mine.pinned) == (False, True)


def test_pinned_conversations_come_first_then_most_recent(api, org, owner, member, admin):
    quiet = actions.do_create_group(owner, name="Quiet", member_ids=[member.pk])
    busy = actions.do_create_group(owner, name="Busy", member_ids=[member.pk])
    actions.do_send_message(owner, quiet, body="old")
    actions.do_send_message(owner, busy, body="new")

    before = [c["conversation"]["id"] for c in api(member).get(url(org, "conversations/")).json()]
    api(member).patch(url(org, f"conversations/{quiet.pk}/my-settings/"), {"pinned": True})
    after = api(member).get(url(org, "conversations/")).json()

    assert before == [busy.pk, quiet.pk]
    assert [c["conversation"]["id"] for c in after] == [quiet.pk, busy.pk]
    assert [c["pinned"] for c in after] == [True, False]


# --- All staff -------------------------------------------------------------------------


def test_all_staff_is_created_on_demand_with_every_active_member(
    api, org, owner, admin, member, guest, add_member
):
    add_member(org, status="suspended")

    first = api(member).post(url(org, "conversations/all-staff/"))
    second = api(admin).post(url(org, "conversations/all-staff/"))

    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["kind"] == "all_staff"
    conversation = Conversation.objects.get(pk=first.json()["id"])
    assert member_ids(conversation) == {owner.pk, admin.pk, member.pk, guest.pk}
    assert conversation.member_count == 4


def test_all_staff_members_are_managed_by_the_organisation(api, org, owner, member):
    conversation = actions.do_ensure_all_staff(org.pk)

    rename = api(owner).patch(url(org, f"conversations/{conversation.pk}/"), {"name": "x"})
    leave = api(member).post(url(org, f"conversations/{conversation.pk}/leave/"))

    assert rename.status_code == 409
    assert leave.status_code == 409
    assert leave.json()["error"]["code"] == "managed_conversation"


def test_all_staff_follows_invitations_suspensions_and_removals(
    org, owner, member, add_member, django_capture_on_commit_callbacks
):
    conversation = actions.do_ensure_all_staff(org.pk)
    leaver = add_member(org)
    with django_capture_on_commit_callbacks(execute=True):
        actions.sync_membership(leaver)  # as core does when a membership is created
    assert member_ids(conversation) == {owner.pk, member.pk, leaver.pk}

    with django_capture_on_commit_callbacks(execute=True):
        issued = do_invite_member(owner, email="newbie@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        newbie = do_accept_invitation(
            issued.token, user=None, display_name="Newbie", password="correct-horse-battery"
        )
    assert newbie.pk in member_ids(conversation)
    assert_member_count_matches(conversation)

    with django_capture_on_commit_callbacks(execute=True):
        do_set_member_status(owner, member, "suspended")
    assert member.pk not in member_ids(conversation)
    assert_member_count_matches(conversation)

    with django_capture_on_commit_callbacks(execute=True):
        do_set_member_status(owner, Membership.objects.get(pk=member.pk), "active")
    assert member.pk in member_ids(conversation)
    assert_member_count_matches(conversation)

    with django_capture_on_commit_callbacks(execute=True):
        do_remove_member(owner, leaver)
    assert member_ids(conversation) == {owner.pk, member.pk, newbie.pk}
    assert_member_count_matches(conversation)
    conversation.refresh_from_db()
    assert conversation.member_count == 3


def test_removed_member_leaves_every_conversation(
    org, owner, member, django_capture_on_commit_callbacks
):
    group = actions.do_create_group(owner, name="G", member_ids=[member.pk])
    direct = actions.do_get_or_create_direct(owner, member.pk)

    with django_capture_on_commit_callbacks(execute=True):
        do_remove_member(owner, member)

    for conversation in (group, direct):
        assert member.pk not in member_ids(conversation)
        assert_member_count_matches(conversation)


# --- Department groups -----------------------------------------------------------------


@pytest.fixture
def department(owner):
    return do_create_department(owner, name="Warehouse")


def test_department_group_follows_department_membership(
    api, org, owner, admin, member, department, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        do_add_department_member(owner, department, admin)
    conversation = actions.do_enable_department_group(owner, department)
    assert conversation.kind == "department"
    assert conversation.name == "Warehouse"
    assert member_ids(conversation) == {admin.pk}

    with django_capture_on_commit_callbacks(execute=True):
        do_add_department_member(owner, department, member)
    assert member_ids(conversation) == {admin.pk, member.pk}
    assert_member_count_matches(conversation)

    with django_capture_on_commit_callbacks(execute=True):
        do_remove_department_member(owner, department, admin)
    assert member_ids(conversation) == {member.pk}
    assert_member_count_matches(conversation)


def test_enabling_a_department_group_twice_returns_the_same(owner, department):
    first = actions.do_enable_department_group(owner, department)
    second = actions.do_enable_department_group(owner, department)

    assert first.pk == second.pk


def test_suspended_department_member_leaves_the_department_group(
    owner, member, department, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        do_add_department_member(owner, department, member)
    conversation = actions.do_enable_department_group(owner, department)

    with django_capture_on_commit_callbacks(execute=True):
        do_set_member_status(owner, member, "suspended")

    assert member.pk not in member_ids(conversation)
    assert_member_count_matches(conversation)


def test_reactivated_department_member_rejoins_the_department_group(
    owner, member, department, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        do_add_department_member(owner, department, member)
    conversation = actions.do_enable_department_group(owner, department)
    with django_capture_on_commit_callbacks(execute=True):
        do_set_member_status(owner, member, "suspended")

    with django_capture_on_commit_callbacks(execute=True):
        do_set_member_status(owner, Membership.objects.get(pk=member.pk), "active")

    assert member.pk in member_ids(conversation)


# --- Scale -----------------------------------------------------------------------------


def bulk_members(org, n: int) -> list[Membership]:
    batch = next(_bulk_seq)
    users = User.objects.bulk_create(
        [
            User(email=f"bulk{batch}-{i}@example.test", display_name=f"Bulk {i}", password="!")
            for i in range(n)
        ],
        batch_size=1000,
    )
    if users[0].pk is None:  # backends that do not return ids from bulk inserts
        users = list(User.objects.filter(email__startswith=f"bulk{batch}-"))
    Membership.objects.bulk_create(
        [Membership(org=org, user=u, role="member") for u in users], batch_size=1000
    )
    return list(Membership.objects.filter(org=org, user__email__startswith=f"bulk{batch}-"))


def test_a_two_thousand_member_group_can_be_created_and_messaged(api, org, owner):
    crowd = bulk_members(org, 2000)

    created = api(owner).post(
        url(org, "conversations/"),
        {"name": "Everyone", "member_ids": [m.pk for m in crowd]},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["member_count"] == 2001
    cid = created.json()["id"]

    sent = api(owner).post(url(org, f"conversations/{cid}/messages/"), {"body": "Hello all"})
    assert sent.status_code == 201
    receipts = api(owner).get(url(org, f"messages/{sent.json()['id']}/receipts/")).json()
    assert receipts["read_count"] == 0
    assert receipts["unread_count"] == 2000
    assert api(crowd[-1]).get(url(org, "unread/")).json()["total_unread"] == 1
    assert Message.objects.filter(conversation_id=cid).count() == 1


def test_owner_appoints_and_dismisses_group_admins_who_can_then_manage(api, org, owner, add_member):
    from im.actions import do_create_group

    alice, bob = add_member(org), add_member(org)
    group = do_create_group(owner, name="Ops", member_ids=[alice.pk, bob.pk])
    base = f"/api/v1/orgs/{org.pk}/conversations/{group.pk}/"
    assert api(alice).patch(base, {"name": "Mine"}, format="json").status_code == 403
    response = api(owner).post(base + f"members/{alice.pk}/role/", {"role": "admin"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "admin"
    assert api(alice).patch(base, {"name": "Ops & QA"}, format="json").status_code == 200
    # Only the owner appoints; the owner's own role moves only by transfer.
    assert (
        api(alice)
        .post(base + f"members/{bob.pk}/role/", {"role": "admin"}, format="json")
        .status_code
        == 403
    )
    assert (
        api(owner)
        .post(base + f"members/{owner.pk}/role/", {"role": "member"}, format="json")
        .status_code
        == 409
    )
    assert (
        api(owner)
        .post(base + f"members/{alice.pk}/role/", {"role": "owner"}, format="json")
        .status_code
        == 400
    )
    api(owner).post(base + f"members/{alice.pk}/role/", {"role": "member"}, format="json")
    assert api(alice).patch(base, {"name": "Again"}, format="json").status_code == 403


def test_group_avatar_upload_checks_image_and_size(api, org, owner, add_member, settings, tmp_path):
    import io

    from PIL import Image

    from im.actions import do_create_group

    settings.MEDIA_ROOT = tmp_path
    group = do_create_group(owner, name="Ops", member_ids=[add_member(org).pk])
    url = f"/api/v1/orgs/{org.pk}/conversations/{group.pk}/avatar/"
    image = io.BytesIO()
    Image.new("RGB", (8, 8), "#00aa00").save(image, "PNG")
    image.name = "a.png"
    image.seek(0)
    response = api(owner).post(url, {"avatar": image}, format="multipart")
    assert response.status_code == 200 and response.json()["avatar"].endswith(".png")
    fake = io.BytesIO(b"not an image")
    fake.name = "x.png"
    assert api(owner).post(url, {"avatar": fake}, format="multipart").status_code == 400
    settings.LOGO_MAX_BYTES = 10
    image.seek(0)
    assert api(owner).post(url, {"avatar": image}, format="multipart").status_code == 413
