"""Time-based one-time passwords (RFC 6238, via ``pyotp``), QR codes and recovery codes.

The seed is encrypted at rest (``core.crypto``, purpose "totp"). A code is accepted once:
the device remembers the last accepted time step, so a code seen by someone else cannot
be replayed within its window. Failed attempts are counted per person; after
``MAX_FAILURES`` in ``FAILURE_WINDOW`` seconds verification answers 429 until it passes.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import pyotp
import segno
from django.core.cache import cache
from django.utils.translation import gettext as _

from core import crypto
from core.errors import TackError
from core.security.models import TwoFactorDevice

_SALT, _INFO = b"tack.totp", b"totp"
DIGITS = 6
STEP = 30
#: Codes of the previous and next step are accepted too (clock drift).
DRIFT_STEPS = 1
MAX_FAILURES = 5
FAILURE_WINDOW = 300
RECOVERY_CODE_COUNT = 10


class TooManyAttempts(TackError):
    status = 429
    code = "too_many_attempts"


def new_secret() -> str:
    return pyotp.random_base32(32)


def encrypt_secret(secret: str) -> str:
    return crypto.encrypt(secret, salt=_SALT, info=_INFO)


def device_secret(device: TwoFactorDevice) -> str:
    return crypto.decrypt(device.secret_encrypted, salt=_SALT, info=_INFO)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_data_url(uri: str) -> str:
    """The ``otpauth://`` URI as an SVG QR code in a data URL, drawn here (no other host)."""
    data_url: str = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return data_url


def normalise_code(code: str) -> str:
    return "".join(str(code or "").split()).replace("-", "").lower()


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (within the drift), or None."""
    code = normalise_code(code)
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    current = int((now if now is not None else time.time()) // STEP)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


# --- failure counting ---------------------------------------------------------------------


def _failures_key(user_id: int) -> str:
    return f"tack:totp-failures:{user_id}"


def check_not_locked(user_id: int) -> None:
    if int(cache.get(_failures_key(user_id)) or 0) >= MAX_FAILURES:
        raise TooManyAttempts(
            _("Too many wrong codes. Wait a few minutes, then try again."),
        )


def count_failure(user_id: int) -> None:
    key = _failures_key(user_id)
    if cache.add(key, 1, FAILURE_WINDOW):
        return
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, FAILURE_WINDOW)


def clear_failures(user_id: int) -> None:
    cache.delete(_failures_key(user_id))


# --- recovery codes -----------------------------------------------------------------------


def new_recovery_codes() -> list[str]:
    """Ten codes like ``k4f9-x2mq-8hzt`` (60 random bits each)."""
    alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
    codes = []
    for _n in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(alphabet) for _c in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def hash_recovery_code(code: str) -> str:
    return hashlib.sha256(("tack-recovery:" + normalise_code(code)).encode()).hexdigest()
