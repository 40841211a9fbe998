# Activity and DAG metrics tables (owned by H6). Keeps the dependency on the previous core
# migration, so parallel work never creates two leaf nodes.
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0003_user_is_app")]

    operations = [
        migrations.CreateModel(
            name="DagDefinition",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.PositiveIntegerField(unique=True)),
                ("share_numerator", models.PositiveIntegerField(default=1)),
                ("share_denominator", models.PositiveIntegerField(default=3)),
                ("min_systems", models.PositiveIntegerField(default=6)),
                (
                    "min_usage_minutes",
                    models.PositiveIntegerField(
                        default=0,
                        help_text="Minutes of use a member needs to count as active (0: any use).",
                    ),
                ),
                ("note", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["-version"]},
        ),
        migrations.CreateModel(
            name="ActivityDaily",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("member_id", models.BigIntegerField()),
                ("user_id", models.BigIntegerField()),
                ("minutes", models.PositiveIntegerField(default=1)),
                (
                    "org",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["day", "id"],
                "indexes": [models.Index(fields=["day", "org"], name="core_activi_day_7f099c_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("org", "day", "member_id"), name="activity_daily_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="SystemDaily",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("system", models.CharField(max_length=80)),
                (
                    "org",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["day", "system"],
                "indexes": [models.Index(fields=["day", "org"], name="core_system_day_dae67c_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("org", "day", "system"), name="system_daily_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="MemberLapse",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("member_id", models.BigIntegerField()),
                ("user_id", models.BigIntegerField()),
                ("is_app", models.BooleanField(default=False)),
                ("joined_at", models.DateTimeField()),
                ("ended_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "reason",
                    models.CharField(
                        choices=[("removed", "Removed"), ("suspended", "Suspended")], max_length=10
                    ),
                ),
                ("reactivated_at", models.DateTimeField(blank=True, null=True)),
                (
                    "org",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["org", "member_id"], name="core_member_org_id_d58080_idx"),
                    models.Index(fields=["ended_at"], name="core_member_ended_a_55c6dd_idx"),
                ],
            },
        ),
        migrations.CreateModel(
            name="DailyOrgRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("members", models.PositiveIntegerField(default=0)),
                ("active", models.PositiveIntegerField(default=0)),
                ("systems_used", models.PositiveIntegerField(default=0)),
                ("systems", models.JSONField(blank=True, default=list)),
                ("is_dag", models.BooleanField(default=False)),
                ("is_deep", models.BooleanField(default=False)),
                ("deep_connections", models.JSONField(blank=True, default=list)),
                ("definition_version", models.PositiveIntegerField()),
                ("size_bucket", models.CharField(blank=True, max_length=20)),
                ("edition", models.CharField(blank=True, max_length=20)),
                ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "org",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["day", "org_id"],
                "indexes": [
                    models.Index(fields=["day", "is_dag"], name="core_dailyo_day_91b259_idx")
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("org", "day"), name="daily_org_rollup_once")
                ],
            },
        ),
        migrations.CreateModel(
            name="PlatformDaily",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(unique=True)),
                ("dag_count", models.PositiveIntegerField(default=0)),
                ("deep_count", models.PositiveIntegerField(default=0)),
                ("dau", models.PositiveIntegerField(default=0)),
                ("mau", models.PositiveIntegerField(default=0)),
                ("orgs", models.PositiveIntegerField(default=0)),
                ("active_orgs", models.PositiveIntegerField(default=0)),
                ("breakdown", models.JSONField(blank=True, default=dict)),
                ("definition_version", models.PositiveIntegerField()),
                ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"ordering": ["day"]},
        ),
    ]
