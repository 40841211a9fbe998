"""Permissions as data: named operations, granted to roles.

Each operation has a default set of roles. An organisation may override a
role's grant with a ``RoleGrant`` row (except that owners always hold every
operation, so an organisation can never lock itself out). Checks happen in
actions (``check_permission``), so Celery tasks and commands cannot skip them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import Forbidden
from core.models import Membership, RoleGrant

OWNER, ADMIN, MEMBER, GUEST = (
    Membership.Role.OWNER,
    Membership.Role.ADMIN,
    Membership.Role.MEMBER,
    Membership.Role.GUEST,
)
ROLE_RANK: dict[str, int] = {GUEST: 0, MEMBER: 1, ADMIN: 2, OWNER: 3}


@dataclass(frozen=True)
class Operation:
    name: str
    description: str | Promise
    default_roles: frozenset[str]


_ADMINS = frozenset({OWNER, ADMIN})
_STAFF = frozenset({OWNER, ADMIN, MEMBER})

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in [
        Operation("core.org.update", _("Edit the organisation's name and settings"), _ADMINS),
        Operation("core.org.branding", _("Change branding: name, colour, logo"), _ADMINS),
        Operation("core.member.read", _("See the member directory"), _STAFF),
        Operation("core.member.invite", _("Invite members"), _ADMINS),
        Operation("core.member.update", _("Edit members' titles and departments"), _ADMINS),
        Operation("core.member.role.change", _("Change members' roles"), _ADMINS),
        Operation("core.member.suspend", _("Suspend and reactivate members"), _ADMINS),
        Operation("core.member.remove", _("Remove members"), _ADMINS),
        Operation(
            "core.department.manage", _("Create, rename, move and delete departments"), _ADMINS
        ),
        Operation("core.audit.read", _("Read the audit log"), _ADMINS),
        Operation(
            "core.security.manage",
            _("Change security policies: passwords, sessions, networks, two-step, exports"),
            _ADMINS,
        ),
        Operation("core.role.manage", _("Change what each role may do"), frozenset({OWNER})),
        Operation("im.group.create", _("Create group conversations"), _STAFF),
        Operation("im.message.recall_any", _("Recall any message at any time"), _ADMINS),
        Operation("lowcode.app.create", _("Create low-code apps"), _STAFF),
        Operation(
            "lowcode.app.manage_all", _("Manage every low-code app and see all records"), _ADMINS
        ),
        Operation("marketplace.app.install", _("Install marketplace apps"), _ADMINS),
        Operation(
            "marketplace.billing.manage",
            _("Manage subscriptions, pay invoices and see payments"),
            _ADMINS,
        ),
        Operation("connectors.connection.manage", _("Manage connector connections"), _ADMINS),
        Operation("metrics.read", _("Read the organisation's usage metrics"), _ADMINS),
    ]
}


GRANTS_CACHE_SECONDS = 300


def _grants_key(org_id: int) -> str:
    return f"tack:role-grants:{org_id}"


def org_role_grants(org_id: int) -> list[tuple[str, str, bool]]:
    """The organisation's overrides ``(role, permission, granted)``, cached (every API call
    checks permissions; grants change rarely and ``forget_role_grants`` drops the copy)."""
    cached: list[tuple[str, str, bool]] | None = cache.get(_grants_key(org_id))
    if cached is None:
        cached = [
            (role, permission, granted)
            for role, permission, granted in RoleGrant.objects.filter(org_id=org_id).values_list(
                "role", "permission", "granted"
            )
        ]
        cache.set(_grants_key(org_id), cached, GRANTS_CACHE_SECONDS)
    return cached


def forget_role_grants(org_id: int) -> None:
    """Call after changing an organisation's grants (after commit, so readers see them)."""
    transaction.on_commit(lambda: cache.delete(_grants_key(org_id)))
    cache.delete(_grants_key(org_id))


def role_permissions(org_id: int, role: str) -> set[str]:
    """The operations ``role`` holds in organisation ``org_id``."""
    if role == OWNER:
        return set(OPERATIONS)
    held = {name for name, op in OPERATIONS.items() if role in op.default_roles}
    for grant_role, permission, granted in org_role_grants(org_id):
        if grant_role != role or permission not in OPERATIONS:
            continue
        if granted:
            held.add(permission)
        else:
            held.discard(permission)
    return held


def member_permissions(member: Membership) -> set[str]:
    cached: set[str] | None = getattr(member, "_permission_cache", None)
    if cached is None:
        cached = role_permissions(member.org_id, member.role) if member.is_active else set()
        member._permission_cache = cached  # type: ignore[attr-defined]
    return cached


def has_permission(member: Membership, operation: str) -> bool:
    if operation not in OPERATIONS:
        raise KeyError(f"Unknown operation {operation!r}")
    return operation in member_permissions(member)


def check_permission(member: Membership, operation: str) -> None:
    if not has_permission(member, operation):
        raise Forbidden(
            gettext("Your role does not allow this."),
            code="permission_denied",
            fields={"operation": [operation]},
        )
