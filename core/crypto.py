"""Encryption at rest for secrets Tack must read back (connector credentials, signing
secrets, TOTP seeds). Hashes are for secrets it only compares (tokens, keys).

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived per purpose by HKDF from
``TACK_ENCRYPTION_KEYS`` (default: ``SECRET_KEY`` then ``SECRET_KEY_FALLBACKS``). The
first key encrypts; every key decrypts, so keys can be rotated by prepending a new one.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class UndecryptableSecret(Exception):
    """Stored ciphertext that no configured key opens (a key was removed or changed)."""


def _derive(key: str, salt: bytes, info: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info)
    return base64.urlsafe_b64encode(hkdf.derive(key.encode()))


@lru_cache(maxsize=16)
def _fernet(keys: tuple[str, ...], salt: bytes, info: bytes) -> MultiFernet:
    return MultiFernet([Fernet(_derive(k, salt, info)) for k in keys])


def _keys() -> tuple[str, ...]:
    configured = getattr(settings, "TACK_ENCRYPTION_KEYS", None)
    if configured:
        return tuple(str(k) for k in configured)
    fallbacks = tuple(str(k) for k in getattr(settings, "SECRET_KEY_FALLBACKS", ()))
    return (str(settings.SECRET_KEY), *fallbacks)


def encrypt(raw: str, *, salt: bytes, info: bytes) -> str:
    return _fernet(_keys(), salt, info).encrypt(raw.encode()).decode()


def decrypt(stored: str, *, salt: bytes, info: bytes) -> str:
    try:
        return _fernet(_keys(), salt, info).decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableSecret("no configured key opens this secret") from exc
