"""``make demo`` shows a living marketplace: published apps, one installed and billed, one
version waiting for review, and a platform operator to review it."""

from __future__ import annotations

import pytest

from core.demo import run_demo
from core.models import User
from marketplace.demo import OPERATOR_EMAIL, PARTNER_EMAIL
from marketplace.models import App, AppVersion, Installation
from marketplace.models.ledger import LedgerEntry

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_catalogue_an_install_a_review_and_revenue():
    result = run_demo()
    again = run_demo()  # idempotent: nothing new the second time

    assert again.org == result.org
    assert App.objects.filter(published_version__isnull=False).count() == 3
    installed = Installation.objects.get(org=result.org, status="active")
    assert installed.app.app_id == "com.acmeapps.expenses"
    assert installed.app_member is not None and installed.app_member.user.is_app
    waiting = AppVersion.objects.get(status="submitted")
    assert waiting.new_scopes == ["lowcode:record.write"]
    assert User.objects.get(email=OPERATOR_EMAIL).is_staff
    assert User.objects.get(email=PARTNER_EMAIL).partner_memberships.get().role == "owner"
    assert LedgerEntry.objects.exists()  # a month of paid subscription, split with the partner
    assert any(label == "Marketplace" for label, _path in result.links)
