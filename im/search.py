"""Message search: substring match over the conversations a member belongs to.

Substring (not word) matching, so Chinese and other unsegmented text is found by any
part of a sentence ("批次 20231104 检验合格" by "检验"). On PostgreSQL the match is a
case-insensitive ``LIKE`` that the trigram GIN index on ``UPPER(body)`` (migration
``im.0002``) serves; on SQLite it is a plain scan, fine for the embedded default.
"""

from __future__ import annotations

from django.db.models import Subquery
from django.utils.translation import gettext as _

from core.errors import ValidationFailed
from core.models import Membership
from im.models import ConversationMember, Message

QUERY_MAX_CHARS = 200
PAGE_SIZE = 50


def check_query(query: str) -> str:
    query = query.strip()
    if not query:
        raise ValidationFailed(_("Type something to search for."), fields={"q": [_("Required.")]})
    if len(query) > QUERY_MAX_CHARS:
        raise ValidationFailed(
            _("Search for at most %(n)s characters.") % {"n": QUERY_MAX_CHARS},
            fields={"q": [_("Too long.")]},
        )
    return query


def search_messages(
    member: Membership, query: str, *, before: int | None = None, limit: int = PAGE_SIZE
) -> list[Message]:
    """Messages containing ``query`` in ``member``'s conversations, newest first.

    Recalled messages never match. Page with ``before`` = the last id of the previous page.
    """
    query = check_query(query)
    mine = ConversationMember.objects.filter(membership=member).values("conversation_id")
    messages = Message.objects.filter(
        org_id=member.org_id,
        conversation_id__in=Subquery(mine),
        recalled_at__isnull=True,
        body__icontains=query,
    )
    if before is not None:
        messages = messages.filter(pk__lt=before)
    return list(
        messages.select_related("sender__user", "bot")
        .prefetch_related("reactions", "attachments")
        .order_by("-id")[: min(limit, PAGE_SIZE)]
    )
