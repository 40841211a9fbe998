"""Fixtures for the integration tests: a real Tryton server (see tests/integration/tryton.py)."""

from tests.integration.tryton import tryton, tryton_database

__all__ = ["tryton", "tryton_database"]
