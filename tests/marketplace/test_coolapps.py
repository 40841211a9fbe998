"""Cool apps: an installed app added to a group chat posts, updates and hears clicks on cards."""

from __future__ import annotations

import pytest

from im.actions import do_create_group
from im.models import Bot, Message
from marketplace.models import CoolAppBinding, WebhookDelivery
from marketplace.webhooks import app_signing_secret, verify

pytestmark = pytest.mark.django_db

CARD = {
    "title": "Taxi 58.00 CNY",
    "fields": [{"label": "Who", "value": "Alice"}],
    "buttons": [{"action_id": "approve", "label": "Approve", "style": "primary", "value": "42"}],
}
SCOPES = ["im:card.write", "im:message.read"]


@pytest.fixture
def card_app(hooked_app, webhook_receiver):
    cards = [{"id": "claim", "name": "Claim", "callback_url": webhook_receiver.url + "/cards"}]
    return hooked_app(["im.message.created"], scopes=SCOPES, cards=cards)


@pytest.fixture
def group(owner, member):
    return do_create_group(owner, name="Expenses", member_ids=[member.pk])


def _add(api, who, group, installation, **extra):
    return api(who).post(
        f"/api/v1/orgs/{group.org_id}/conversations/{group.pk}/apps/",
        {"installation": installation.pk, **extra},
        format="json",
    )


def test_a_member_adds_an_app_to_a_group_chat(api, member, group, card_app):
    response = _add(api, member, group, card_app)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["card_id"] == "claim" and body["app"]["app_id"] == card_app.app.app_id
    binding = CoolAppBinding.objects.get()
    assert binding.bot.handler == "marketplace.coolapp" and binding.bot.conversation_id == group.pk
    listing = api(member).get(f"/api/v1/orgs/{group.org_id}/conversations/{group.pk}/apps/")
    assert [b["id"] for b in listing.json()] == [binding.pk]
    assert listing.json()[0]["added_by_name"] == member.user.display_name
    again = _add(api, member, group, card_app)
    assert again.status_code == 409


def test_adding_needs_the_card_scope_a_known_card_and_a_group(
    api, owner, member, group, hooked_app, card_app
):
    no_cards = hooked_app(["app.installed"], scopes=["core:member.read"])
    response = _add(api, member, group, no_cards)
    assert response.status_code == 400 and "installation" in response.json()["error"]["fields"]
    assert _add(api, member, group, card_app, card_id="nope").status_code == 400
    from im.actions import do_get_or_create_direct

    direct = do_get_or_create_direct(owner, member.pk)
    assert _add(api, owner, direct, card_app).status_code == 400
    assert not CoolAppBinding.objects.exists()


def test_a_conversation_the_caller_is_not_in_is_404(api, org, add_member, group, card_app):
    stranger = add_member(org, "member")
    assert _add(api, stranger, group, card_app).status_code == 404
    url = f"/api/v1/orgs/{org.pk}/conversations/{group.pk}/apps/"
    assert api(stranger).get(url).status_code == 404


def test_another_orgs_conversation_or_installation_is_404(
    api, outsider, group, card_app, hooked_app, other_org, member
):
    assert _add(api, outsider, group, card_app).status_code == 404
    # An installation of another organisation cannot be added to my chat.
    theirs = hooked_app(["app.installed"], scopes=SCOPES, cards=[], in_org=other_org)
    response = _add(api, member, group, theirs)
    assert response.status_code == 400
    assert not CoolAppBinding.objects.exists()


def test_the_app_posts_and_updates_a_card_with_its_token(
    api, member, group, card_app, issue_app_token, app_api
):
    binding_id = _add(api, member, group, card_app).json()["id"]
    client = app_api(issue_app_token(card_app))
    url = f"/api/v1/orgs/{group.org_id}/app-cards/"
    response = client.post(
        url, {"conversation_id": group.pk, "card": CARD, "text": "New claim"}, format="json"
    )
    assert response.status_code == 201, response.content
    message = Message.objects.get(pk=response.json()["id"])
    binding = CoolAppBinding.objects.get(pk=binding_id)
    assert message.bot_id == binding.bot_id and message.card["owner"]["id"] == binding.bot_id
    assert message.conversation_id == group.pk and message.body == "New claim"
    # Members see it in the chat.
    listing = api(member).get(f"/api/v1/orgs/{group.org_id}/conversations/{group.pk}/messages/")
    assert listing.status_code == 200
    assert message.pk in [m["id"] for m in listing.json()]
    updated = {**CARD, "title": "Taxi 58.00 CNY — approved", "buttons": []}
    response = client.patch(f"{url}{message.pk}/", {"card": updated}, format="json")
    assert response.status_code == 200, response.content
    message.refresh_from_db()
    assert message.card["title"].endswith("approved") and message.card["buttons"] == []
    bad = client.patch(f"{url}{message.pk}/", {"card": {"title": 5}}, format="json")
    assert bad.status_code == 400


def test_a_retried_idempotency_key_posts_once(
    api, member, group, card_app, issue_app_token, app_api
):
    _add(api, member, group, card_app)
    client = app_api(issue_app_token(card_app))
    url = f"/api/v1/orgs/{group.org_id}/app-cards/"
    body = {"conversation_id": group.pk, "card": CARD, "idempotency_key": "claim-42"}
    first = client.post(url, body, format="json")
    again = client.post(url, body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Message.objects.filter(conversation=group, kind="card").count() == 1
    other = client.post(url, {**body, "idempotency_key": "claim-43"}, format="json")
    assert other.status_code == 201


def test_the_app_cannot_post_where_it_was_not_added(
    api, owner, member, group, card_app, issue_app_token, app_api
):
    other_group = do_create_group(owner, name="Other", member_ids=[member.pk])
    _add(api, member, group, card_app)
    client = app_api(issue_app_token(card_app))
    response = client.post(
        f"/api/v1/orgs/{group.org_id}/app-cards/",
        {"conversation_id": other_group.pk, "card": CARD},
        format="json",
    )
    assert response.status_code == 404


def test_app_card_calls_need_the_card_scope(api, member, group, card_app, issue_app_token, app_api):
    _add(api, member, group, card_app)
    client = app_api(issue_app_token(card_app, scopes=["im:message.read"]))
    response = client.post(
        f"/api/v1/orgs/{group.org_id}/app-cards/",
        {"conversation_id": group.pk, "card": CARD},
        format="json",
    )
    assert response.status_code == 403
    assert not Message.objects.filter(conversation=group, kind="card").exists()


def test_app_tokens_are_404_in_another_org(
    api, member, group, card_app, issue_app_token, app_api, outsider
):
    _add(api, member, group, card_app)
    client = app_api(issue_app_token(card_app))
    response = client.post(
        f"/api/v1/orgs/{outsider.org_id}/app-cards/",
        {"conversation_id": group.pk, "card": CARD},
        format="json",
    )
    assert response.status_code == 404


def test_a_person_cannot_use_the_app_card_endpoints(api, member, group, card_app):
    _add(api, member, group, card_app)
    response = api(member).post(
        f"/api/v1/orgs/{group.org_id}/app-cards/",
        {"conversation_id": group.pk, "card": CARD},
        format="json",
    )
    assert response.status_code == 403


def test_the_app_cannot_update_someone_elses_card(
    api, owner, member, group, card_app, issue_app_token, app_api
):
    from im.bots import do_create_bot, do_post_bot_message

    _add(api, member, group, card_app)
    other_bot = do_create_bot(owner, name="Other bot", conversation_id=group.pk).bot
    foreign = do_post_bot_message(other_bot, group, card=CARD)
    client = app_api(issue_app_token(card_app))
    response = client.patch(
        f"/api/v1/orgs/{group.org_id}/app-cards/{foreign.pk}/", {"card": CARD}, format="json"
    )
    assert response.status_code == 404


def _post_card(client, group):
    response = client.post(
        f"/api/v1/orgs/{group.org_id}/app-cards/",
        {"conversation_id": group.pk, "card": CARD},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_a_click_reaches_the_app_signed_and_its_answer_applies(
    api, member, group, card_app, issue_app_token, app_api, webhook_receiver
):
    _add(api, member, group, card_app)
    message_id = _post_card(app_api(issue_app_token(card_app)), group)
    webhook_receiver.reply = {
        "text": "Approved by the app",
        "card": {**CARD, "title": "Approved", "buttons": []},
    }
    response = api(member).post(
        f"/api/v1/orgs/{group.org_id}/messages/{message_id}/card-actions/",
        {"action_id": "approve"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["message"]["card"]["title"] == "Approved"
    assert response.json()["reply"]["body"] == "Approved by the app"
    headers, body, path = webhook_receiver.requests[-1]
    assert path == "/hooks/cards"  # the card definition's callback URL
    verify(app_signing_secret(card_app.app), headers, body)
    import json

    event = json.loads(body)
    assert event["type"] == "im.card.action"
    assert event["data"]["action_id"] == "approve" and event["data"]["value"] == "42"
    assert event["data"]["member"]["id"] == member.pk
    logged = WebhookDelivery.objects.get(event_type="im.card.action")
    assert logged.status == "delivered" and logged.attempt_log.count() == 1


def test_a_failing_app_leaves_the_card_unchanged(
    api, member, group, card_app, issue_app_token, app_api, webhook_receiver
):
    _add(api, member, group, card_app)
    message_id = _post_card(app_api(issue_app_token(card_app)), group)
    webhook_receiver.status = 500
    response = api(member).post(
        f"/api/v1/orgs/{group.org_id}/messages/{message_id}/card-actions/",
        {"action_id": "approve"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "card_owner_unavailable"
    assert Message.objects.get(pk=message_id).card["title"] == CARD["title"]
    assert WebhookDelivery.objects.get(event_type="im.card.action").status == "failed"
    webhook_receiver.status = 200
    webhook_receiver.reply = {"card": {"title": 7}}  # an invalid card is refused too
    response = api(member).post(
        f"/api/v1/orgs/{group.org_id}/messages/{message_id}/card-actions/",
        {"action_id": "approve"},
        format="json",
    )
    assert response.status_code == 409


def test_removing_the_app_deactivates_its_bot(
    api, owner, member, group, card_app, issue_app_token, app_api, add_member, org
):
    binding_id = _add(api, member, group, card_app).json()["id"]
    binding = CoolAppBinding.objects.get(pk=binding_id)
    message_id = _post_card(app_api(issue_app_token(card_app)), group)
    # Someone else in the chat who did not add it and is no admin cannot remove it.
    third = add_member(org, "member")
    from im.actions import do_add_conversation_members

    do_add_conversation_members(owner, group, [third.pk])
    assert api(third).delete(f"/api/v1/orgs/{org.pk}/cool-apps/{binding_id}/").status_code == 403
    response = api(member).delete(f"/api/v1/orgs/{org.pk}/cool-apps/{binding_id}/")
    assert response.status_code == 204
    binding.refresh_from_db()
    assert not binding.is_active and not Bot.objects.get(pk=binding.bot_id).is_active
    client = app_api(issue_app_token(card_app))
    again = client.post(
        f"/api/v1/orgs/{org.pk}/app-cards/",
        {"conversation_id": group.pk, "card": CARD},
        format="json",
    )
    assert again.status_code == 404
    update = client.patch(
        f"/api/v1/orgs/{org.pk}/app-cards/{message_id}/", {"card": CARD}, format="json"
    )
    assert update.status_code == 409
    assert api(member).delete(f"/api/v1/orgs/{org.pk}/cool-apps/{binding_id}/").status_code == 404


def test_removing_is_404_for_other_orgs(api, member, group, card_app, outsider):
    binding_id = _add(api, member, group, card_app).json()["id"]
    url = f"/api/v1/orgs/{outsider.org_id}/cool-apps/{binding_id}/"
    assert api(outsider).delete(url).status_code == 404
    assert CoolAppBinding.objects.get(pk=binding_id).is_active


def test_uninstalling_removes_the_app_from_every_chat(
    api, owner, member, group, card_app, django_capture_on_commit_callbacks
):
    from marketplace.actions import do_uninstall_app

    binding_id = _add(api, member, group, card_app).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        do_uninstall_app(owner, card_app)
    binding = CoolAppBinding.objects.get(pk=binding_id)
    assert not binding.is_active and not binding.bot.is_active


def test_messages_in_the_chat_reach_the_app(
    api, member, owner, group, card_app, webhook_receiver, django_capture_on_commit_callbacks
):
    from im.actions import do_send_message

    other = do_create_group(owner, name="Elsewhere", member_ids=[member.pk])
    _add(api, member, group, card_app)
    with django_capture_on_commit_callbacks(execute=True):
        do_send_message(member, group, body="Lunch receipt attached")
        do_send_message(member, other, body="Not for the app")
    events = [b for b in webhook_receiver.bodies() if b["type"] == "im.message.created"]
    assert [e["data"]["message"]["body"] for e in events] == ["Lunch receipt attached"]
    assert events[0]["data"]["message"]["sender"]["id"] == member.pk
