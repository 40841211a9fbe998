"""The metrics API: org metrics (metrics.read; exports by the security policy), ops (staff)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from core.actions import do_create_department
from core.metrics.models import DagDefinition
from core.metrics.rollup import rollup_day
from core.models import DepartmentMember, Membership
from tests.core.metrics_support import _fresh_metrics, activity, systems, yesterday

pytestmark = pytest.mark.django_db
__all__ = ["_fresh_metrics"]


def url(org, name: str) -> str:
    return f"/api/v1/orgs/{org.pk}/metrics/{name}/"


ORG_ROUTES = ["status", "daily", "departments", "systems", "export"]


@pytest.mark.parametrize("name", ORG_ROUTES)
def test_another_organisation_gets_404(name, org, outsider, api):
    response = api(outsider).get(url(org, name))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("name", ORG_ROUTES)
def test_members_without_the_permission_get_403(name, org, member, api):
    response = api(member).get(url(org, name))
    assert response.status_code == 403
    assert response.json()["error"]["fields"]["operation"] == ["metrics.read"]


@pytest.mark.parametrize("name", ORG_ROUTES)
def test_anonymous_gets_401(name, org, api):
    assert api(None).get(url(org, name)).status_code == 401


def test_status_explains_itself(org, owner, admin, api):
    client = api(admin)
    assert client.get(url(org, "status")).json()["active_members"] == 0
    body = client.get(url(org, "status")).json()
    # The owner and the admin are members; the admin's first call made them active.
    assert (body["members"], body["active_members"], body["systems_used"]) == (2, 1, 0)
    assert body["is_dag"] is False
    assert body["reason"] == (
        "Not active: 50% of members active (1 of 2), needs 33%; 0 of 6 systems used."
    )


def backdate(org, days: int = 30) -> None:
    Membership.objects.filter(org=org).update(
        joined_at=timezone.now() - datetime.timedelta(days=days)
    )


def test_daily_series_covers_the_range_with_gaps_as_null(org, owner, admin, api):
    day = yesterday()
    backdate(org)
    activity(org, day, [owner, admin], systems(6))
    rollup_day(day)
    start = day - datetime.timedelta(days=2)
    body = (
        api(admin).get(url(org, "daily"), {"from": start.isoformat(), "to": day.isoformat()}).json()
    )
    assert [d["date"] for d in body["days"]] == [
        (start + datetime.timedelta(days=i)).isoformat() for i in range(3)
    ]
    assert body["days"][0]["members"] is None
    assert body["days"][-1] | {} == {
        "date": day.isoformat(),
        "members": 2,
        "active_members": 2,
        "active_share": 1.0,
        "systems_used": 6,
        "is_dag": True,
        "is_deeply_integrated": False,
        "definition_version": 1,
    }


def test_departments_and_systems(org, owner, admin, member, api):
    lab = do_create_department(owner, name="Lab")
    DepartmentMember.objects.create(org=org, department=lab, membership=member)
    DepartmentMember.objects.create(org=org, department=lab, membership=admin)
    api(admin).get(url(org, "departments"))
    body = api(admin).get(url(org, "departments")).json()
    assert body["departments"] == [
        {"department_id": lab.pk, "department": "Lab", "members": 2, "active_members": 1},
        {"department_id": None, "department": "No department", "members": 1, "active_members": 0},
    ]
    body = api(admin).get(url(org, "systems")).json()
    assert body["systems"] == []


def test_export_is_csv_for_admins(org, admin, api):
    response = api(admin).get(url(org, "export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("date,members,active_members")
    assert len(lines) == 31


def test_export_follows_the_security_policy(org, owner, admin, api):
    from core.security.actions import do_update_security_policy

    do_update_security_policy(
        owner, {"export_roles": {"members": ["admin"], "records": ["admin"], "metrics": []}}
    )
    response = api(admin).get(url(org, "export"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "export_not_allowed"
    assert api(admin).get(url(org, "daily")).status_code == 200
    assert api(owner).get(url(org, "export")).status_code == 200  # owners always may


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"to": "2999-01-01"}, "future_date"),
        ({"from": "2020-01-01", "to": "2021-06-01"}, "range_too_long"),
        ({"from": "yesterday"}, "invalid_date"),
        ({"from": "2024-02-02", "to": "2024-02-01"}, "invalid_range"),
    ],
)
def test_bad_ranges_are_400(params, code, org, admin, api):
    for name in ("daily", "export"):
        response = api(admin).get(url(org, name), params)
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == code


def test_bad_day_is_400(org, admin, api):
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    for name in ("status", "departments", "systems"):
        assert api(admin).get(url(org, name), {"date": tomorrow}).status_code == 400
        assert api(admin).get(url(org, name), {"date": "31/01/2026"}).status_code == 400


# --- operators ---------------------------------------------------------------------------------

OPS = ["platform", "breakdown", "top-orgs", "deep", "export", "definitions"]


@pytest.fixture
def staff(make_user):
    return make_user(is_staff=True)


@pytest.mark.parametrize("name", OPS)
def test_operator_metrics_are_staff_only(name, owner, api):
    response = api(owner).get(f"/api/v1/ops/metrics/{name}/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "staff_only"
    assert api(None).get(f"/api/v1/ops/metrics/{name}/").status_code == 401


def test_operator_metrics(org, owner, admin, staff, api):
    day = yesterday()
    backdate(org)
    activity(org, day, [owner, admin], systems(6))
    rollup_day(day)
    client = api(staff)
    series = client.get(
        "/api/v1/ops/metrics/platform/", {"from": day.isoformat(), "to": day.isoformat()}
    ).json()
    assert series["days"][0]["dag_count"] == 1
    breakdown = client.get("/api/v1/ops/metrics/breakdown/", {"date": day.isoformat()}).json()
    assert breakdown["size"][0] == {
        "bucket": "<500",
        "organizations": 1,
        "dag_count": 1,
        "deeply_integrated_count": 0,
        "active_members": 2,
    }
    assert [b["bucket"] for b in breakdown["size"]] == [
        "<500",
        "500-2,000",
        "2,000-10,000",
        "10,000-100,000",
        "100,000+",
    ]
    top = client.get("/api/v1/ops/metrics/top-orgs/", {"date": day.isoformat(), "limit": 5}).json()
    assert [o["org_id"] for o in top["organizations"]] == [org.pk]
    assert client.get("/api/v1/ops/metrics/top-orgs/", {"limit": "0"}).status_code == 400
    assert client.get("/api/v1/ops/metrics/deep/").json()["organizations"] == []
    csv = client.get(
        "/api/v1/ops/metrics/export/", {"from": day.isoformat(), "to": day.isoformat()}
    )
    assert csv.content.decode().splitlines()[1].startswith(f"{day.isoformat()},1,0,2,2")


def test_staff_change_the_definition_with_validation(staff, api):
    client = api(staff)
    bad = client.post(
        "/api/v1/ops/metrics/definitions/",
        {"min_active_share": "2", "min_systems": 6},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_threshold"
    good = client.post(
        "/api/v1/ops/metrics/definitions/",
        {"min_active_share": "1/4", "min_systems": 3, "note": "pilot"},
        format="json",
    )
    assert good.status_code == 201
    assert good.json()["version"] == 2 and good.json()["min_active_share"] == "1/4"
    assert [d["version"] for d in client.get("/api/v1/ops/metrics/definitions/").json()] == [2, 1]
    assert DagDefinition.objects.get(version=2).created_by == staff
