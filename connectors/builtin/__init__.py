"""The connectors that ship with Tack."""

from __future__ import annotations


def register_built_in_connectors() -> None:
    from connectors.builtin.rest import RestConnector
    from connectors.builtin.sql import SQLConnector
    from connectors.builtin.tryton import TrytonConnector
    from connectors.builtin.webhook import WebhookConnector
    from connectors.registries import connector_registry

    for cls in (TrytonConnector, SQLConnector, RestConnector, WebhookConnector):
        if cls.type not in connector_registry:
            connector_registry.register(cls())
