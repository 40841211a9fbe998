"""Regression tests for defects found in the marketplace review."""

from __future__ import annotations

import datetime as dt

import pytest

from marketplace import billing
from marketplace.models import Invoice, Payment, Subscription
from marketplace.payments import PROVIDERS, PaymentProvider
from tests.marketplace.billing_factories import make_app

pytestmark = pytest.mark.django_db
D = dt.date


def _sub(org, app, code="basic", on=None, provider="manual", token=""):
    on = on or D(2026, 3, 10)
    plan = billing.app_plan(app, code)
    return billing._new_subscription(
        org, plan, kind="app", start=on, member=None, app=app, provider=provider, token=token
    )


def _open_invoice(org, app, provider="test"):
    sub = _sub(org, app, on=D(2026, 3, 1), provider=provider)
    Subscription.objects.filter(pk=sub.pk).update(payment_token="tok_declined")
    billing.run_billing(D(2026, 3, 1))
    invoice = Invoice.objects.get(subscription=sub)
    assert invoice.status == "open"
    return invoice


# --- money: idempotency keys sent to the provider are scoped per organisation ------------


def test_same_payment_key_in_two_orgs_reaches_the_provider_as_different_keys(
    org, owner, other_org, tmp_path, settings
):
    """A real provider answers a repeated key with the first outcome: one organisation's
    key must never replay another organisation's charge (invoice paid, nothing charged)."""
    from core.models import Membership

    settings.TACK_TEST_PROVIDER_JOURNAL = str(tmp_path / "journal.jsonl")
    app = make_app()
    mine = _open_invoice(org, app)
    theirs = _open_invoice(other_org, app)
    other_owner = Membership.objects.get(org=other_org, role="owner")
    paid, _ = billing.do_pay_invoice(owner, mine, idempotency_key="pay-1", token="tok_ok")
    assert paid.status == "succeeded"
    declined, _ = billing.do_pay_invoice(
        other_owner, theirs, idempotency_key="pay-1", token="tok_declined"
    )
    assert declined.status == "failed"
    theirs.refresh_from_db()
    assert theirs.status == "open"


def test_a_client_key_cannot_replay_another_orgs_billing_run_charge(
    org, other_org, tmp_path, settings
):
    from core.models import Membership

    settings.TACK_TEST_PROVIDER_JOURNAL = str(tmp_path / "journal.jsonl")
    app = make_app()
    good = _sub(org, app, on=D(2026, 3, 1), provider="test")
    billing.run_billing(D(2026, 3, 1))  # charged by the run under "charge:period:..."
    assert Payment.objects.get(invoice__subscription=good).status == "succeeded"
    theirs = _open_invoice(other_org, app)
    other_owner = Membership.objects.get(org=other_org, role="owner")
    payment, _ = billing.do_pay_invoice(
        other_owner,
        theirs,
        idempotency_key=f"charge:period:{good.pk}:2026-03-01",
        token="tok_declined",
    )
    assert payment.status == "failed"


def test_refund_keys_reach_the_provider_scoped_per_org(org, other_org, make_user):
    seen: list[str] = []

    class Recording(PaymentProvider):
        name = "recording"
        label = "Recording"
        auto_charge = True

        def charge(self, invoice, idempotency_key, token=""):
            from marketplace.payments import ChargeResult

            return ChargeResult(True, "ch-" + idempotency_key)

        def refund(self, payment, amount, idempotency_key):
            from marketplace.payments import RefundResult

            seen.append(idempotency_key)
            return RefundResult("re-" + idempotency_key)

    PROVIDERS["recording"] = Recording()
    try:
        staff = make_user(is_staff=True)
        app = make_app()
        payments = []
        for o in (org, other_org):
            sub = _sub(o, app, on=D(2026, 3, 1), provider="recording")
            billing.run_billing(D(2026, 3, 1))
            payments.append(Payment.objects.get(invoice__subscription=sub))
        for p in payments:
            billing.do_refund(staff, p, amount=100, idempotency_key="r1")
    finally:
        PROVIDERS.pop("recording", None)
    assert len(seen) == 2 and seen[0] != seen[1]


# --- money: a credit in one currency is never spent in another ---------------------------


def test_a_credit_is_not_carried_into_a_plan_in_another_currency(org, owner):
    from core.errors import ValidationFailed
    from tests.marketplace.billing_factories import plans

    usd = {
        "code": "usd",
        "name": "USD",
        "type": "flat",
        "interval": "month",
        "amount": 5000,
        "currency": "USD",
        "trial_days": 0,
    }
    app = make_app(plan_list=[*plans(), usd])
    sub = _sub(org, app, code="basic", on=D(2026, 3, 1), provider="test")
    billing.run_billing(D(2026, 3, 1))
    sub.refresh_from_db()
    sub, _ = billing.do_change_plan(owner, sub, plan_code="free", on=D(2026, 3, 16))
    assert sub.credit > 0  # CNY minor units
    credit = sub.credit
    with pytest.raises(ValidationFailed) as info:
        billing.do_change_plan(owner, sub, plan_code="usd", on=D(2026, 3, 17))
    assert info.value.code == "currency_mismatch"
    sub.refresh_from_db()
    assert sub.credit == credit and sub.currency == "CNY"
    assert not Invoice.objects.filter(subscription=sub, currency="USD").exists()


def test_no_credit_for_time_not_yet_paid_for(org, owner):
    """A plan change while the period's invoice is still open (bank transfer not yet
    received) is refused: crediting the unused days would credit money never received."""
    from core.errors import Conflict

    app = make_app()
    sub = _sub(org, app, code="pro", on=D(2026, 4, 1), provider="manual")
    billing.run_billing(D(2026, 4, 1))
    assert Invoice.objects.get(subscription=sub).status == "open"
    with pytest.raises(Conflict) as info:
        billing.do_change_plan(owner, sub, plan_code="free", on=D(2026, 4, 16))
    assert info.value.code == "invoice_open"
    sub.refresh_from_db()
    assert sub.credit == 0 and sub.plan_code == "pro"


# --- correctness: list endpoints without N+1 queries -------------------------------------


def test_listing_an_apps_versions_does_not_query_per_version(
    api, partner_owner, make_partner_app, manifest_for, django_assert_max_num_queries
):
    from marketplace.actions import do_create_version

    app = make_partner_app()
    client = api(partner_owner.user)
    do_create_version(partner_owner, app, manifest_for(app.app_id, version="1.0.0"))
    client.get(f"/api/v1/marketplace/versions/?app={app.pk}")  # warm up (token last use)
    with django_assert_max_num_queries(50) as one:
        assert client.get(f"/api/v1/marketplace/versions/?app={app.pk}").status_code == 200
    for n in range(1, 8):
        do_create_version(partner_owner, app, manifest_for(app.app_id, version=f"1.0.{n}"))
    with django_assert_max_num_queries(len(one.captured_queries)) as many:
        response = client.get(f"/api/v1/marketplace/versions/?app={app.pk}")
    assert response.status_code == 200 and len(response.json()) == 8
    assert len(many.captured_queries) == len(one.captured_queries)


# --- money: a free trial is given once per organisation and app --------------------------


def test_uninstalling_and_reinstalling_does_not_start_a_second_free_trial(org, owner):
    from marketplace.models import Installation
    from tests.marketplace.billing_factories import make_installation

    app = make_app()
    first = make_installation(app, org)
    billing.start_app_subscription(first, "team")
    trial = Subscription.objects.get(org=org, app=app)
    assert trial.status == "trialing"
    billing.cancel_for_uninstall(first)
    Installation.objects.filter(pk=first.pk).update(status="uninstalled")
    second = make_installation(app, org)
    billing.start_app_subscription(second, "team")
    again = Subscription.objects.get(org=org, app=app, installation=second)
    assert again.status != "trialing" and again.trial_end is None
    assert Invoice.objects.filter(subscription=again).exists()


# --- correctness: malformed manifests are 400s listing the problems, never 500s -----------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("scopes",), 1.5),
        (("scopes",), [{}]),
        (("scopes",), [["im:card.write"]]),
        (("webhook", "events"), 7),
        (("webhook", "events"), [{"a": 1}]),
        (("cards", 0, "sample", "buttons"), True),
        (("oauth", "redirect_uris"), -1),
    ],
)
def test_malformed_manifest_parts_are_reported_not_crashed_on(
    api, partner_owner, make_partner_app, manifest_for, path, value
):
    app = make_partner_app()
    manifest = manifest_for(app.app_id)
    target = manifest
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    response = api(partner_owner.user).post(
        "/api/v1/marketplace/versions/", {"app": app.pk, "manifest": manifest}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_manifest"


# --- correctness: the token endpoint answers OAuth errors, not 500s ----------------------


@pytest.mark.parametrize("org_param", ["99999999999999999999999", "-1", "0", "1e3"])
def test_client_credentials_with_an_impossible_org_is_an_oauth_error(
    client, org, oauth_app, install_app, org_param
):
    app, client_id, secret = oauth_app(["core:org.read"])
    install_app(app, org, ["core:org.read"])
    client.raise_request_exception = False
    response = client.post(
        "/oauth/token/",
        {
            "grant_type": "client_credentials",
            "org": org_param,
            "client_id": client_id,
            "client_secret": secret,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_grant")


def test_delivery_filters_with_out_of_range_ids_are_400s(
    api, org, admin, published_app, partner_owner
):
    app = published_app()
    huge = "99999999999999999999999"
    org_client = api(admin)
    org_client.raise_request_exception = False
    partner_client = api(partner_owner.user)
    partner_client.raise_request_exception = False
    for client, url in (
        (org_client, f"/api/v1/orgs/{org.pk}/marketplace/deliveries/?installation={huge}"),
        (partner_client, f"/api/v1/marketplace/apps/{app.pk}/deliveries/?org={huge}"),
        (partner_client, f"/api/v1/marketplace/apps/{app.pk}/deliveries/?org=-5"),
    ):
        response = client.get(url)
        assert response.status_code == 400, (url, response.status_code)


# --- security: an app cannot undo an admin suspending its account ------------------------


def test_a_suspended_app_account_gets_no_token_and_stays_suspended(
    client, org, oauth_app, install_app
):
    from core.models import Membership

    app, client_id, secret = oauth_app(["core:org.read"])
    installation = install_app(app, org, ["core:org.read"])
    Membership.objects.filter(pk=installation.app_member_id).update(status="suspended")
    response = client.post(
        "/oauth/token/",
        {
            "grant_type": "client_credentials",
            "org": str(org.pk),
            "client_id": client_id,
            "client_secret": secret,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert Membership.objects.get(pk=installation.app_member_id).status == "suspended"


def test_a_removed_app_account_is_not_recreated_by_a_token_request(
    client, org, oauth_app, install_app
):
    """An admin who deletes the app's own account cuts the app off until it is installed
    again; asking for a token does not bring the account back."""
    from core.models import Membership

    app, client_id, secret = oauth_app(["core:org.read"])
    installation = install_app(app, org, ["core:org.read"])
    Membership.objects.filter(pk=installation.app_member_id).delete()
    before = Membership.objects.filter(org=org).count()
    response = client.post(
        "/oauth/token/",
        {
            "grant_type": "client_credentials",
            "org": str(org.pk),
            "client_id": client_id,
            "client_secret": secret,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert Membership.objects.filter(org=org).count() == before


# --- security: record events reach only apps whose account may read the record -----------

RECORD_FIELDS = [{"key": "batch", "type": "text", "label": "Batch"}]


def test_record_events_respect_the_low_code_apps_permissions(
    hooked_app, webhook_receiver, owner, make_form, django_capture_on_commit_callbacks
):
    """The app's own account (a plain member) cannot list others' records through the API
    in a low-code app that does not share them: its webhooks must not carry them either."""
    from lowcode.actions import do_create_record
    from marketplace.models import WebhookDelivery

    installation = hooked_app(["lowcode.record.created"])
    form = make_form(RECORD_FIELDS)  # default permissions: members see their own records
    with django_capture_on_commit_callbacks(execute=True):
        do_create_record(owner, form, {"batch": "secret salary"})
    assert webhook_receiver.requests == []
    assert not WebhookDelivery.objects.exists()

    app = form.app
    app.permissions["view_all"]["members"].append(installation.app_member_id)
    app.save(update_fields=["permissions"])
    with django_capture_on_commit_callbacks(execute=True):
        do_create_record(owner, form, {"batch": "shared"})
    assert [b["data"]["record"]["data"] for b in webhook_receiver.bodies()] == [{"batch": "shared"}]
