"""The low-code admin: every model visible to support staff, nothing editable there."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from lowcode.actions import do_archive_app, do_create_record, do_save_lookup


@pytest.fixture
def staff_client(client, make_user):
    user = make_user(email="support@tack.test", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_every_lowcode_model_is_registered():
    registered = set(admin.site._registry)
    assert set(apps.get_app_config("lowcode").get_models()) <= registered


def test_pages_open_and_records_are_read_only(staff_client, make_form, owner):
    form = make_form([{"key": "batch", "type": "text", "label": "Batch"}])
    record, _ = do_create_record(owner, form, {"batch": "B1"})
    do_save_lookup(owner, form, name="Lookup", input_field="batch")
    for model in apps.get_app_config("lowcode").get_models():
        name = f"admin:lowcode_{model._meta.model_name}_changelist"
        assert staff_client.get(reverse(name)).status_code == 200, model
    change = reverse("admin:lowcode_record_change", args=[record.pk])
    page = staff_client.get(change)
    assert page.status_code == 200 and b"B1" in page.content
    assert staff_client.post(change, {"data": "{}"}).status_code == 403
    assert staff_client.get(reverse("admin:lowcode_record_add")).status_code == 403


def test_an_archived_app_can_be_restored(staff_client, make_form, owner):
    form = make_form([{"key": "batch", "type": "text", "label": "Batch"}])
    do_archive_app(owner, form.app)
    response = staff_client.post(
        reverse("admin:lowcode_app_changelist"),
        {"action": "restore", "_selected_action": [form.app_id]},
    )
    assert response.status_code == 302
    form.app.refresh_from_db()
    assert form.app.archived_at is None
