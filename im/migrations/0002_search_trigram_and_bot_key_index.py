"""Indexes for message search and incoming-webhook lookups. No model state changes.

PostgreSQL only: the pg_trgm extension and a trigram GIN index on UPPER(body), which is
what Django's ``body__icontains`` compares (``UPPER(body) LIKE UPPER('%q%')``), so the
index serves substring search in any script, Chinese included. Built CONCURRENTLY (this
migration is not atomic) so a large im_message table stays writable meanwhile. SQLite
(the embedded default) gets nothing: search there is a plain scan.

Both databases: an index on im_bot.incoming_key_hash for POST /hooks/<key>/.
"""

from django.db import migrations

TRGM_INDEX = "im_message_body_upper_trgm"
BOT_KEY_INDEX = "im_bot_incoming_key_hash"


def add_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {TRGM_INDEX} "
        "ON im_message USING gin (UPPER(body) gin_trgm_ops)"
    )


def remove_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other apps may use it.
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TRGM_INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("im", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(add_search_index, remove_search_index, elidable=False),
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {BOT_KEY_INDEX} ON im_bot (incoming_key_hash)",
            f"DROP INDEX IF EXISTS {BOT_KEY_INDEX}",
        ),
    ]
