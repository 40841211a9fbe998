"""Installed marketplace apps are business systems: their token calls and members opening them."""

from __future__ import annotations

import pytest

from core.metrics.models import ActivityDaily, SystemDaily
from tests.core.metrics_support import _fresh_metrics
from tests.marketplace.conftest import (
    app_api,
    install_app,
    installed_app,
    issue_app_token,
    oauth_app,
    oauth_partner,
)

pytestmark = pytest.mark.django_db
__all__ = [
    "_fresh_metrics",
    "app_api",
    "install_app",
    "installed_app",
    "issue_app_token",
    "oauth_app",
    "oauth_partner",
]


@pytest.fixture(autouse=True)
def embedded(settings):
    settings.TACK_METRICS_BACKEND = "db"


def systems(org) -> set[str]:
    return set(SystemDaily.objects.filter(org=org).values_list("system", flat=True))


def test_an_app_token_call_counts_the_installation_not_a_member(
    org, installed_app, issue_app_token, app_api
):
    client = app_api(issue_app_token(installed_app))
    assert client.get(f"/api/v1/orgs/{org.pk}/members/").status_code == 200
    assert systems(org) == {f"app:{installed_app.pk}"}
    assert not ActivityDaily.objects.exists()


def test_a_member_opening_the_app_counts_it(client, org, member, installed_app):
    client.force_login(member.user)
    response = client.get(f"/o/{org.pk}/marketplace/apps/{installed_app.app.app_id}/")
    assert response.status_code == 200
    assert systems(org) == {f"app:{installed_app.pk}"}
    assert ActivityDaily.objects.filter(org=org, member_id=member.pk).exists()


def test_opening_an_app_that_is_not_installed_counts_nothing(client, org, member, oauth_app):
    app, _id, _secret = oauth_app()
    client.force_login(member.user)
    assert client.get(f"/o/{org.pk}/marketplace/apps/{app.app_id}/").status_code == 200
    assert systems(org) == set()
