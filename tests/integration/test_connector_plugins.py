"""Third-party connectors: the example plugin package installs, registers and syncs.

``examples/tack-connector-example`` is a real pip package exposing its connector through
the ``tack.connectors`` entry point. It is installed (editable) into this environment if
it is not there yet, then found by ``load_plugins()``, listed in the catalogue with its
distribution as origin, and synced into a form end to end. A broken plugin is logged and
skipped without stopping the others.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from connectors import registries
from connectors.actions import (
    do_create_connection,
    do_create_form_from_stream,
    do_request_sync,
    do_run_connector_action,
    do_update_connection,
)
from connectors.models import SyncRun
from connectors.registries import ConnectorTypeRegistry, connector_registry, load_plugins
from connectors.sync import run_sync
from lowcode.actions import do_create_app
from lowcode.models import Record

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "tack-connector-example"
DISTRIBUTION = "tack-connector-example"
TYPE = "example_catalog"


@pytest.fixture(scope="module")
def example_installed() -> None:
    try:
        importlib.metadata.distribution(DISTRIBUTION)
        importlib.import_module("tack_connector_example")
    except (importlib.metadata.PackageNotFoundError, ImportError):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "-e",
                str(PACKAGE),
            ],
            check=True,
        )
        # The editable install's .pth file is read when Python starts; this process
        # started before it existed, so put the package on the path as it would.
        sys.path.append(str(PACKAGE))
        importlib.invalidate_caches()
    if TYPE not in connector_registry:  # installed after start-up: load it now
        load_plugins()


def test_load_plugins_registers_the_example_with_its_distribution(example_installed, monkeypatch):
    fresh = ConnectorTypeRegistry()
    monkeypatch.setattr(registries, "connector_registry", fresh)
    loaded = load_plugins()
    assert TYPE in loaded
    assert fresh.origins[TYPE] == DISTRIBUTION
    assert load_plugins() == []  # loading twice registers nothing twice


def test_the_example_appears_in_the_catalogue(example_installed, owner, api):
    response = api(owner).get(f"/api/v1/orgs/{owner.org_id}/connectors/types/")
    assert response.status_code == 200
    entry = next(t for t in response.json() if t["type"] == TYPE)
    assert entry["origin"] == DISTRIBUTION
    assert entry["spec"]["properties"]["api_key"]["x-secret"] is True
    assert [a["name"] for a in entry["actions"]] == ["quote"]


def _sync(owner, connection, capture) -> SyncRun:
    with capture(execute=False):
        run, created = do_request_sync(owner, connection)
    assert created
    return run_sync(run.pk)


def test_the_example_syncs_into_a_form_incrementally(
    example_installed, owner, django_capture_on_commit_callbacks
):
    connection = do_create_connection(
        owner,
        type=TYPE,
        name="Demo catalogue",
        config={"seed": 7, "count": 25, "page_size": 10, "api_key": "demo"},
    )
    destination = do_create_form_from_stream(
        owner, connection, stream="products", app=do_create_app(owner, name="Catalogue")
    )
    first = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert first.state == SyncRun.State.SUCCEEDED, first.error_message
    assert (first.read_count, first.created_count) == (25, 25)
    records = Record.objects.filter(form=destination.form)
    ids = sorted(r.data["ext_id"] for r in records)
    assert ids == list(range(1, 26))
    names = {r.data["ext_id"]: r.data["ext_name"] for r in records}
    assert names[3].endswith(" 3") and names[3].split()[0] in {
        "Red",
        "Green",
        "Blue",
        "Black",
        "White",
        "Yellow",
    }

    do_update_connection(
        owner, connection, config={"seed": 7, "count": 30, "page_size": 10, "api_key": "********"}
    )
    second = _sync(owner, connection, django_capture_on_commit_callbacks)
    assert (second.read_count, second.created_count) == (5, 5)  # only the new ones
    assert Record.objects.filter(form=destination.form).count() == 30

    quote = do_run_connector_action(owner, connection, "quote", {"product": 3, "quantity": 2})
    product_price = next(r.data["ext_price"] for r in records if r.data["ext_id"] == 3)
    assert quote["total"] == round(product_price * 2, 2)


def test_a_broken_plugin_is_logged_and_skipped(example_installed, monkeypatch, caplog):
    points = [
        importlib.metadata.EntryPoint(
            name="broken", value="tack_no_such_module:Connector", group="tack.connectors"
        ),
        importlib.metadata.EntryPoint(
            name="not_a_connector", value="tack_connector_example:_product", group="tack.connectors"
        ),
        importlib.metadata.EntryPoint(
            name="example",
            value="tack_connector_example:ExampleConnector",
            group="tack.connectors",
        ),
    ]
    monkeypatch.setattr(registries, "entry_points", lambda group: points)
    fresh = ConnectorTypeRegistry()
    monkeypatch.setattr(registries, "connector_registry", fresh)
    with caplog.at_level(logging.ERROR, logger="connectors.registries"):
        loaded = load_plugins()
    assert loaded == [TYPE]  # the good plugin still loads after the broken ones
    failed = [r.getMessage() for r in caplog.records]
    assert any("tack_no_such_module:Connector" in m for m in failed)
    assert any("tack_connector_example:_product" in m for m in failed)
