"""Message search: substring match (Chinese included) over my conversations only."""

from __future__ import annotations

import pytest
from django.db import connection

from im import actions, bots
from im.models import Conversation, Message


def search(api, who, org, q: str | None, **params):
    query = {} if q is None else {"q": q}
    return api(who).get(f"/api/v1/orgs/{org.pk}/search/messages/", {**query, **params})


@pytest.fixture
def group(owner, member) -> Conversation:
    return actions.do_create_group(owner, name="QA", member_ids=[member.pk])


def say(who, conversation: Conversation, body: str) -> Message:
    message, _created = actions.do_send_message(who, conversation, body=body)
    return message


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [m["id"] for m in response.json()["results"]]


def test_english_words_are_found_case_insensitively_newest_first(api, org, owner, member, group):
    first = say(owner, group, "Pasteuriser check at 06:00")
    say(owner, group, "Nothing to see")
    second = say(member, group, "pasteuriser is back online")

    response = search(api, member, org, "PASTEURISER")

    assert ids(response) == [second.pk, first.pk]
    hit = response.json()["results"][0]
    assert hit["body"] == "pasteuriser is back online"
    assert hit["sender"]["member_id"] == member.pk
    assert hit["conversation"] == group.pk
    assert response.json()["next_before"] is None


def test_chinese_text_is_found_by_any_part(api, org, owner, member, group):
    lot = say(owner, group, "批次 20231104 检验合格")
    say(owner, group, "明天停机维护")

    assert ids(search(api, member, org, "批次")) == [lot.pk]
    assert ids(search(api, member, org, "检验")) == [lot.pk]
    assert ids(search(api, member, org, "检验合格")) == [lot.pk]
    assert ids(search(api, member, org, "20231104")) == [lot.pk]
    assert ids(search(api, member, org, "不合格")) == []


def test_bot_messages_are_searchable(api, org, owner, member, group):
    bot = bots.do_create_bot(owner, name="QA Bot", conversation_id=group.pk).bot
    posted = bots.do_post_bot_message(bot, group, text="Sterilisation cycle complete")

    assert ids(search(api, member, org, "sterilisation")) == [posted.pk]


def test_a_member_never_sees_conversations_they_are_not_in(
    api, org, owner, member, add_member, group
):
    private = actions.do_create_group(owner, name="Board", member_ids=[])
    secret = say(owner, private, "acquisition target: Creamery Ltd")
    say(owner, group, "public: acquisition rumours are false")

    found_by_member = ids(search(api, member, org, "acquisition"))
    found_by_owner = ids(search(api, owner, org, "acquisition"))

    assert secret.pk not in found_by_member and len(found_by_member) == 1
    assert secret.pk in found_by_owner
    # Not even organisation admins see conversations they are not in.
    assert ids(search(api, add_member(org, "admin"), org, "acquisition")) == []


def test_a_member_who_left_no_longer_finds_its_messages(api, org, owner, member, group):
    say(owner, group, "rota for December")
    actions.do_leave_conversation(member, group)

    assert ids(search(api, member, org, "rota")) == []


def test_other_organisations_never_see_the_messages(api, org, owner, group, outsider):
    say(owner, group, "recipe 7731 is confidential")
    theirs = actions.do_create_group(outsider, name="Theirs", member_ids=[])
    their_own = say(outsider, theirs, "our recipe 7731 copy")

    assert ids(search(api, outsider, outsider.org, "7731")) == [their_own.pk]
    response = search(api, outsider, org, "7731")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_recalled_messages_never_match(api, org, owner, member, group):
    kept = say(owner, group, "valve 12 replaced")
    recalled = say(owner, group, "valve 12 leaking badly")
    actions.do_recall_message(owner, recalled)

    assert ids(search(api, member, org, "valve 12")) == [kept.pk]
    assert ids(search(api, member, org, "leaking")) == []


def test_like_wildcards_in_the_query_are_literal(api, org, owner, member, group):
    say(owner, group, "anything at all")
    discount = say(owner, group, "10% off")

    assert ids(search(api, member, org, "%")) == [discount.pk]
    assert ids(search(api, member, org, "_")) == []


def test_results_come_fifty_at_a_time_with_a_before_cursor(api, org, owner, member, group):
    sent = [say(owner, group, f"reading {i}").pk for i in range(55)]
    say(owner, group, "unrelated")

    first = search(api, member, org, "reading")
    second = search(api, member, org, "reading", before=first.json()["next_before"])

    assert ids(first) == sorted(sent, reverse=True)[:50]
    assert first.json()["next_before"] == sorted(sent, reverse=True)[49]
    assert ids(second) == sorted(sent, reverse=True)[50:]
    assert second.json()["next_before"] is None


@pytest.mark.parametrize(
    ("q", "params"),
    [
        (None, {}),
        ("", {}),
        ("   ", {}),
        ("x" * 201, {}),
        ("ok", {"before": "abc"}),
        ("ok", {"before": "0"}),
    ],
)
def test_bad_queries_are_refused(api, org, member, group, q, params):
    response = search(api, member, org, q, **params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_query_of_exactly_200_characters_is_accepted(api, org, member, group):
    assert search(api, member, org, "x" * 200).status_code == 200


def test_anonymous_search_is_refused(api, org):
    assert search(api, None, org, "x").status_code == 401


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram index is PostgreSQL's")
def test_postgres_answers_substring_search_from_the_trigram_index(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'im_message_body_upper_trgm'"
        )
        (definition,) = cursor.fetchone()
        assert "gin" in definition and "gin_trgm_ops" in definition
        sql, params = (
            Message.objects.filter(body__icontains="检验合格").only("id").query.sql_with_params()
        )
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")  # a pkey scan + filter is not it
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "im_message_body_upper_trgm" in plan, plan
