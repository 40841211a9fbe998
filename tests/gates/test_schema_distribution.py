"""Every tenant-owned table can be distributed by ``org_id`` (ARCHITECTURE.md, "Tenancy").

A tenant-owned model has a non-null ``org`` foreign key to Organization, and every unique
constraint on it includes ``org``. Models that are not tenant-owned are listed here with
the reason; that list must stay short.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models

from core.models import Organization

PROJECT_APPS = {"core", "im", "lowcode", "connectors", "marketplace"}
GLOBAL_MODELS = {
    "core.Organization": "the tenant itself",
    "core.DagDefinition": "the platform's DAG rule, versioned; the same for every organisation",
    "core.PlatformDaily": "platform-wide daily totals across all organisations (operators)",
    "core.User": "a person may belong to several organisations",
    "core.ApiToken": "belongs to a person, who may act in several organisations",
    "core.TwoFactorDevice": "a person's authenticator, used to sign in to every organisation",
    "core.RecoveryCode": "a person's two-step recovery code, for every organisation",
    # The marketplace's supply side belongs to partners, not to any organisation: these are
    # small platform-wide tables (Citus reference tables when the database is distributed).
    "marketplace.Partner": "a software vendor, serving many organisations",
    "marketplace.PartnerMember": "a person's place in a partner company",
    "marketplace.App": "a catalogue listing, installable by every organisation",
    "marketplace.AppVersion": "a version of a catalogue listing",
    # The platform's own books (H4): the revenue-share ledger is the platform's, across
    # organisations and partners (each transaction notes the paying organisation's id).
    "marketplace.LedgerAccount": "an account in the platform's books (cash, commission, partner)",
    "marketplace.LedgerTransaction": "a balanced posting in the platform's books",
    "marketplace.LedgerEntry": "one leg of a posting in the platform's books",
    "marketplace.CommissionRate": "the platform's commission on a partner's or app's sales",
    "marketplace.Payout": "money the platform sent to a partner",
    "marketplace.PartnerStatement": "a partner's monthly statement from the platform's books",
}


def project_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS]


def label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


TENANT_MODELS = [m for m in project_models() if label(m) not in GLOBAL_MODELS]


def test_the_exceptions_are_real_models():
    assert set(GLOBAL_MODELS) <= {label(m) for m in project_models()}


@pytest.mark.parametrize("model", TENANT_MODELS, ids=label)
def test_tenant_table_has_a_non_null_org(model):
    field = model._meta.get_field("org")
    assert isinstance(field, models.ForeignKey), f"{label(model)}.org is not a foreign key"
    assert field.related_model is Organization
    assert not field.null, f"{label(model)}.org may be null"


@pytest.mark.parametrize("model", TENANT_MODELS, ids=label)
def test_every_unique_constraint_includes_org(model):
    problems = []
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and "org" not in constraint.fields:
            problems.append(f"constraint {constraint.name}: {constraint.fields}")
    for fields in model._meta.unique_together:
        if "org" not in fields:
            problems.append(f"unique_together {fields}")
    for field in model._meta.local_fields:
        if field.unique and not field.primary_key:
            is_one_to_one = isinstance(field, models.OneToOneField)
            problems.append(f"{field.name} is unique{' (one-to-one)' if is_one_to_one else ''}")
    assert not problems, f"{label(model)}: " + "; ".join(problems)
