"""Secrets at rest: encrypted per purpose, and keys can be rotated without losing them."""

from __future__ import annotations

import pytest
from django.test import override_settings

from core.crypto import UndecryptableSecret, decrypt, encrypt

PURPOSE = {"salt": b"tack.test", "info": b"rotation"}


def test_rotation_keeps_old_secrets_readable_until_the_old_key_is_dropped():
    with override_settings(TACK_ENCRYPTION_KEYS=["old-key-0123456789"]):
        stored = encrypt("erp-password", **PURPOSE)
    assert "erp-password" not in stored
    with override_settings(TACK_ENCRYPTION_KEYS=["new-key-9876543210", "old-key-0123456789"]):
        assert decrypt(stored, **PURPOSE) == "erp-password"
        fresh = encrypt("erp-password", **PURPOSE)
    with override_settings(TACK_ENCRYPTION_KEYS=["new-key-9876543210"]):
        assert decrypt(fresh, **PURPOSE) == "erp-password"
        with pytest.raises(UndecryptableSecret):
            decrypt(stored, **PURPOSE)


def test_each_purpose_has_its_own_key():
    stored = encrypt("token", **PURPOSE)
    with pytest.raises(UndecryptableSecret):
        decrypt(stored, salt=b"tack.other", info=b"rotation")
