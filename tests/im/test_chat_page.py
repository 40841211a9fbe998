"""The chat page: a branded shell for members, 404 elsewhere, translated."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from core.models import Membership, User

pytestmark = pytest.mark.django_db


def client_for(who: Membership | User) -> Client:
    client = Client()
    client.force_login(who.user if isinstance(who, Membership) else who)
    return client


def chat_url(org_id: int, query: str = "") -> str:
    return reverse("im:chat", args=[org_id]) + query


def chat_config(html: str) -> dict:
    found = re.search(
        r'<script id="chat-config" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, "the page passes its configuration as a json_script element"
    return json.loads(found.group(1))


def test_member_sees_the_branded_chat_page_with_its_data_hooks(org, member):
    org.brand_color = "#0f766e"
    org.save(update_fields=["brand_color"])
    client = client_for(member)
    response = client.get(chat_url(org.pk, "?c=12&m=345"))
    assert response.status_code == 200
    html = response.content.decode()
    # The colour travels in the organisation's stylesheet (CSP: no inline style).
    sheet = re.search(r'href="(/brand/\d+\.css\?v=[0-9a-f]{6})"', html)
    assert sheet, "the chat page links the brand stylesheet"
    assert "--brand: #0f766e" in client.get(sheet.group(1)).content.decode()
    assert 'id="chat"' in html
    assert f'data-conversations-url="/api/v1/orgs/{org.pk}/conversations/"' in html
    assert "data-conv-list" in html and "data-msg-list" in html and "data-composer" in html
    assert "im/chat.js" in html and "im/chat.css" in html
    config = chat_config(html)
    assert config["org_id"] == org.pk
    assert config["me"] == {
        "member_id": member.pk,
        "user_id": member.user_id,
        "display_name": member.user.display_name,
    }
    assert (config["open_conversation"], config["open_message"]) == (12, 345)
    assert config["strings"]["all_read"] == "All read"


def test_page_has_no_inline_script_and_loads_nothing_from_another_host(org, member):
    html = client_for(member).get(chat_url(org.pk)).content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_malformed_query_opens_nothing(org, member):
    html = client_for(member).get(chat_url(org.pk, "?c=abc&m=-3")).content.decode()
    config = chat_config(html)
    assert config["open_conversation"] is None and config["open_message"] is None


def test_another_organisations_chat_is_not_found(org, outsider):
    assert client_for(outsider).get(chat_url(org.pk)).status_code == 404


def test_idor_chat_page_of_unknown_org_is_404(member):
    assert client_for(member).get(chat_url(999_999)).status_code == 404


def test_anonymous_visitor_is_sent_to_login(org):
    response = Client().get(chat_url(org.pk))
    assert response.status_code == 302
    assert response.url.startswith(reverse("core:login"))


def test_chat_is_linked_from_home_and_navigation(org, member):
    html = client_for(member).get(reverse("core:org_home", args=[org.pk])).content.decode()
    assert html.count(f'href="{chat_url(org.pk)}"') >= 2  # navigation and the module tile


def test_zh_hans_user_gets_the_page_in_simplified_chinese(org, member):
    member.user.locale = "zh-hans"
    member.user.save(update_fields=["locale"])
    html = client_for(member).get(chat_url(org.pk)).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "全部已读" in html  # "Mark all read"
    assert chat_config(html)["strings"]["all_read"] == "全部已读"
    assert chat_config(html)["strings"]["ding_confirm"] == "确认"
