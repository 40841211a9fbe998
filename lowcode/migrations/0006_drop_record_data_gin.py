"""Drop the GIN index over all record data (PostgreSQL only; no model state changes).

Every inserted record paid a GIN entry per key for it (about half the cost of writing a
record), yet only containment filters on list-valued fields could use it. Those fields,
when marked indexed, now get their own per-form GIN index (``lowcode.indexes``); the
others' filters read the form's records through ``lowcode_rec_form_id``. Dropped
CONCURRENTLY (non-atomic migration), as 0002 built it, so the table stays writable.
"""

from django.db import migrations

GIN_INDEX = "lowcode_record_data_gin"


def _list_valued(definition):
    return definition.get("type") == "multi_select" or (
        definition.get("type") in ("member", "department", "relation")
        and bool(definition.get("options", {}).get("multiple"))
    )


def _rebuild_list_field_indexes(apps, schema_editor, method):
    """Indexed list-valued fields: their per-form index as ``gin`` (from now on, as
    ``lowcode.indexes.wanted_indexes`` gives it) or as the B-tree they had before."""
    Form = apps.get_model("lowcode", "Form")
    for form in Form.objects.exclude(published_version=None).select_related("published_version"):
        for definition in form.published_version.fields:
            key = str(definition.get("key", ""))
            if not definition.get("indexed") or not _list_valued(definition):
                continue
            if not key.replace("_", "").isalnum() or not key.islower():
                continue  # never indexed (lowcode.indexes only indexes safe keys)
            name = f"lc_f{int(form.pk)}_{key}"[:63]
            where = f"WHERE form_id = {int(form.pk)} AND deleted_at IS NULL"
            columns = (
                f"USING gin ((data -> '{key}') jsonb_path_ops)"
                if method == "gin"
                else f"((data -> '{key}'), id)"
            )
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
            schema_editor.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON lowcode_record '
                f"{columns} {where}"
            )


def drop_gin(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {GIN_INDEX}")
    _rebuild_list_field_indexes(apps, schema_editor, "gin")


def restore_gin(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {GIN_INDEX} "
        "ON lowcode_record USING gin (data jsonb_path_ops)"
    )
    _rebuild_list_field_indexes(apps, schema_editor, "btree")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("lowcode", "0005_lean_record_indexes"),
    ]

    operations = [migrations.RunPython(drop_gin, restore_gin, elidable=False)]
