"""Every write to organisations, members, departments, invitations and tokens.

``check_*`` functions validate and authorise; ``do_*`` functions write. Actions
never see a request: the caller passes the acting membership and its IP.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from core import hooks
from core.audit import record_audit
from core.auth import hash_token, new_token_secret
from core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from core.models import (
    ApiToken,
    Department,
    DepartmentMember,
    Invitation,
    Membership,
    Organization,
    RoleGrant,
    User,
)
from core.permissions import OPERATIONS, OWNER, ROLE_RANK, check_permission, forget_role_grants
from core.security.policies import (
    active_org_ids,
    check_external_sharing,
    check_password_policies,
)

Role = Membership.Role
Status = Membership.Status


# --- Organisations ------------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def do_create_organization(
    creator: User, *, name: str, slug: str | None = None, ip: str | None = None, **fields: Any
) -> Organization:
    """Create an organisation; its creator becomes its first owner."""
    name = name.strip()
    if not name:
        raise ValidationFailed(
            _("Name is required."), fields={"name": [_("This field is required.")]}
        )
    if slug and Organization.objects.filter(slug=slug).exists():
        raise Conflict(_("That slug is taken."), code="slug_taken", fields={"slug": [_("Taken.")]})
    org = Organization.objects.create(name=name, slug=slug or _unique_slug(name), **fields)
    Membership.objects.create(org=org, user=creator, role=Role.OWNER, status=Status.ACTIVE)
    record_audit(org, creator, "org.create", org, ip=ip)
    return org


BRANDING_FIELDS = frozenset({"brand_name", "brand_color", "brand_logo"})
SETTINGS_FIELDS = frozenset({"name"})
LOGO_FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})


def check_update_organization(actor: Membership, changes: dict[str, Any]) -> None:
    unknown = set(changes) - BRANDING_FIELDS - SETTINGS_FIELDS
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be changed here."),
            fields={f: [_("Read-only.")] for f in unknown},
        )
    if changes.keys() & SETTINGS_FIELDS:
        check_permission(actor, "core.org.update")
    if changes.keys() & BRANDING_FIELDS:
        check_permission(actor, "core.org.branding")
    logo = changes.get("brand_logo")
    image_format = getattr(getattr(logo, "image", None), "format", None)
    if isinstance(logo, UploadedFile) and image_format not in LOGO_FORMATS:
        raise ValidationFailed(
            _("The logo must be a PNG, JPEG, GIF or WebP image."),
            code="unsupported_image",
            fields={"brand_logo": [_("Unsupported image type.")]},
        )
    if isinstance(logo, UploadedFile) and logo.size and logo.size > settings.LOGO_MAX_BYTES:
        raise PayloadTooLarge(
            _("The logo may be at most %(size)s KiB.") % {"size": settings.LOGO_MAX_BYTES // 1024},
            fields={"brand_logo": [_("Too large.")]},
        )


@transaction.atomic
def do_update_organization(
    actor: Membership, changes: dict[str, Any], *, ip: str | None = None
) -> Organization:
    check_update_organization(actor, changes)
    org = Organization.objects.select_for_update().get(pk=actor.org_id)
    before = {k: str(getattr(org, k)) for k in changes}
    for key, value in changes.items():
        setattr(org, key, value)
    org.save(update_fields=[*changes])
    after = {k: str(getattr(org, k)) for k in changes}
    record_audit(org, actor.user, "org.update", org, data={"before": before, "after": after}, ip=ip)
    return org


# --- Role grants (permissions as data) ---------------------------------------------------


@transaction.atomic
def do_set_role_grants(
    actor: Membership, role: str, grants: dict[str, bool], *, ip: str | None = None
) -> None:
    check_permission(actor, "core.role.manage")
    if role == OWNER:
        raise ValidationFailed(
            _("Owners always hold every permission."), fields={"role": [_("Owner.")]}
        )
    unknown = sorted(set(grants) - set(OPERATIONS))
    if unknown:
        raise ValidationFailed(
            _("Unknown permissions."),
            fields={"grants": [_("Unknown: %(names)s") % {"names": ", ".join(unknown)}]},
        )
    for permission, granted in grants.items():
        RoleGrant.objects.update_or_create(
            org_id=actor.org_id, role=role, permission=permission, defaults={"granted": granted}
        )
    forget_role_grants(actor.org_id)
    record_audit(
        actor.org, actor.user, "role.grants.update", data={"role": role, "grants": grants}, ip=ip
    )


# --- Members ---------------------------------------------------------------------------


def _active_owner_count(org_id: int) -> int:
    return Membership.objects.filter(org_id=org_id, role=Role.OWNER, status=Status.ACTIVE).count()


def _check_not_last_owner(target: Membership) -> None:
    if target.role == Role.OWNER and target.is_active and _active_owner_count(target.org_id) <= 1:
        raise Conflict(
            _("This is the organisation's last owner. Make someone else an owner first."),
            code="last_owner",
        )


def _check_outranks(actor: Membership, target: Membership) -> None:
    """An actor may only manage members whose role is not above their own."""
    if ROLE_RANK[target.role] > ROLE_RANK[actor.role]:
        raise Forbidden(_("You cannot manage a member whose role is above yours."))


def _lock(target: Membership) -> Membership:
    return Membership.objects.select_for_update().select_related("user").get(pk=target.pk)


@transaction.atomic
def do_change_role(
    actor: Membership, target: Membership, role: str, *, ip: str | None = None
) -> Membership:
    check_permission(actor, "core.member.role.change")
    if role not in Role.values:
        raise ValidationFailed(
            _("Unknown role."),
            fields={"role": [_("Choose one of: %(roles)s.") % {"roles": ", ".join(Role.values)}]},
        )
    target = _lock(target)
    _check_outranks(actor, target)
    if ROLE_RANK[role] > ROLE_RANK[actor.role]:
        raise Forbidden(_("You cannot grant a role above your own."))
    if target.role == role:
        return target
    if role != Role.OWNER:
        _check_not_last_owner(target)
    before = target.role
    target.role = role
    target.save(update_fields=["role"])
    record_audit(
        actor.org,
        actor.user,
        "member.role.change",
        target,
        data={"before": before, "after": role},
        ip=ip,
    )
    return target


@transaction.atomic
def do_update_member(
    actor: Membership, target: Membership, *, title: str, ip: str | None = None
) -> Membership:
    if actor.pk != target.pk:
        check_permission(actor, "core.member.update")
    target = _lock(target)
    target.title = title
    target.save(update_fields=["title"])
    record_audit(actor.org, actor.user, "member.update", target, data={"title": title}, ip=ip)
    return target


@transaction.atomic
def do_set_member_status(
    actor: Membership, target: Membership, status: str, *, ip: str | None = None
) -> Membership:
    """Suspend (``status='suspended'``) or reactivate (``'active'``) a member."""
    check_permission(actor, "core.member.suspend")
    target = _lock(target)
    if target.status == Status.INVITED:
        raise Conflict(_("This member has not accepted the invitation yet."), code="not_joined")
    if target.pk == actor.pk:
        raise Conflict(_("You cannot suspend or reactivate yourself."), code="self")
    _check_outranks(actor, target)
    if target.status == status:
        return target
    if status == Status.SUSPENDED:
        _check_not_last_owner(target)
    elif status == Status.ACTIVE:
        _check_member_limit(target.org, adding=1)
    target.status = status
    target.save(update_fields=["status"])
    action = "member.suspend" if status == Status.SUSPENDED else "member.reactivate"
    record_audit(actor.org, actor.user, action, target, ip=ip)
    hooks.run_after_commit(hooks.MEMBERSHIP_CHANGED, target)
    return target


@transaction.atomic
def do_remove_member(actor: Membership, target: Membership, *, ip: str | None = None) -> None:
    """Remove a member (or leave, when actor is target). Their user account stays."""
    if actor.pk != target.pk:
        check_permission(actor, "core.member.remove")
    target = _lock(target)
    _check_outranks(actor, target)
    _check_not_last_owner(target)
    record_audit(
        actor.org,
        actor.user,
        "member.remove",
        target,
        data={"email": target.user.email, "role": target.role},
        ip=ip,
    )
    for hook in hooks.MEMBERSHIP_REMOVING:
        hook(target)
    target.delete()


def _check_member_limit(org: Organization, adding: int = 0) -> None:
    """Active members plus pending invitations may not exceed the plan's member limit
    (installed apps' own accounts are not members for this)."""
    active = Membership.objects.filter(org=org, status=Status.ACTIVE, user__is_app=False).count()
    pending = Invitation.objects.filter(
        org=org,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).count()
    if active + pending + adding > org.member_limit:
        raise Conflict(
            _("The organisation has reached the number of members its plan allows."),
            code="member_limit",
        )


# --- Invitations -----------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str

    @property
    def accept_url(self) -> str:
        return f"{settings.TACK_PUBLIC_URL}/invite/{self.token}/"


@transaction.atomic
def do_invite_member(
    actor: Membership, *, email: str, role: str = Role.MEMBER, ip: str | None = None
) -> IssuedInvitation:
    check_permission(actor, "core.member.invite")
    email = User.objects.normalize_email(email).lower()
    if ROLE_RANK.get(role, 99) > ROLE_RANK[actor.role]:
        raise Forbidden(_("You cannot invite someone with a role above your own."))
    if role == Role.GUEST:
        check_external_sharing(actor.org_id)
    existing = Membership.objects.filter(org_id=actor.org_id, user__email=email).first()
    if existing is not None:
        raise Conflict(
            _("That person is already a member of this organisation."),
            code="already_member",
            fields={"email": [_("Already a member.")]},
        )
    # A fresh invitation replaces any earlier pending one for the same address.
    Invitation.objects.filter(
        org_id=actor.org_id, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    _check_member_limit(actor.org, adding=1)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        org_id=actor.org_id,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=actor.user,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    record_audit(
        actor.org,
        actor.user,
        "member.invite",
        invitation,
        data={"email": email, "role": role},
        ip=ip,
    )
    issued = IssuedInvitation(invitation, token)
    transaction.on_commit(lambda: _send_invitation_email(issued))
    return issued


def _send_invitation_email(issued: IssuedInvitation) -> None:
    from core.tasks import send_invitation_email

    send_invitation_email.delay(issued.invitation.pk, issued.accept_url)


@transaction.atomic
def do_revoke_invitation(
    actor: Membership, invitation: Invitation, *, ip: str | None = None
) -> None:
    check_permission(actor, "core.member.invite")
    if invitation.state != "pending":
        raise Conflict(
            _("This invitation has already been used or withdrawn."), code="invitation_closed"
        )
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record_audit(actor.org, actor.user, "member.invite.revoke", invitation, ip=ip)


def get_pending_invitation(token: str) -> Invitation:
    """The invitation behind ``token``; any closed one answers as missing or closed."""
    invitation = (
        Invitation.objects.select_related("org", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if invitation is None:
        raise NotFound(_("This invitation link is not valid."))
    if invitation.state != "pending":
        closed = {
            "accepted": _("This invitation has already been used or withdrawn."),
            "revoked": _("This invitation has been withdrawn."),
            "expired": _("This invitation has expired."),
        }
        raise Conflict(closed[invitation.state], code=f"invitation_{invitation.state}")
    return invitation


@transaction.atomic
def do_accept_invitation(
    token: str,
    *,
    user: User | None,
    display_name: str = "",
    password: str = "",
    ip: str | None = None,
) -> Membership:
    """Accept: links the signed-in user, or creates an account for the invited address."""
    invitation = get_pending_invitation(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state != "pending":  # lost a race with another accept
        raise Conflict(_("This invitation has already been used."), code="invitation_accepted")
    if user is not None:
        if user.email.lower() != invitation.email:
            raise Forbidden(
                _("This invitation is for a different e-mail address. Sign in with that address."),
                code="wrong_account",
            )
    else:
        if User.objects.filter(email=invitation.email).exists():
            raise Conflict(
                _("An account with this address exists: sign in to accept."),
                code="sign_in_required",
            )
        fields: dict[str, list[str]] = {}
        if not display_name.strip():
            fields["display_name"] = [_("This field is required.")]
        candidate = User(email=invitation.email, display_name=display_name.strip())
        try:
            password_validation.validate_password(password, candidate)
        except DjangoValidationError as exc:
            fields["password"] = list(exc.messages)
        if not fields.get("password"):
            try:
                check_password_policies(password, invitation.email, [invitation.org_id])
            except ValidationFailed as exc:
                fields.update(exc.fields)
        if fields:
            raise ValidationFailed(_("Please correct the highlighted fields."), fields=fields)
        user = User.objects.create_user(
            invitation.email, password, display_name=display_name.strip()
        )
    if Membership.objects.filter(org_id=invitation.org_id, user=user).exists():
        raise Conflict(_("You are already a member of this organisation."), code="already_member")
    if invitation.role == Role.GUEST:
        check_external_sharing(invitation.org_id)
    _check_member_limit(invitation.org)
    membership = Membership.objects.create(
        org_id=invitation.org_id, user=user, role=invitation.role, status=Status.ACTIVE
    )
    invitation.accepted_at = timezone.now()
    invitation.membership = membership
    invitation.save(update_fields=["accepted_at", "membership"])
    record_audit(invitation.org, user, "member.join", membership, ip=ip)
    hooks.run_after_commit(hooks.MEMBERSHIP_CHANGED, membership)
    return membership


# --- Departments -----------------------------------------------------------------------


def _check_parent(
    actor: Membership, department: Department | None, parent: Department | None
) -> None:
    if parent is None:
        return
    if parent.org_id != actor.org_id:
        raise NotFound(_("Parent department not found."), fields={"parent": [_("Not found.")]})
    if department is None:
        return
    node: Department | None = parent
    while node is not None:
        if node.pk == department.pk:
            raise Conflict(
                _("A department cannot move under itself or its own sub-department."),
                code="department_cycle",
                fields={"parent": [_("Would create a cycle.")]},
            )
        node = node.parent


def _save_department(department: Department) -> None:
    try:
        with transaction.atomic():
            department.save()
    except IntegrityError as exc:
        raise Conflict(
            _("A department with this name already exists here."),
            code="duplicate_name",
            fields={"name": [_("Already exists.")]},
        ) from exc


@transaction.atomic
def do_create_department(
    actor: Membership, *, name: str, parent: Department | None = None, ip: str | None = None
) -> Department:
    check_permission(actor, "core.department.manage")
    _check_parent(actor, None, parent)
    department = Department(org_id=actor.org_id, name=name.strip(), parent=parent)
    _save_department(department)
    record_audit(actor.org, actor.user, "department.create", department, ip=ip)
    return department


_UNSET: Any = object()


@transaction.atomic
def do_update_department(
    actor: Membership,
    department: Department,
    *,
    name: str | None = None,
    parent: Department | None = _UNSET,
    ip: str | None = None,
) -> Department:
    """Rename and/or move a department."""
    check_permission(actor, "core.department.manage")
    department = Department.objects.select_for_update().get(pk=department.pk)
    data: dict[str, Any] = {}
    if name is not None and name.strip() != department.name:
        data["name"] = [department.name, name.strip()]
        department.name = name.strip()
    if parent is not _UNSET and parent != department.parent:
        _check_parent(actor, department, parent)
        data["parent"] = [department.parent_id, parent.pk if parent else None]
        department.parent = parent
    if data:
        _save_department(department)
        record_audit(actor.org, actor.user, "department.update", department, data=data, ip=ip)
    return department


@transaction.atomic
def do_delete_department(
    actor: Membership, department: Department, *, ip: str | None = None
) -> None:
    check_permission(actor, "core.department.manage")
    if department.children.exists() or department.members.exists():
        raise Conflict(
            _(
                "Only an empty department can be deleted: "
                "move its members and sub-departments first."
            ),
            code="department_not_empty",
        )
    record_audit(actor.org, actor.user, "department.delete", department, ip=ip)
    department.delete()


@transaction.atomic
def do_add_department_member(
    actor: Membership,
    department: Department,
    member: Membership,
    *,
    is_manager: bool = False,
    ip: str | None = None,
) -> DepartmentMember:
    check_permission(actor, "core.member.update")
    if member.org_id != department.org_id:
        raise NotFound(_("Member not found."), fields={"member_id": [_("Not found.")]})
    link, created = DepartmentMember.objects.update_or_create(
        org_id=department.org_id,
        department=department,
        membership=member,
        defaults={"is_manager": is_manager},
    )
    record_audit(
        actor.org,
        actor.user,
        "department.member.add" if created else "department.member.update",
        department,
        data={"member": member.pk, "is_manager": is_manager},
        ip=ip,
    )
    if created:
        hooks.run_after_commit(hooks.DEPARTMENT_MEMBER_CHANGED, department, member)
    return link


@transaction.atomic
def do_remove_department_member(
    actor: Membership, department: Department, member: Membership, *, ip: str | None = None
) -> None:
    check_permission(actor, "core.member.update")
    deleted, _by_model = DepartmentMember.objects.filter(
        org_id=department.org_id, department=department, membership=member
    ).delete()
    if not deleted:
        raise NotFound(_("That member is not in this department."))
    record_audit(
        actor.org,
        actor.user,
        "department.member.remove",
        department,
        data={"member": member.pk},
        ip=ip,
    )
    hooks.run_after_commit(hooks.DEPARTMENT_MEMBER_CHANGED, department, member)


# --- Personal API tokens ----------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def do_create_api_token(
    user: User, *, name: str, expires_in_days: int | None = None
) -> IssuedToken:
    days = expires_in_days or settings.API_TOKEN_DEFAULT_DAYS
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationFailed(
            _("Invalid expiry."),
            fields={
                "expires_in_days": [
                    _("Between 1 and %(days)s.") % {"days": settings.API_TOKEN_MAX_DAYS}
                ]
            },
        )
    secret = new_token_secret()
    token = ApiToken.objects.create(
        user=user,
        name=name.strip() or "API token",
        prefix=secret[:12],
        token_hash=hash_token(secret),
        expires_at=timezone.now() + timedelta(days=days),
    )
    return IssuedToken(token, secret)


def do_revoke_api_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


# --- Account --------------------------------------------------------------------------


def do_change_password(user: User, *, current: str, new: str) -> None:
    if not user.check_password(current):
        raise ValidationFailed(
            _("The current password is wrong."), fields={"current_password": [_("Wrong password.")]}
        )
    try:
        password_validation.validate_password(new, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            _("Choose a stronger password."), fields={"new_password": list(exc.messages)}
        ) from exc
    check_password_policies(new, user.email, active_org_ids(user.pk), field="new_password")
    user.set_password(new)
    user.save(update_fields=["password"])
