"""The catalogue: published, listed apps; search, categories; app pages with scopes and prices."""

from __future__ import annotations

from tests.marketplace.conftest import make_manifest

C = "/api/v1/marketplace/catalogue/"


def test_only_published_listed_apps_are_in_the_catalogue(
    published_app, make_partner_app, partner_owner, member, api
):
    shown = published_app(app_id="com.acme.expense")
    make_partner_app("com.acme.unpublished")
    hidden = published_app(app_id="com.acme.hidden", name="Hidden")
    api(partner_owner.user).patch(
        f"/api/v1/marketplace/apps/{hidden.pk}/", {"is_listed": False}, format="json"
    )
    listed = api(member).get(C).json()
    assert [a["app_id"] for a in listed] == [shown.app_id]
    assert listed[0]["partner_name"] == "Acme Apps"
    assert listed[0]["lowest_price"]["code"] == "free"
    # an unlisted app is still reachable by direct link; an unpublished one is not
    assert api(member).get(f"{C}com.acme.hidden/").status_code == 200
    assert api(member).get(f"{C}com.acme.unpublished/").status_code == 404
    assert api(member).get(f"{C}com.nope.nope/").status_code == 404


def test_search_is_case_insensitive_over_name_description_and_categories(
    published_app, member, api
):
    published_app(app_id="com.acme.expense")
    published_app(
        app_id="com.acme.purchase",
        name="Purchase Helper",
        summary="Buy what the team needs.",
        description="Purchase requests and supplier QUOTES.",
        categories=["operations"],
        scopes=["lowcode:record.read"],
    )
    client = api(member)

    def ids(query):
        return [a["app_id"] for a in client.get(C + query).json()]

    assert ids("?q=purchase") == ["com.acme.purchase"]
    assert ids("?q=quotes") == ["com.acme.purchase"]
    assert ids("?q=EXPENSE claims") == ["com.acme.expense"]
    assert ids("?q=supply") == ["com.acme.purchase"]  # category label "Operations and supply chain"
    assert ids("?category=finance") == ["com.acme.expense"]
    assert ids("?category=operations&q=helper") == ["com.acme.purchase"]
    assert ids("?q=nothing-like-this") == []
    assert client.get(C + "?category=gardening").status_code == 400


def test_categories_with_counts(published_app, member, api):
    published_app(app_id="com.acme.expense")
    rows = {c["code"]: c for c in api(member).get(C + "categories/").json()}
    assert rows["finance"]["count"] == 1 and rows["hr"]["count"] == 0
    assert rows["finance"]["name"] == "Finance and expenses"


def test_app_page_shows_scopes_in_words_and_price_plans(published_app, member, api):
    published_app(app_id="com.acme.expense")
    page = api(member).get(f"{C}com.acme.expense/").json()
    assert page["scopes"] == [
        {"scope": "core:member.read", "description": "See the member directory", "write": False},
        {
            "scope": "im:card.write",
            "description": "Post and update interactive cards in chats (cool app)",
            "write": True,
        },
    ]
    assert [p["code"] for p in page["plans"]] == ["free", "team"]
    assert page["plans"][1]["amount"] == 1200 and page["plans"][1]["trial_days"] == 14
    assert page["cards"][0]["name"] == "Expense claim"
    assert page["description"].startswith("Submit and approve")


def test_catalogue_shows_the_newest_published_version(published_app, publish_version, member, api):
    app = published_app(app_id="com.acme.expense")
    publish_version(app, make_manifest(app.app_id, version="1.1.0", name="Quick Expense Pro"))
    page = api(member).get(f"{C}com.acme.expense/").json()
    assert page["version"] == "1.1.0" and page["name"] == "Quick Expense Pro"


def test_catalogue_needs_sign_in(api):
    assert api(None).get(C).status_code == 401
