# Security policies, two-step verification (TOTP) and recovery codes (owned by H7). Keeps
# the dependency on the previous core migration, so parallel work never creates two leaf nodes.
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import core.security.models


class Migration(migrations.Migration):
    dependencies = [("core", "0004_metrics")]

    operations = [
        migrations.CreateModel(
            name="SecurityPolicy",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("password_min_length", models.PositiveSmallIntegerField(default=10)),
                ("password_require_mixed_case", models.BooleanField(default=False)),
                ("password_require_digit", models.BooleanField(default=False)),
                ("password_require_symbol", models.BooleanField(default=False)),
                ("password_disallow_email", models.BooleanField(default=True)),
                ("session_lifetime_minutes", models.PositiveIntegerField(default=0)),
                ("ip_allowlist", models.JSONField(blank=True, default=list)),
                ("require_two_factor_for_admins", models.BooleanField(default=False)),
                (
                    "export_roles",
                    models.JSONField(default=core.security.models.default_export_roles),
                ),
                ("external_sharing", models.BooleanField(default=True)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "org",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="security_policies",
                        to="core.organization",
                    ),
                ),
                (
                    "updated_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "security policies",
                "constraints": [
                    models.UniqueConstraint(fields=("org",), name="security_policy_one_per_org")
                ],
            },
        ),
        migrations.CreateModel(
            name="TwoFactorDevice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("secret_encrypted", models.TextField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("confirmed_at", models.DateTimeField(blank=True, null=True)),
                ("last_used_step", models.BigIntegerField(default=0)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="two_factor_device",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="RecoveryCode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code_hash", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="recovery_codes",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "indexes": [
                    models.Index(
                        fields=["user", "code_hash"], name="core_recove_user_id_a2640e_idx"
                    )
                ],
            },
        ),
    ]
