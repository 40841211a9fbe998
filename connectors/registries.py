"""The connector plugin contract and the connector-type registry.

After the Airbyte protocol, a connector type answers four questions about an external
system, given a configuration:

- ``spec()``: the configuration as JSON Schema (2020-12). Secret fields carry
  ``"x-secret": true`` (and ``"writeOnly": true``): Tack encrypts them at rest, never
  returns them and masks them in the UI.
- ``check(config)``: a cheap connection test -> ``CheckResult``.
- ``discover(config)``: the streams, each with its fields, primary key and cursor field.
- ``read(config, stream, state)``: yields ``RecordMessage`` and ``StateMessage``. A state
  message is a checkpoint: everything yielded before it is covered, and passing it back
  as ``state`` resumes right after. A full refresh starts from ``state=None``.

Optional ``actions`` write to the external system (create a customer, a sale order).

Errors are typed so the sync engine knows what to do: ``ConfigError`` (the user must fix
the configuration; never retried), ``TransientError`` (retried with backoff, honouring
``retry_after``), ``SourceSystemError`` (the other system failed in a way a retry will not
fix).

Third-party connectors are pip packages exposing a ``ConnectorType`` subclass through the
entry-point group ``tack.connectors``; ``load_plugins()`` registers them at start-up.
See docs/partners/connector-sdk.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tack.connectors"


# --- Errors ---------------------------------------------------------------------------


class ConnectorError(Exception):
    kind: ClassVar[str] = "system"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class ConfigError(ConnectorError):
    """The configuration is wrong (bad credentials, unknown table); retrying won't help."""

    kind = "config"


class TransientError(ConnectorError):
    """Try again later: timeouts, connection refused, 429/503, locks."""

    kind = "transient"


class SourceSystemError(ConnectorError):
    """The external system failed or answered something we cannot use."""

    kind = "system"


# --- Messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamField:
    name: str
    type: str  # string, integer, number, boolean, date, datetime, object, array
    label: str = ""


@dataclass(frozen=True)
class Stream:
    name: str
    label: str
    fields: tuple[StreamField, ...]
    primary_key: tuple[str, ...] = ("id",)
    cursor_field: str | None = None

    @property
    def supports_incremental(self) -> bool:
        return self.cursor_field is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "fields": [{"name": f.name, "type": f.type, "label": f.label} for f in self.fields],
            "primary_key": list(self.primary_key),
            "cursor_field": self.cursor_field,
            "supports_incremental": self.supports_incremental,
        }


@dataclass(frozen=True)
class RecordMessage:
    data: dict[str, Any]


@dataclass(frozen=True)
class StateMessage:
    state: dict[str, Any]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class Action:
    """Something a connector can do in the external system."""

    name: str
    label: str
    params_schema: dict[str, Any] = field(default_factory=dict)


# --- The contract ---------------------------------------------------------------------


class ConnectorType:
    """Base class of every connector type, built-in or from a plugin."""

    type: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    #: Streams arrive pushed (inbound webhook) rather than pulled by ``read``.
    push: ClassVar[bool] = False
    actions: ClassVar[tuple[Action, ...]] = ()

    def spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def check(self, config: Mapping[str, Any]) -> CheckResult:
        raise NotImplementedError

    def discover(self, config: Mapping[str, Any]) -> list[Stream]:
        raise NotImplementedError

    def read(
        self,
        config: Mapping[str, Any],
        stream: Stream,
        state: Mapping[str, Any] | None,
        *,
        batch_size: int = 500,
    ) -> Iterator[RecordMessage | StateMessage]:
        raise NotImplementedError

    def run_action(
        self, config: Mapping[str, Any], action: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        raise ConfigError(f"{self.type} has no action {action!r}")

    def issue_credentials(self, actor: Any, connection: Any) -> dict[str, str]:
        """Credentials Tack makes for a new connection (an inbound webhook's signing
        secret), returned once to show the creator; stored encrypted by the connector."""
        return {}

    # --- helpers -------------------------------------------------------------------
    def secret_fields(self) -> set[str]:
        """Top-level configuration keys marked ``x-secret`` in the spec."""
        properties = self.spec().get("properties", {})
        return {name for name, schema in properties.items() if schema.get("x-secret")}

    def stream(self, config: Mapping[str, Any], name: str) -> Stream:
        for candidate in self.discover(config):
            if candidate.name == name:
                return candidate
        raise ConfigError(f"{self.label} has no stream {name!r}")


class ConnectorTypeRegistry:
    def __init__(self) -> None:
        self._types: dict[str, ConnectorType] = {}
        #: Where each type came from: "built-in" or the distribution that provides it.
        self.origins: dict[str, str] = {}

    def register(self, connector: ConnectorType, origin: str = "built-in") -> None:
        if connector.type in self._types:
            raise ValueError(f"Connector type {connector.type!r} is already registered")
        self._types[connector.type] = connector
        self.origins[connector.type] = origin

    def get(self, name: str) -> ConnectorType:
        return self._types[name]

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def all(self) -> list[ConnectorType]:
        return list(self._types.values())


connector_registry = ConnectorTypeRegistry()


def load_plugins() -> list[str]:
    """Register every ``tack.connectors`` entry point; a broken plugin is logged, skipped."""
    loaded = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = point.load()
            connector = cls() if isinstance(cls, type) else cls
            if not isinstance(connector, ConnectorType):
                raise TypeError(f"{point.value} is not a ConnectorType")
            if connector.type in connector_registry:
                continue
            origin = point.dist.name if point.dist is not None else point.value
            connector_registry.register(connector, origin=origin)
            loaded.append(connector.type)
        except Exception:
            logger.exception("connector plugin %s failed to load", point.value)
    return loaded
