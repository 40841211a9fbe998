"""Scenario APIs against a real Tryton: find the customer, then create the sale order."""

from __future__ import annotations

import pytest

from connectors.actions import do_create_connection
from connectors.models import ScenarioRun
from connectors.scenarios import do_create_scenario_token, do_save_scenario

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def url(org, path=""):
    return f"/api/v1/orgs/{org.pk}/connectors/{path}"


@pytest.fixture
def order_scenario(tryton, owner):
    client = tryton.client()
    client.call("party.party", "create", [{"name": "Acme Foods"}])
    (product,) = client.call("product.product", "search", [], 0, 1, None)
    erp = do_create_connection(owner, type="tryton", name="ERP", config=tryton.config)
    definition = {
        "name": "Order",
        "input_schema": {
            "type": "object",
            "required": ["customer", "quantity"],
            "properties": {"customer": {"type": "string"}, "quantity": {"type": "number"}},
        },
        "steps": [
            {
                "id": "customer",
                "connection": erp.pk,
                "action": "find_party",
                "params": {"name": "{{input.customer}}"},
            },
            {
                "id": "order",
                "connection": erp.pk,
                "action": "create_sale_order",
                "params": {
                    "party": "{{steps.customer.id}}",
                    "reference": "Web {{input.customer}}",
                    "lines": [{"product": product, "quantity": "{{input.quantity}}"}],
                },
            },
        ],
        "output": {"customer_id": "{{steps.customer.id}}", "sale_id": "{{steps.order.id}}"},
    }
    return do_save_scenario(owner, definition), client


def test_chains_a_crm_lookup_into_an_erp_order(order_scenario, org, owner, api):
    scenario, client = order_scenario
    response = api(owner).post(
        url(org, f"scenarios/{scenario.slug}/run/"),
        {"customer": "acme", "quantity": 2},
        format="json",
    )
    assert response.status_code == 200, response.content
    output = response.json()["output"]
    (sale,) = client.call("sale.sale", "read", [output["sale_id"]], ["party", "reference"])
    assert sale["party"] == output["customer_id"]
    assert sale["reference"] == "Web acme"
    assert ScenarioRun.objects.get().ok is True


def test_a_scenario_token_runs_that_scenario_only(order_scenario, org, owner, api):
    scenario, _client = order_scenario
    _token, secret = do_create_scenario_token(owner, scenario, name="Web shop")
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    ok = client.post(
        url(org, f"scenarios/{scenario.slug}/run/"),
        {"customer": "Acme Foods", "quantity": 1},
        format="json",
    )
    assert ok.status_code == 200, ok.content
    assert client.get(url(org, "connections/")).status_code == 401  # nothing else
    other = do_save_scenario(owner, {"name": "Other", "steps": scenario.steps[:1]})
    denied = client.post(url(org, f"scenarios/{other.slug}/run/"), {"customer": "x"}, format="json")
    assert denied.status_code == 401


def test_bad_input_and_a_failing_step_are_clear_errors(order_scenario, org, owner, api):
    scenario, _client = order_scenario
    run_url = url(org, f"scenarios/{scenario.slug}/run/")
    bad = api(owner).post(run_url, {"quantity": "two"}, format="json")
    assert bad.status_code == 400
    assert {"input", "input.quantity"} & set(bad.json()["error"]["fields"])
    missing = api(owner).post(run_url, {"customer": "Nobody Ltd", "quantity": 1}, format="json")
    assert missing.status_code == 409
    error = missing.json()["error"]
    assert error["code"] == "step_failed"
    assert "steps.customer" in error["fields"] and error["fields"]["completed_steps"] == []
    assert ScenarioRun.objects.filter(ok=False).count() == 1


def test_definitions_are_checked(tryton, owner):
    from core.errors import ValidationFailed

    erp = do_create_connection(owner, type="tryton", name="ERP", config=tryton.config)
    with pytest.raises(ValidationFailed) as caught:
        do_save_scenario(
            owner,
            {
                "name": "Bad",
                "steps": [
                    {"id": "a", "connection": erp.pk, "action": "drop_database", "params": {}},
                    {
                        "id": "b",
                        "connection": erp.pk,
                        "action": "find_party",
                        "params": {"name": "{{steps.later.name}}"},
                    },
                ],
            },
        )
    assert {"steps[0].action", "steps[1].params"} <= set(caught.value.fields)


def test_the_organisations_openapi_lists_its_scenarios(order_scenario, org, owner, api):
    scenario, _client = order_scenario
    document = api(owner).get(url(org, "scenarios/openapi/")).json()
    path = f"/api/v1/orgs/{org.pk}/connectors/scenarios/{scenario.slug}/run/"
    operation = document["paths"][path]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "customer",
        "quantity",
    ]
