"""Chat web pages: the shell that the chat script fills from the chat API and socket.

The page itself reads nothing from the chat tables: the conversation list, messages,
receipts and DINGs come from ``/api/v1/orgs/<org_id>/`` (session cookie + CSRF header)
and live events from ``/ws/``. The view only resolves the organisation (``org_page``),
passes the script its configuration and the translated interface strings.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from core.permissions import has_permission
from core.views import OrgRequest, org_page


def _positive_int(request: HttpRequest, name: str) -> int | None:
    """A query parameter as a positive id, or None when absent or malformed."""
    raw = request.GET.get(name, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def interface_strings() -> dict[str, str]:
    """Everything the script shows, translated for the current language."""
    return {
        "all_read": _("All read"),
        "n_unread": _("%(count)s unread"),
        "read_by": _("Read"),
        "unread_by": _("Unread"),
        "nobody": _("Nobody"),
        "everyone_read": _("Everyone has read this."),
        "receipts_title": _("Read receipts"),
        "today": _("Today"),
        "yesterday": _("Yesterday"),
        "edited": _("edited"),
        "recalled": _("This message was recalled."),
        "recalled_mine": _("You recalled a message."),
        "edit": _("Edit"),
        "recall": _("Recall"),
        "recall_confirm": _(
            "Recall this message? Everyone in the conversation will see that it was recalled."
        ),
        "react": _("Add reaction"),
        "reply": _("Reply in thread"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "replies_one": _("1 reply"),
        "replies_many": _("%(count)s replies"),
        "thread_title": _("Thread"),
        "thread_empty": _("No replies yet. Start the thread."),
        "reply_placeholder": _("Reply…"),
        "typing_one": _("%(name)s is typing…"),
        "typing_someone": _("Someone is typing…"),
        "message_placeholder": _("Message %(name)s"),
        "load_error": _("Could not load. Check your connection and try again."),
        "send_error": _("The message was not sent."),
        "retry": _("Retry"),
        "reconnecting": _("Reconnecting…"),
        "no_messages": _("No messages yet"),
        "no_messages_hint": _("Say hello — your first message starts the conversation."),
        "start_of_history": _("This is the beginning of the conversation."),
        "direct": _("Direct message"),
        "members_one": _("1 member"),
        "members_many": _("%(count)s members"),
        "you": _("you"),
        "unknown_member": _("Former member"),
        "bot": pgettext("chat sender", "Bot"),
        "mark_all_done": _("All conversations are marked read."),
        "no_members_found": _("No one matches that search."),
        "members_forbidden": _("You may not browse the member directory."),
        "group_created": _("Group created."),
        "name_required": _("Give the group a name."),
        "pick_members": _("Choose at least one member."),
        "ding": _("DING"),
        "ding_from": _("DING from %(name)s"),
        "ding_confirm": pgettext("DING", "Confirm"),
        "ding_confirmed_toast": _("DING confirmed."),
        "ding_sent": _("DING sent."),
        "ding_status": _("%(confirmed)s of %(total)s confirmed"),
        "ding_panel_title": _("DING status"),
        "ding_confirmed": _("Confirmed"),
        "ding_unconfirmed": _("Not confirmed yet"),
        "ding_reminded": _("Reminders: %(count)s"),
        "ding_closed": _("This DING is closed."),
        "ding_unavailable": _("DING is not available yet."),
        "ding_needs_text": _("Type the DING message in the composer first."),
        "ding_pick": _("Choose who must confirm, or send to everyone."),
        "ding_more_one": _("1 more DING waiting"),
        "ding_more_many": _("%(count)s more DINGs waiting"),
        "open": _("Open"),
        "attachment_error": _("The file could not be uploaded."),
        "uploading": _("Uploading…"),
        "remove": _("Remove"),
        "all_staff": _("All staff"),
        "details": _("Group details"),
        "members_title": _("Members"),
        "apps_title": _("Apps"),
        "apps_none": _("No apps in this group yet."),
        "app_added_by": _("Added by %(name)s"),
        "app_remove_label": _("Remove %(name)s from this group"),
        "app_remove_confirm": _(
            "Remove %(name)s from this group? It can no longer post cards here."
        ),
        "app_add_label": _("Add an app"),
        "app_add": _("Add"),
        "app_added": _("%(name)s was added to the group."),
        "app_removed": _("%(name)s was removed from the group."),
        "app_add_none": _(
            "No installed app can post cards in chats. "
            "Organisation admins install apps from the Marketplace."
        ),
        "app_add_no_other": _(
            "No other installed app can post cards in chats. "
            "Organisation admins install apps from the Marketplace."
        ),
        "marketplace": _("Browse the Marketplace"),
        "card_action_error": _("The app did not answer. Try again later."),
    }


@org_page
@require_GET
def chat(request: OrgRequest) -> HttpResponse:
    """The chat page; ``?c=`` opens a conversation and ``?m=`` one of its messages."""
    member, user = request.membership, request.user
    config: dict[str, Any] = {
        "org_id": request.org.pk,
        "api": f"/api/v1/orgs/{request.org.pk}/",
        "ws_path": "/ws/",
        "page_url": reverse("im:chat", args=[request.org.pk]),
        "marketplace_url": reverse("marketplace:catalogue", args=[request.org.pk]),
        "me": {"member_id": member.pk, "user_id": user.pk, "display_name": user.display_name},
        "can_browse_members": has_permission(member, "core.member.read"),
        "open_conversation": _positive_int(request, "c"),
        "open_message": _positive_int(request, "m"),
        "strings": interface_strings(),
    }
    return render(request, "im/chat.html", {"chat_config": config})
