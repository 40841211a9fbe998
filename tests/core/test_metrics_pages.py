"""The usage console and the operator dashboard pages."""

from __future__ import annotations

import datetime

import pytest

from core.metrics.rollup import rollup_day
from tests.core.metrics_support import _fresh_metrics, activity, systems, yesterday

pytestmark = pytest.mark.django_db
__all__ = ["_fresh_metrics"]


def test_admin_console_shows_the_status_in_words(client, org, admin):
    client.force_login(admin.user)
    response = client.get(f"/o/{org.pk}/admin/metrics/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not a daily active organisation yet today" in html
    assert "of members active (0 of 2), needs 33%; 0 of 6 systems used." in html
    assert "data-metrics-chart" in html and "vendor/chart-4.6.1.umd.min.js" in html
    assert f"/api/v1/orgs/{org.pk}/metrics/export/" in html
    assert "data-metrics-link" in html  # the navigation links to it


def test_members_without_the_permission_get_403_and_no_link(client, org, member):
    client.force_login(member.user)
    assert client.get(f"/o/{org.pk}/admin/metrics/").status_code == 403
    assert "data-metrics-link" not in client.get(f"/o/{org.pk}/").content.decode()


def test_another_organisations_console_is_404(client, org, outsider):
    client.force_login(outsider.user)
    assert client.get(f"/o/{org.pk}/admin/metrics/").status_code == 404


def test_operator_dashboard_is_for_staff_only(client, org, owner, make_user):
    day = yesterday()
    owner.joined_at = owner.joined_at - datetime.timedelta(days=5)
    owner.save(update_fields=["joined_at"])
    activity(org, day, [owner], systems(6))
    rollup_day(day)
    client.force_login(owner.user)
    assert client.get("/ops/metrics/").status_code == 404
    client.force_login(make_user(is_staff=True))
    response = client.get("/ops/metrics/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-ops-chart" in html and "100,000+" in html and org.name in html
    assert 'name="min_active_share" value="1/3"' in html  # the definition form
