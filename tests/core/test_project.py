"""Project-level gates: schema, migrations, settings modes, WebSocket basics."""

import io

import pytest
from django.core.management import call_command


def test_openapi_schema_validates_without_warnings(db):
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())


def test_no_model_changes_lack_a_migration(db):
    call_command("makemigrations", "--check", "--dry-run", stdout=io.StringIO())


def test_every_error_response_in_the_schema_is_documented_under_api_v1(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    org_paths = [p for p in schema["paths"] if p.startswith("/api/v1/orgs/{org_id}/")]
    assert org_paths
    for path in org_paths:
        for operation in schema["paths"][path].values():
            params = {p["name"]: p for p in operation.get("parameters", [])}
            assert params["org_id"]["schema"]["type"] == "integer", path


def test_embedded_mode_uses_sqlite_wal_and_in_memory_layers():
    import importlib
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
        from config.settings import base

        base = importlib.reload(base)
        assert base.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
        assert "journal_mode=WAL" in base.DATABASES["default"]["OPTIONS"]["init_command"]
        assert base.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer")
        assert base.CELERY_TASK_ALWAYS_EAGER is True
        assert base.CACHES["default"]["BACKEND"].endswith("LocMemCache")


def test_production_mode_uses_postgres_and_redis():
    import importlib
    import os
    from unittest import mock

    env = {"DATABASE_URL": "postgres://u@db:5432/tack", "REDIS_URL": "redis://cache:6379/0"}
    with mock.patch.dict(os.environ, env):
        from config.settings import base

        base = importlib.reload(base)
        assert base.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
        assert base.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
        assert base.CELERY_BROKER_URL == "redis://cache:6379/0"
        assert base.CELERY_TASK_ALWAYS_EAGER is False
        assert base.CACHES["default"]["BACKEND"].endswith("RedisCache")
    importlib.reload(base)


def test_production_settings_refuse_to_start_without_a_secret_key():
    import importlib
    import os
    import sys
    from unittest import mock

    from django.core.exceptions import ImproperlyConfigured

    env = {
        "DATABASE_URL": "postgres://u@db/tack",
        "REDIS_URL": "redis://cache:6379/0",
        "DJANGO_SECRET_KEY": "",
    }
    with mock.patch.dict(os.environ, env), pytest.raises(ImproperlyConfigured):
        sys.modules.pop("config.settings.production", None)
        importlib.import_module("config.settings.production")
    from config.settings import base

    importlib.reload(base)


@pytest.mark.django_db(transaction=True)
async def test_websocket_requires_auth_answers_pings_and_survives_bad_frames(realtime, make_user):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from core.actions import do_create_api_token

    anonymous = WebsocketCommunicator(
        application, "/ws/", headers=[(b"origin", b"http://localhost")]
    )
    connected, _code = await anonymous.connect()
    assert not connected

    user = await database_sync_to_async(make_user)()
    secret = (await database_sync_to_async(do_create_api_token)(user, name="ws")).secret
    ws = WebsocketCommunicator(
        application, f"/ws/?token={secret}", headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    await ws.send_to(text_data="{not json")
    assert (await ws.receive_json_from())["code"] == "malformed_frame"
    await ws.send_json_to({"type": "ping", "id": 7})
    assert await ws.receive_json_from() == {"type": "pong", "id": 7}
    await ws.disconnect()


def test_healthz_reports_database_and_cache(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_compose_file_runs_the_commands_the_readme_documents():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    readme = (root / "README.md").read_text()
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert all("healthcheck" in services[name] for name in services)
    assert "uvicorn config.asgi:application" in services["web"]["command"]
    assert "uvicorn config.asgi:application" in readme
    for name in ("worker", "beat"):
        command = " ".join(services[name]["command"][:4])
        assert command in readme, command
    assert (
        "python manage.py migrate" in services["web"]["command"]
        and "python manage.py migrate" in readme
    )
