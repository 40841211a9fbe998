"""An example Tack connector plugin: a product catalogue generated from a seed.

It needs no network and no external system, so it is the smallest complete template for
a partner's own connector: a spec with a secret field, ``check``, ``discover``, an
incremental ``read`` that yields checkpoints, typed errors and one action.

Tack finds it through the ``tack.connectors`` entry point declared in pyproject.toml.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from connectors.registries import (
    Action,
    CheckResult,
    ConfigError,
    ConnectorType,
    RecordMessage,
    StateMessage,
    Stream,
    StreamField,
)

__all__ = ["ExampleConnector"]

_COLOURS = ("red", "green", "blue", "black", "white", "yellow")
_NOUNS = ("Chair", "Desk", "Lamp", "Shelf", "Stool", "Cabinet", "Sofa", "Table")


def _product(seed: int, product_id: int) -> dict[str, Any]:
    """The same seed and id always give the same product."""
    digest = hashlib.sha256(f"{seed}:{product_id}".encode()).digest()
    colour = _COLOURS[digest[0] % len(_COLOURS)]
    noun = _NOUNS[digest[1] % len(_NOUNS)]
    return {
        "id": product_id,
        "name": f"{colour.capitalize()} {noun} {product_id}",
        "colour": colour,
        "price": round(10 + int.from_bytes(digest[2:4], "big") / 100, 2),
        "in_stock": digest[4] % 4 != 0,
    }


class ExampleConnector(ConnectorType):
    type = "example_catalog"
    label = "Example catalogue (demo plugin)"
    description = "A demo product catalogue generated from a seed; works offline."
    actions: ClassVar[tuple[Action, ...]] = (
        Action(
            "quote",
            "Quote a price",
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["product", "quantity"],
                "properties": {
                    "product": {"type": "integer", "minimum": 1},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 100000},
                },
            },
        ),
    )

    def spec(self) -> dict[str, Any]:
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": False,
            "required": ["seed", "count"],
            "properties": {
                "seed": {"type": "integer", "title": "Seed", "minimum": 0},
                "count": {
                    "type": "integer",
                    "title": "Number of products",
                    "minimum": 0,
                    "maximum": 100000,
                },
                "page_size": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 100},
                # A real connector keeps its credentials in fields like this one: Tack
                # encrypts them at rest and never shows them again.
                "api_key": {
                    "type": "string",
                    "title": "API key (any value; shows how secrets work)",
                    "maxLength": 200,
                    "x-secret": True,
                    "writeOnly": True,
                },
            },
        }

    def _settings(self, config: Mapping[str, Any]) -> tuple[int, int, int]:
        try:
            seed, count = int(config["seed"]), int(config["count"])
            page = int(config.get("page_size") or 100)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError("Set a whole-number seed and count.") from exc
        if count < 0 or page < 1:
            raise ConfigError("The count must be positive and the page size at least 1.")
        return seed, count, page

    def check(self, config: Mapping[str, Any]) -> CheckResult:
        _seed, count, _page = self._settings(config)
        return CheckResult(True, f"{count} demo products available.")

    def discover(self, config: Mapping[str, Any]) -> list[Stream]:
        return [
            Stream(
                name="products",
                label="Products",
                fields=(
                    StreamField("id", "integer", "Id"),
                    StreamField("name", "string", "Name"),
                    StreamField("colour", "string", "Colour"),
                    StreamField("price", "number", "Price"),
                    StreamField("in_stock", "boolean", "In stock"),
                ),
                primary_key=("id",),
                cursor_field="id",
            )
        ]

    def read(
        self,
        config: Mapping[str, Any],
        stream: Stream,
        state: Mapping[str, Any] | None,
        *,
        batch_size: int = 500,
    ) -> Iterator[RecordMessage | StateMessage]:
        if stream.name != "products":
            raise ConfigError(f"The example catalogue has no stream {stream.name!r}.")
        seed, count, page = self._settings(config)
        last = int((state or {}).get("last_id") or 0)
        while last < count:
            upto = min(last + page, count)
            for product_id in range(last + 1, upto + 1):
                yield RecordMessage(_product(seed, product_id))
            last = upto
            # A checkpoint after every page: a run stopped half way resumes here.
            yield StateMessage({"last_id": last})

    def run_action(
        self, config: Mapping[str, Any], action: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        if action != "quote":
            return super().run_action(config, action, params)
        seed, count, _page = self._settings(config)
        product_id, quantity = int(params["product"]), int(params["quantity"])
        if not 1 <= product_id <= count:
            raise ConfigError(f"There is no product {product_id}.")
        price = _product(seed, product_id)["price"]
        return {"id": product_id, "quantity": quantity, "total": round(price * quantity, 2)}
