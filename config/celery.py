"""Celery application. Eager in the embedded default, Redis-brokered in production."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("tack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
