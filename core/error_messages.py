"""Domain errors as the web pages show them: in the reader's language.

Actions raise ``TackError`` with English text (the API returns it as is). The
web UI translates that text at display time: fixed messages are looked up in
the message catalogue (listed below with ``gettext_noop`` so ``makemessages``
collects them), and messages that embed values are replaced, by their stable
``code``, with a translated sentence of their own.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext, gettext_noop

from core.errors import TackError

# Fixed English texts raised by core actions, access functions and auth.
DOMAIN_MESSAGES = (
    gettext_noop("Name is required."),
    gettext_noop("That slug is taken."),
    gettext_noop("These fields cannot be changed here."),
    gettext_noop("Unknown role."),
    gettext_noop("You cannot manage a member whose role is above yours."),
    gettext_noop("You cannot grant a role above your own."),
    gettext_noop("This member has not accepted the invitation yet."),
    gettext_noop("You cannot suspend or reactivate yourself."),
    gettext_noop("You cannot invite someone with a role above your own."),
    gettext_noop("That person is already a member of this organisation."),
    gettext_noop("This invitation link is not valid."),
    gettext_noop("This invitation has already been used."),
    gettext_noop("An account with this address exists: sign in to accept."),
    gettext_noop("Please correct the highlighted fields."),
    gettext_noop("You are already a member of this organisation."),
    gettext_noop("Parent department not found."),
    gettext_noop("A department cannot move under itself or its own sub-department."),
    gettext_noop("A department with this name already exists here."),
    gettext_noop(
        "Only an empty department can be deleted: move its members and sub-departments first."
    ),
    gettext_noop("That member is not in this department."),
    gettext_noop("Invalid expiry."),
    gettext_noop("The current password is wrong."),
    gettext_noop("Choose a stronger password."),
    gettext_noop("Not found."),
    gettext_noop("Organisation not found."),
    gettext_noop("Member not found."),
    gettext_noop("Department not found."),
    gettext_noop("Invitation not found."),
    gettext_noop("Token not found."),
    gettext_noop("Too many failed logins. Try again in 15 minutes."),
    # Short per-field texts.
    gettext_noop("Taken."),
    gettext_noop("Read-only."),
    gettext_noop("Already a member."),
    gettext_noop("Would create a cycle."),
    gettext_noop("Already exists."),
    gettext_noop("Wrong password."),
    gettext_noop("Too large."),
)


def _by_code(exc: TackError) -> str | None:
    """Translations for messages that carry values, keyed by the error's stable code."""
    code = exc.code
    if code == "permission_denied":
        return gettext("Your role does not allow this.")
    if code == "last_owner":
        return gettext("This is the organisation's last owner. Make someone else an owner first.")
    if code == "member_limit":
        return gettext("The organisation has reached the number of members its plan allows.")
    if code == "wrong_account":
        return gettext(
            "This invitation is for a different e-mail address. Sign in with that address."
        )
    if code == "invitation_expired":
        return gettext("This invitation has expired.")
    if code == "invitation_revoked":
        return gettext("This invitation has been withdrawn.")
    if code in {"invitation_accepted", "invitation_closed"}:
        return gettext("This invitation has already been used or withdrawn.")
    if code == "too_large":
        return gettext("The logo may be at most %(size)s KiB.") % {
            "size": settings.LOGO_MAX_BYTES // 1024
        }
    return None


def error_message(exc: TackError) -> str:
    """The error's message in the active language."""
    return _by_code(exc) or gettext(exc.message)


def field_messages(exc: TackError) -> dict[str, list[str]]:
    """The error's per-field messages in the active language."""
    fields: dict[str, list[str]] = {}
    for name, messages in exc.fields.items():
        items = messages if isinstance(messages, list | tuple) else [messages]
        fields[str(name)] = [gettext(str(m)) for m in items]
    return fields
