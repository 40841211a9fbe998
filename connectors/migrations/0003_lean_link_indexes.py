"""Fewer indexes on sync links: each one costs every inserted link (see ``SyncedRecord.Meta``).

The upsert key leads with destination (it served lookups by all three columns either
way), which makes the single-column destination index redundant; the org index goes too
(nothing reads links by organisation alone but the organisation's own deletion).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0002_scenarios"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="syncedrecord",
            name="connectors_synced_once",
        ),
        migrations.AddConstraint(
            model_name="syncedrecord",
            constraint=models.UniqueConstraint(
                fields=("destination", "org", "external_id"), name="connectors_synced_once"
            ),
        ),
        migrations.AlterField(
            model_name="syncedrecord",
            name="destination",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="synced",
                to="connectors.destination",
            ),
        ),
        migrations.AlterField(
            model_name="syncedrecord",
            name="org",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="core.organization",
            ),
        ),
    ]
