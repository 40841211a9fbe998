"""Marketplace models: partners, apps and their versions, installations.

Webhook deliveries live in ``webhooks.py``; plans, subscriptions, invoices and payments in
``billing.py``; the revenue-share ledger in ``ledger.py``.
"""

from marketplace.models.apps import App, AppVersion, Installation
from marketplace.models.partners import Partner, PartnerMember

__all__ = ["App", "AppVersion", "Installation", "Partner", "PartnerMember"]
