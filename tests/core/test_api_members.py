import pytest

from core.actions import do_add_department_member, do_create_department
from core.models import AuditLogEntry, Membership

pytestmark = pytest.mark.django_db


def url(m, suffix=""):
    return f"/api/v1/orgs/{m.org_id}/members/{suffix}"


def test_member_list_filters_by_role_status_department_and_text(
    api, org, owner, add_member, make_user
):
    lab = do_create_department(owner, name="Lab")
    alice = add_member(
        org, "member", user=make_user("alice@dairy.test", name="Alice Zhang"), title="Inspector"
    )
    bob = add_member(org, "admin", user=make_user("bob@dairy.test", name="Bob Li"))
    carol = add_member(
        org, "member", user=make_user("carol@dairy.test", name="Carol 王"), status="suspended"
    )
    do_add_department_member(owner, lab, alice, is_manager=True)
    client = api(owner)

    def ids(query):
        response = client.get(url(owner) + query)
        assert response.status_code == 200, response.content
        return {m["id"] for m in response.json()["results"]}

    assert ids("?role=admin") == {bob.pk}
    assert ids("?status=suspended") == {carol.pk}
    assert ids(f"?department={lab.pk}") == {alice.pk}
    assert ids("?q=inspector") == {alice.pk}
    assert ids("?q=王") == {carol.pk}
    assert ids("?q=BOB") == {bob.pk}
    row = next(m for m in client.get(url(owner)).json()["results"] if m["id"] == alice.pk)
    assert row["departments"] == [{"id": lab.pk, "name": "Lab", "is_manager": True}]
    assert row["user"]["email"] == "alice@dairy.test"


def test_bad_filter_values_are_400_not_500(api, owner):
    response = api(owner).get(url(owner) + "?role=emperor&department=abc")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"role", "department"}


def test_member_list_is_cursor_paginated(api, org, owner, add_member):
    for _ in range(5):
        add_member(org)
    first = api(owner).get(url(owner) + "?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = api(owner).get(first["next"]).json()
    assert not {m["id"] for m in first["results"]} & {m["id"] for m in second["results"]}


def test_member_list_does_not_grow_queries_with_members(
    api, org, owner, add_member, django_assert_max_num_queries
):
    lab = do_create_department(owner, name="Lab")
    for _ in range(20):
        do_add_department_member(owner, lab, add_member(org))
    client = api(owner)
    with django_assert_max_num_queries(8):
        assert client.get(url(owner)).status_code == 200


def test_guest_cannot_read_the_directory(api, guest):
    assert api(guest).get(url(guest)).status_code == 403


def test_admin_changes_a_role_and_it_is_audited(api, admin, member):
    response = api(admin).post(url(admin, f"{member.pk}/role/"), {"role": "guest"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "guest"
    entry = AuditLogEntry.objects.get(action="member.role.change")
    assert entry.data == {"before": "member", "after": "guest"} and entry.actor == admin.user


def test_admin_cannot_grant_owner_or_touch_an_owner(api, admin, owner, member):
    assert (
        api(admin)
        .post(url(admin, f"{member.pk}/role/"), {"role": "owner"}, format="json")
        .status_code
        == 403
    )
    assert (
        api(admin)
        .post(url(admin, f"{owner.pk}/role/"), {"role": "member"}, format="json")
        .status_code
        == 403
    )
    assert api(admin).post(url(admin, f"{owner.pk}/suspend/")).status_code == 403
    owner.refresh_from_db()
    assert owner.role == "owner" and owner.status == "active"


def test_member_cannot_change_roles(api, member, admin):
    response = api(member).post(url(member, f"{admin.pk}/role/"), {"role": "guest"}, format="json")
    assert response.status_code == 403
    admin.refresh_from_db()
    assert admin.role == "admin"


def test_unknown_role_is_a_field_error(api, owner, member):
    response = api(owner).post(url(owner, f"{member.pk}/role/"), {"role": "king"}, format="json")
    assert response.status_code == 400
    assert "role" in response.json()["error"]["fields"]


def test_the_last_owner_cannot_be_demoted_suspended_or_removed(api, owner, admin):
    client = api(owner)
    for call in (
        lambda: client.post(url(owner, f"{owner.pk}/role/"), {"role": "admin"}, format="json"),
        lambda: client.delete(url(owner, f"{owner.pk}/")),
    ):
        response = call()
        assert response.status_code == 409, response.content
        assert response.json()["error"]["code"] == "last_owner"
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_with_two_owners_one_may_step_down(api, owner, admin):
    api(owner).post(url(owner, f"{admin.pk}/role/"), {"role": "owner"}, format="json")
    response = api(owner).post(url(owner, f"{owner.pk}/role/"), {"role": "admin"}, format="json")
    assert response.status_code == 200
    assert Membership.objects.get(pk=owner.pk).role == "admin"


def test_suspend_and_reactivate(api, admin, member):
    client = api(admin)
    assert client.post(url(admin, f"{member.pk}/suspend/")).json()["status"] == "suspended"
    # A suspended member loses access at once.
    assert api(member).get(url(member)).status_code == 404
    assert client.post(url(admin, f"{member.pk}/reactivate/")).json()["status"] == "active"
    assert api(member).get(url(member)).status_code == 200
    actions = list(
        AuditLogEntry.objects.filter(org_id=admin.org_id).values_list("action", flat=True)
    )
    assert "member.suspend" in actions and "member.reactivate" in actions


def test_nobody_suspends_themselves(api, admin):
    response = api(admin).post(url(admin, f"{admin.pk}/suspend/"))
    assert response.status_code == 409


def test_reactivation_respects_the_member_limit(api, org, admin, member):
    api(admin).post(url(admin, f"{member.pk}/suspend/"))
    org.member_limit = Membership.objects.filter(org=org, status="active").count()
    org.save()
    response = api(admin).post(url(admin, f"{member.pk}/reactivate/"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "member_limit"


def test_admin_edits_a_title_and_members_edit_their_own(api, admin, member):
    assert (
        api(admin)
        .patch(url(admin, f"{member.pk}/"), {"title": "QA lead"}, format="json")
        .json()["title"]
        == "QA lead"
    )
    assert (
        api(member).patch(url(member, f"{member.pk}/"), {"title": "Me"}, format="json").status_code
        == 200
    )
    assert (
        api(member).patch(url(member, f"{admin.pk}/"), {"title": "x"}, format="json").status_code
        == 403
    )


def test_remove_member_and_leave(api, admin, member, add_member, org):
    other = add_member(org)
    assert api(admin).delete(url(admin, f"{member.pk}/")).status_code == 204
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert api(other).delete(url(other, f"{other.pk}/")).status_code == 204  # leaving
    assert AuditLogEntry.objects.filter(action="member.remove").count() == 2


def test_member_detail(api, member, admin):
    body = api(member).get(url(member, f"{admin.pk}/")).json()
    assert body["role"] == "admin" and body["user"]["id"] == admin.user_id
