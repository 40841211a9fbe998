"""The scopes an app may ask for, and the events it may subscribe to.

A scope is ``<area>:<thing>.<read|write>``. An app's manifest lists the scopes it needs; an
organisation admin grants them on install (consent), and every API call an app makes with
an OAuth token is checked against the installation's granted scopes (deny by default: a
view that declares no scope for an action refuses app tokens).
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

SCOPES: dict[str, str | Promise] = {
    "core:org.read": _("See the organisation's name and branding"),
    "core:member.read": _("See the member directory"),
    "core:department.read": _("See departments"),
    "im:conversation.read": _("See the group chats the app was added to"),
    "im:message.read": _("Read messages in chats the app was added to"),
    "im:message.write": _("Post messages in chats the app was added to"),
    "im:card.write": _("Post and update interactive cards in chats (cool app)"),
    "lowcode:app.read": _("See low-code apps and their forms"),
    "lowcode:record.read": _("Read low-code records"),
    "lowcode:record.write": _("Create and change low-code records"),
    "connectors:connection.read": _("See connector connections and sync runs"),
    "metrics:read": _("Read usage metrics"),
}

#: Scopes that grant a change; consent screens flag them.
WRITE_SCOPES = frozenset(s for s in SCOPES if s.endswith(".write"))


def describe(scopes: list[str]) -> list[tuple[str, str]]:
    return [(s, str(SCOPES[s])) for s in scopes if s in SCOPES]


#: Events an app may subscribe to in its manifest, with the scope it needs to receive
#: each (None: every installed app may receive it).
EVENTS: dict[str, str | None] = {
    "app.installed": None,
    "app.uninstalled": None,
    "app.scopes_changed": None,
    "core.member.joined": "core:member.read",
    "core.member.left": "core:member.read",
    "im.message.created": "im:message.read",
    "im.card.action": "im:card.write",
    "lowcode.record.created": "lowcode:record.read",
    "lowcode.record.updated": "lowcode:record.read",
    "lowcode.record.deleted": "lowcode:record.read",
    "connectors.sync.finished": "connectors:connection.read",
}
