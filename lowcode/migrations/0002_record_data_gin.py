"""A GIN index over record data (PostgreSQL only; no model state changes).

``jsonb_path_ops`` serves containment (``data @> '{"tags": ["x"]}'``), which is what
multi-select and multi-member filters use. Per-field expression indexes for fields
marked "indexed" are created per form by ``lowcode.indexes`` when a form is published.
Built CONCURRENTLY (non-atomic migration) so a large table stays writable.
"""

from django.db import migrations

GIN_INDEX = "lowcode_record_data_gin"


def add_gin(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {GIN_INDEX} "
        "ON lowcode_record USING gin (data jsonb_path_ops)"
    )


def remove_gin(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {GIN_INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("lowcode", "0001_initial"),
    ]

    operations = [migrations.RunPython(add_gin, remove_gin, elidable=False)]
