"""Review fixes: the metrics API and rollup on bad input."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from core.metrics.rollup import parse_share
from tests.core.metrics_support import _fresh_metrics

pytestmark = pytest.mark.django_db
__all__ = ["_fresh_metrics"]


@pytest.mark.parametrize(
    "query",
    [
        "?to=0001-01-05",
        "?from=0001-01-01&to=0001-01-02",
        "?from=9999-12-31",
        "?to=9999-12-31",
        "?from=abc",
        "?from=2026-02-30",
        "?from=2026-01-10&to=2026-01-01",
    ],
)
def test_malformed_ranges_are_400(api, admin, query):
    for name in ("daily", "export"):
        response = api(admin).get(f"/api/v1/orgs/{admin.org_id}/metrics/{name}/{query}")
        assert response.status_code == 400, (name, response.content)


@pytest.mark.parametrize("query", ["?date=0001-01-01", "?date=9999-12-31", "?date=x"])
def test_malformed_days_are_400(api, admin, query):
    for name in ("status", "departments", "systems"):
        response = api(admin).get(f"/api/v1/orgs/{admin.org_id}/metrics/{name}/{query}")
        assert response.status_code in (200, 400), (name, response.content)


@pytest.mark.parametrize("query", ["?date=0001-01-01", "?from=0001-01-01&to=0001-01-03"])
def test_ops_endpoints_survive_the_first_days_of_the_calendar(api, make_user, query):
    staff = make_user(is_staff=True)
    for name in ("platform", "breakdown", "top-orgs", "deep", "export"):
        response = api(staff).get(f"/api/v1/ops/metrics/{name}/{query}")
        assert response.status_code in (200, 400), (name, response.content)


@pytest.mark.parametrize("raw", ["1e-99999999", "1E-9999999999%", "9" * 5000 + "/1" + "0" * 5000])
def test_share_with_a_huge_exponent_is_refused_quickly(raw):
    with pytest.raises(ValidationFailed):
        parse_share(raw)


@pytest.mark.parametrize(
    "body",
    [
        {"min_active_share": "1e-999999999", "min_systems": 6},
        {"min_active_share": [1], "min_systems": 6},
        {"min_active_share": "1/3", "min_systems": "1e400"},
        {"min_active_share": "1/3", "min_systems": 10**400},
        {"min_active_share": "1/3", "min_systems": 6, "min_usage_minutes": 1.5},
    ],
)
def test_malformed_definitions_are_400(api, make_user, body):
    staff = make_user(is_staff=True)
    response = api(staff).post("/api/v1/ops/metrics/definitions/", body, format="json")
    assert response.status_code == 400, response.content


def test_ops_metrics_are_staff_only(api, owner):
    for name in ("platform", "breakdown", "top-orgs", "deep", "export", "definitions"):
        response = api(owner).get(f"/api/v1/ops/metrics/{name}/")
        assert response.status_code == 403, name
    assert api(None).get("/api/v1/ops/metrics/platform/").status_code == 401


def test_other_organisations_metrics_are_404(api, owner, other_org):
    for name in ("status", "daily", "departments", "systems", "export"):
        response = api(owner).get(f"/api/v1/orgs/{other_org.pk}/metrics/{name}/")
        assert response.status_code == 404, name
