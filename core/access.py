"""``access_<thing>(member, id)``: one lookup per kind, same 404 for missing and not-yours."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _

from core.errors import NotFound
from core.models import ApiToken, Department, Invitation, Membership, User


def as_id(value: Any) -> int:
    """An id from a URL or a body: a positive 64-bit integer, or the same 404 as a missing one."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < number < 2**63:
        raise NotFound()
    return number


def access_organization(user: User | AnonymousUser, org_id: Any) -> Membership:
    """The caller's active membership of ``org_id``; anything else is a 404."""
    if not user.is_authenticated:
        raise NotFound()
    membership = (
        Membership.objects.select_related("org", "user")
        .filter(org_id=as_id(org_id), user=user, status=Membership.Status.ACTIVE)
        .first()
    )
    if membership is None:
        raise NotFound(_("Organisation not found."))
    return membership


def access_member(actor: Membership, member_id: Any) -> Membership:
    member = (
        Membership.objects.select_related("user")
        .filter(org_id=actor.org_id, pk=as_id(member_id))
        .first()
    )
    if member is None:
        raise NotFound(_("Member not found."))
    return member


def access_department(actor: Membership, department_id: Any) -> Department:
    department = Department.objects.filter(org_id=actor.org_id, pk=as_id(department_id)).first()
    if department is None:
        raise NotFound(_("Department not found."))
    return department


def access_invitation(actor: Membership, invitation_id: Any) -> Invitation:
    invitation = Invitation.objects.filter(org_id=actor.org_id, pk=as_id(invitation_id)).first()
    if invitation is None:
        raise NotFound(_("Invitation not found."))
    return invitation


def access_api_token(user: User, token_id: Any) -> ApiToken:
    """One of ``user``'s own personal API tokens; anyone else's is a 404."""
    token = ApiToken.objects.filter(user=user, pk=as_id(token_id)).first()
    if token is None:
        raise NotFound(_("Token not found."))
    return token
