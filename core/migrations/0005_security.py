# Placeholder in the core migration chain, owned by H7 (security policies, TOTP, branding).
# The owner replaces operations (and may ADD dependencies on other apps), but keeps the
# dependency on the previous core migration, so parallel work never creates two leaf nodes.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0004_metrics")]

    operations: list[migrations.operations.base.Operation] = []
