"""Payment providers: a small pluggable interface and the two built-in providers.

A provider moves money for an invoice. Every money-moving call carries an idempotency
key, which a real provider must honour (a repeated key returns the first outcome and
moves no money again); Tack derives keys from stable facts (the invoice's own key), so a
billing run killed mid-way and run again asks with the same key.

* ``manual``: bank transfer. Nothing is charged automatically: the invoice stays open
  until an operator records the transfer's reference (``do_record_manual_payment``).
  Refunds are sent by transfer too; the provider only records them.
* ``test``: deterministic, for tests and the demo. A charge fails when the card token is
  ``tok_declined`` or the amount's last two digits are ``13``; otherwise it succeeds.
  With ``TACK_TEST_PROVIDER_JOURNAL`` set (a file path) it keeps a journal of the keys it
  charged and answers a repeated key from it without charging again, like a real
  provider; tests read the journal to count charges.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import Conflict, NotFound
from marketplace.models import Invoice, Payment


@dataclass(frozen=True)
class ChargeResult:
    ok: bool
    reference: str
    failure_reason: str = ""


@dataclass(frozen=True)
class RefundResult:
    reference: str


class PaymentProvider:
    """Subclass, give it a ``name``, and ``register_provider`` it (in ``AppConfig.ready``)."""

    name: ClassVar[str]
    label: ClassVar[str]
    #: Whether the billing run charges this provider's invoices by itself.
    auto_charge: ClassVar[bool] = False

    def charge(self, invoice: Invoice, idempotency_key: str, token: str = "") -> ChargeResult:
        raise NotImplementedError

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> RefundResult:
        raise NotImplementedError


class ManualProvider(PaymentProvider):
    name = "manual"
    label = "Bank transfer"
    auto_charge = False

    def charge(self, invoice: Invoice, idempotency_key: str, token: str = "") -> ChargeResult:
        raise Conflict(
            _("This invoice is paid by bank transfer; an operator records the transfer."),
            code="manual_payment_only",
        )

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> RefundResult:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
        return RefundResult(reference=f"manual-refund-{digest}")


class TestProvider(PaymentProvider):
    name = "test"
    label = "Test card"
    auto_charge = True
    DECLINED_TOKEN = "tok_declined"

    def _journal(self) -> str | None:
        path: str | None = getattr(settings, "TACK_TEST_PROVIDER_JOURNAL", None) or os.environ.get(
            "TACK_TEST_PROVIDER_JOURNAL"
        )
        return path

    def _outcome(self, amount: int, token: str, key: str) -> ChargeResult:
        reference = "test_ch_" + hashlib.sha256(key.encode()).hexdigest()[:16]
        if token == self.DECLINED_TOKEN:
            return ChargeResult(False, reference, "card_declined")
        if amount % 100 == 13:
            return ChargeResult(False, reference, "insufficient_funds")
        return ChargeResult(True, reference)

    def charge(self, invoice: Invoice, idempotency_key: str, token: str = "") -> ChargeResult:
        journal = self._journal()
        if journal:
            seen = {}
            if Path(journal).exists():
                with Path(journal).open(encoding="utf-8") as fh:
                    for line in fh:
                        row = json.loads(line)
                        seen[row["key"]] = row
            if idempotency_key in seen:
                row = seen[idempotency_key]
                return ChargeResult(row["ok"], row["reference"], row["reason"])
        result = self._outcome(invoice.amount, token, idempotency_key)
        if journal:
            with Path(journal).open("a", encoding="utf-8") as fh:
                fh.write(
                    json.dumps(
                        {
                            "key": idempotency_key,
                            "amount": invoice.amount,
                            "ok": result.ok,
                            "reference": result.reference,
                            "reason": result.failure_reason,
                        }
                    )
                    + "\n"
                )
        return result

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> RefundResult:
        return RefundResult("test_re_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16])


PROVIDERS: dict[str, PaymentProvider] = {}


def register_provider(provider: PaymentProvider) -> None:
    PROVIDERS[provider.name] = provider


def get_provider(name: str) -> PaymentProvider:
    provider = PROVIDERS.get(name)
    if provider is None:
        raise NotFound(_("Unknown payment provider."), code="unknown_provider")
    return provider


register_provider(ManualProvider())
register_provider(TestProvider())
