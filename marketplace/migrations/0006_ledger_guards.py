# Placeholder in the marketplace migration chain, owned by H4 (database guards of the ledger).
# The owner replaces operations (and may ADD dependencies on other apps), but keeps the
# dependency on the previous marketplace migration: the chain stays linear so helpers
# working in parallel never create two leaf nodes.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0005_billing")]

    operations: list[migrations.operations.base.Operation] = []
