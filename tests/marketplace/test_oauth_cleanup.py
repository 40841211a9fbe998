"""Expired OAuth tokens are cleared daily, with their installation bindings."""

from __future__ import annotations

from marketplace.models import InstallationToken
from marketplace.tasks import clear_expired_oauth_tokens


def test_the_daily_cleanup_drops_expired_tokens_and_keeps_live_ones(
    installed_app, issue_app_token, app_api, org
):
    from oauth2_provider.models import get_access_token_model

    live = issue_app_token(installed_app)
    issue_app_token(installed_app, expires_in=-3600)
    assert get_access_token_model().objects.count() == 2

    clear_expired_oauth_tokens()

    assert get_access_token_model().objects.count() == 1
    assert InstallationToken.objects.filter(installation=installed_app).count() == 1
    assert app_api(live).get(f"/api/v1/orgs/{org.pk}/members/").status_code == 200
