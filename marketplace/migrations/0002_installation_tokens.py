# OAuth tokens, refresh tokens and authorization codes bound to one installation (H1).
# The dependency on the previous marketplace migration keeps the chain linear.
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0001_initial"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
        ("core", "0003_user_is_app"),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_GRANT_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="InstallationToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "org",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
                (
                    "installation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="token_bindings",
                        to="marketplace.installation",
                    ),
                ),
                (
                    "access_token",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="installation_bindings",
                        to=settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL,
                    ),
                ),
                (
                    "refresh_token",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="installation_bindings",
                        to=settings.OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL,
                    ),
                ),
                (
                    "grant",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="installation_bindings",
                        to=settings.OAUTH2_PROVIDER_GRANT_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("org", "access_token"), name="installation_token_access_unique"
                    ),
                    models.UniqueConstraint(
                        fields=("org", "refresh_token"), name="installation_token_refresh_unique"
                    ),
                    models.UniqueConstraint(
                        fields=("org", "grant"), name="installation_token_grant_unique"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("access_token__isnull", False),
                                ("grant__isnull", True),
                                ("refresh_token__isnull", True),
                            ),
                            models.Q(
                                ("access_token__isnull", True),
                                ("grant__isnull", True),
                                ("refresh_token__isnull", False),
                            ),
                            models.Q(
                                ("access_token__isnull", True),
                                ("grant__isnull", False),
                                ("refresh_token__isnull", True),
                            ),
                            _connector="OR",
                        ),
                        name="installation_token_binds_exactly_one",
                    ),
                ],
            },
        ),
    ]
