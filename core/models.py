"""Tenants, identity and membership.

``Organization`` is the tenant. Every tenant-owned table carries a non-null
``org`` foreign key and every unique constraint on it includes ``org`` so the
schema can be distributed by ``org_id``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f6feb."))


class Organization(models.Model):
    class Edition(models.TextChoices):
        FREE = "free", _("Free")
        PROFESSIONAL = "professional", _("Professional")
        EXCLUSIVE = "exclusive", _("Exclusive")
        PROPRIETARY = "proprietary", _("Proprietary")

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    edition = models.CharField(max_length=20, choices=Edition.choices, default=Edition.FREE)
    member_limit = models.PositiveIntegerField(
        default=500, help_text=_("Most active and invited members allowed.")
    )
    brand_name = models.CharField(
        max_length=60, blank=True, help_text=_("Product name shown instead of 'Tack'.")
    )
    brand_color = models.CharField(max_length=7, default="#1f6feb", validators=[hex_colour])
    brand_logo = models.ImageField(upload_to="org-logos/", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.brand_name or self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Belongs to organisations through ``Membership``."""

    class Locale(models.TextChoices):
        EN = "en", "English"
        ZH_HANS = "zh-hans", "简体中文"

    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=80)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    locale = models.CharField(max_length=10, choices=Locale.choices, default=Locale.EN)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    # An installed marketplace app's own account (one per installation): it never logs in
    # with a password, and it is not counted as a person (directory, seats, metrics).
    is_app = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["display_name"]

    objects = UserManager()

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return f"{self.display_name} <{self.email}>"

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name


class Membership(models.Model):
    """A user's place in one organisation."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        MEMBER = "member", _("Member")
        GUEST = "guest", _("Guest")

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    title = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "user"], name="membership_unique_org_user"),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["org", "status", "role"])]

    def __str__(self) -> str:
        # Ids only: str() must not query (admin lists, logs); pickers use richer labels.
        return f"member {self.pk} (user {self.user_id}, org {self.org_id}, {self.role})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Department(models.Model):
    """A node of an organisation's department tree."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="departments")
    name = models.CharField(max_length=80)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "parent", "name"], name="department_unique_sibling_name"
            ),
            models.UniqueConstraint(
                fields=["org", "name"],
                condition=Q(parent__isnull=True),
                name="department_unique_root_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DepartmentMember(models.Model):
    """A membership's place in a department; ``is_manager`` marks its managers."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="members")
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="department_links"
    )
    is_manager = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["org", "department", "membership"], name="department_member_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} in {self.department_id}" + (" (manager)" * self.is_manager)


class RoleGrant(models.Model):
    """An organisation's override of a role's default for one named operation."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    permission = models.CharField(max_length=80)
    granted = models.BooleanField()

    class Meta:
        ordering: ClassVar[list[str]] = ["role", "permission"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "role", "permission"], name="role_grant_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {'+' if self.granted else '-'}{self.permission}"


class Invitation(models.Model):
    """A single-use invitation by e-mail. Only the token's hash is stored."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    token_hash = models.CharField(max_length=64)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "token_hash"], name="invitation_unique_token"),
            models.UniqueConstraint(
                fields=["org", "membership"],
                condition=Q(membership__isnull=False),
                name="invitation_unique_membership",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["token_hash"])]

    def __str__(self) -> str:
        return f"{self.email} ({self.role})"

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class ApiToken(models.Model):
    """A personal API token. The secret is shown once; only its SHA-256 is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12, help_text=_("First characters, to recognise it."))
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class AuditLogEntry(models.Model):
    """An administrative action: who did what to which object, when and from where."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_log")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=40, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["org", "-id"])]
        verbose_name_plural = "audit log entries"

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


from core.metrics.models import (  # noqa: E402,F401  (activity and DAG metrics tables)
    ActivityDaily,
    DagDefinition,
    DailyOrgRollup,
    MemberLapse,
    PlatformDaily,
    SystemDaily,
)
from core.security.models import (  # noqa: E402,F401  (security policies, two-step verification)
    RecoveryCode,
    SecurityPolicy,
    TwoFactorDevice,
)
