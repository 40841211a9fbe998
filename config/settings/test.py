"""Test settings: the embedded default unless DATABASE_URL / REDIS_URL are set."""

import os
import uuid
from typing import Any

os.environ.setdefault("TACK_CACHE_PREFIX", f"tack-test-{uuid.uuid4().hex[:8]}")

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK

SECRET_KEY = "insecure-test-only-key-not-used-anywhere-else-0123456789"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
TACK_EMBEDDED_BEAT = False  # tests run periodic tasks themselves
# Throttle rates stay real but roomy; tests that check throttling lower them.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "100000/min", "login": "10000/min"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False}

# Test runs sharing one Redis must not hear each other's events.
_layer: dict[str, Any] = CHANNEL_LAYERS["default"]  # noqa: F405
if str(_layer["BACKEND"]).startswith("channels_redis"):
    _layer["CONFIG"]["prefix"] = os.environ["TACK_CACHE_PREFIX"]

# Async tests touch the database from worker threads; close those connections
# after each use so the test database can be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = True  # tests run real receivers on 127.0.0.1

# Chat attachments go to a throw-away private directory, never into the checkout.
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

TACK_PRIVATE_MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="tack-test-private-"))

# The SQLite ledger's DELETE guard (marketplace/migrations/0006_ledger_guards.py) stays
# off in tests so transactional tests can flush their tables; tests of the guard turn it
# on. (PostgreSQL's flush is TRUNCATE, which the guard never sees.)
TACK_LEDGER_DELETE_GUARD = False

# Activity recording (DAG metrics) is off by default in tests, so query-count tests elsewhere
# stay exact; tests/core/metrics_support.py turns it on for the metrics tests.
TACK_METRICS_RECORDING = False
TACK_METRICS_REDIS_PREFIX = f"{os.environ['TACK_CACHE_PREFIX']}:act"
