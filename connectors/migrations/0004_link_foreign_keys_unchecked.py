"""Sync links keep their references without database-level foreign keys.

Each inserted link cost three foreign-key checks at commit; why the references stay
whole without them is in ``SyncedRecord``'s comment. The columns and indexes stay.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0003_lean_link_indexes'),
        ('core', '0005_security'),
        ('lowcode', '0005_lean_record_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='syncedrecord',
            name='destination',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='synced', to='connectors.destination'),
        ),
        migrations.AlterField(
            model_name='syncedrecord',
            name='org',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.organization'),
        ),
        migrations.AlterField(
            model_name='syncedrecord',
            name='record',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='lowcode.record'),
        ),
    ]
