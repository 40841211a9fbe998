"""Marketplace models: partners, apps and their versions, installations.

Webhook deliveries live in ``webhooks.py``; plans, subscriptions, invoices and payments in
``billing.py``; the revenue-share ledger in ``ledger.py``.
"""

from marketplace.models.apps import App, AppVersion, Installation
from marketplace.models.billing import EditionQuote, Invoice, Payment, Refund, Subscription
from marketplace.models.ledger import (
    CommissionRate,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    PartnerStatement,
    Payout,
)
from marketplace.models.partners import Partner, PartnerMember
from marketplace.models.tokens import InstallationToken
from marketplace.models.webhooks import CoolAppBinding, WebhookAttempt, WebhookDelivery

__all__ = [
    "App",
    "AppVersion",
    "CommissionRate",
    "CoolAppBinding",
    "EditionQuote",
    "Installation",
    "InstallationToken",
    "Invoice",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "Partner",
    "PartnerMember",
    "PartnerStatement",
    "Payment",
    "Payout",
    "Refund",
    "Subscription",
    "WebhookAttempt",
    "WebhookDelivery",
]
