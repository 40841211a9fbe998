import pytest

from core.models import AuditLogEntry, Department, DepartmentMember

pytestmark = pytest.mark.django_db


def durl(m, suffix=""):
    return f"/api/v1/orgs/{m.org_id}/departments/{suffix}"


def create(api, who, name, parent=None):
    return api(who).post(durl(who), {"name": name, "parent": parent}, format="json")


def test_create_rename_move_and_delete(api, admin):
    quality = create(api, admin, "Quality").json()
    lab = create(api, admin, "Lab", quality["id"]).json()
    production = create(api, admin, "Production").json()
    assert lab["parent"] == quality["id"]

    renamed = api(admin).patch(durl(admin, f"{lab['id']}/"), {"name": "QA Lab"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "QA Lab"
    moved = api(admin).patch(
        durl(admin, f"{lab['id']}/"), {"parent": production["id"]}, format="json"
    )
    assert moved.json()["parent"] == production["id"]
    to_root = api(admin).patch(durl(admin, f"{lab['id']}/"), {"parent": None}, format="json")
    assert to_root.json()["parent"] is None
    assert api(admin).delete(durl(admin, f"{lab['id']}/")).status_code == 204
    assert not Department.objects.filter(pk=lab["id"]).exists()
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"department.create", "department.update", "department.delete"} <= actions


def test_moving_under_its_own_descendant_is_refused(api, admin):
    a = create(api, admin, "A").json()
    b = create(api, admin, "B", a["id"]).json()
    c = create(api, admin, "C", b["id"]).json()
    for target in (a["id"], c["id"]):
        response = api(admin).patch(durl(admin, f"{a['id']}/"), {"parent": target}, format="json")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "department_cycle"
    assert Department.objects.get(pk=a["id"]).parent_id is None


def test_sibling_names_are_unique_but_cousins_may_share(api, admin):
    q = create(api, admin, "Quality").json()
    p = create(api, admin, "Production").json()
    assert create(api, admin, "Lab", q["id"]).status_code == 201
    assert create(api, admin, "Lab", p["id"]).status_code == 201
    dup = create(api, admin, "Lab", q["id"])
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "duplicate_name"
    assert create(api, admin, "Quality").status_code == 409
    assert Department.objects.filter(name="Lab").count() == 2


def test_a_non_empty_department_cannot_be_deleted(api, admin, member):
    q = create(api, admin, "Quality").json()
    lab = create(api, admin, "Lab", q["id"]).json()
    response = api(admin).delete(durl(admin, f"{q['id']}/"))
    assert (
        response.status_code == 409 and response.json()["error"]["code"] == "department_not_empty"
    )
    api(admin).post(durl(admin, f"{lab['id']}/members/"), {"member_id": member.pk}, format="json")
    assert api(admin).delete(durl(admin, f"{lab['id']}/")).status_code == 409
    assert Department.objects.filter(pk__in=[q["id"], lab["id"]]).count() == 2


def test_members_join_departments_with_managers(api, admin, member):
    lab = create(api, admin, "Lab").json()
    qa = create(api, admin, "QA").json()
    r = api(admin).post(
        durl(admin, f"{lab['id']}/members/"),
        {"member_id": member.pk, "is_manager": True},
        format="json",
    )
    assert r.status_code == 201
    api(admin).post(durl(admin, f"{qa['id']}/members/"), {"member_id": member.pk}, format="json")
    links = DepartmentMember.objects.filter(membership=member).order_by("department__name")
    assert [(link.department.name, link.is_manager) for link in links] == [
        ("Lab", True),
        ("QA", False),
    ]
    assert api(admin).get(durl(admin, f"{lab['id']}/")).json()["member_count"] == 1
    assert api(admin).delete(durl(admin, f"{lab['id']}/members/{member.pk}/")).status_code == 204
    assert api(admin).delete(durl(admin, f"{lab['id']}/members/{member.pk}/")).status_code == 404


def test_members_read_the_tree_but_cannot_change_it(api, admin, member, guest):
    create(api, admin, "Quality")
    assert len(api(member).get(durl(member)).json()) == 1
    assert create(api, member, "Mine").status_code == 403
    assert api(guest).get(durl(guest)).status_code == 403
    assert Department.objects.count() == 1


def test_bad_department_input(api, admin):
    assert create(api, admin, "").status_code == 400
    assert create(api, admin, "x" * 81).status_code == 400
    assert create(api, admin, "Orphan", 999999).status_code == 400
    r = api(admin).post(durl(admin), {"name": ["list"]}, format="json")
    assert r.status_code == 400 and "name" in r.json()["error"]["fields"]
    assert not Department.objects.exists()
