"""Fewer indexes on records: each one costs every inserted row (see ``Record.Meta``).

Drops the single-column indexes on org and form (``lowcode_record_unique_number`` and
``lowcode_rec_form_id`` start with those columns) and makes the three author indexes
partial (``IS NOT NULL``): records written by connectors, imports and public links have
no author and add no entry, while member removal still finds a member's records.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lowcode", "0004_import_heartbeat"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="record",
            index=models.Index(
                condition=models.Q(("created_by__isnull", False)),
                fields=["created_by"],
                name="lowcode_rec_created_by",
            ),
        ),
        migrations.AddIndex(
            model_name="record",
            index=models.Index(
                condition=models.Q(("updated_by__isnull", False)),
                fields=["updated_by"],
                name="lowcode_rec_updated_by",
            ),
        ),
        migrations.AddIndex(
            model_name="record",
            index=models.Index(
                condition=models.Q(("deleted_by__isnull", False)),
                fields=["deleted_by"],
                name="lowcode_rec_deleted_by",
            ),
        ),
        migrations.AlterField(
            model_name="record",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="core.membership",
            ),
        ),
        migrations.AlterField(
            model_name="record",
            name="deleted_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="core.membership",
            ),
        ),
        migrations.AlterField(
            model_name="record",
            name="form",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="records",
                to="lowcode.form",
            ),
        ),
        migrations.AlterField(
            model_name="record",
            name="org",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="core.organization",
            ),
        ),
        migrations.AlterField(
            model_name="record",
            name="updated_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="core.membership",
            ),
        ),
    ]
