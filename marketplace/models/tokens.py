"""Which installation an OAuth token, refresh token or authorization code belongs to.

django-oauth-toolkit knows the client (one ``Application`` per app) and the user; it does
not know the organisation. Every access token, refresh token and unused authorization code
issued to a marketplace app is bound here to exactly one ``Installation`` (one app in one
organisation), so a token can act only in that organisation and only within the scopes
the organisation's admin granted. Uninstalling deletes the tokens, which deletes the rows.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from oauth2_provider.settings import ACCESS_TOKEN_MODEL, GRANT_MODEL, REFRESH_TOKEN_MODEL

from core.models import Organization
from marketplace.models.apps import Installation


class InstallationToken(models.Model):
    """Binds one DOT access token, refresh token or grant (exactly one) to an installation."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="token_bindings"
    )
    access_token = models.ForeignKey(
        ACCESS_TOKEN_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="installation_bindings",
    )
    refresh_token = models.ForeignKey(
        REFRESH_TOKEN_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="installation_bindings",
    )
    grant = models.ForeignKey(
        GRANT_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="installation_bindings",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "access_token"], name="installation_token_access_unique"
            ),
            models.UniqueConstraint(
                fields=["org", "refresh_token"], name="installation_token_refresh_unique"
            ),
            models.UniqueConstraint(
                fields=["org", "grant"], name="installation_token_grant_unique"
            ),
            models.CheckConstraint(
                condition=(
                    Q(access_token__isnull=False, refresh_token__isnull=True, grant__isnull=True)
                    | Q(access_token__isnull=True, refresh_token__isnull=False, grant__isnull=True)
                    | Q(access_token__isnull=True, refresh_token__isnull=True, grant__isnull=False)
                ),
                name="installation_token_binds_exactly_one",
            ),
        ]

    def __str__(self) -> str:
        return f"installation token {self.pk} (installation {self.installation_id})"
