"""Django admin for organisations, people and their places, organisation-aware.

Every tenant-owned model shows and filters by its organisation and loads its
relations with the rows (no query per row). Inline rows take their organisation
from the parent object. Secrets (``token_hash``) are never shown; API tokens can
only be revoked, and the audit log is read-only. The building blocks are in
``core.tenant_admin`` so other apps' admins behave the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.forms.models import InlineForeignKeyField
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.actions import do_revoke_api_token
from core.models import (
    ApiToken,
    AuditLogEntry,
    Department,
    DepartmentMember,
    Invitation,
    Membership,
    Organization,
    RoleGrant,
    User,
)
from core.permissions import OPERATIONS, OWNER, forget_role_grants
from core.tenant_admin import (
    AutocompleteFormfieldMixin,
    GenericModelAdmin,
    LabelledTenantModelAdmin,
    TenantInline,
    TenantModelAdmin,
    TenantModelForm,
    form_org_id,
)

if TYPE_CHECKING:  # generic in django-stubs only
    _UserAdminBase = DjangoUserAdmin[User]
    _UserCreationFormBase = AdminUserCreationForm[User]
    _UserChangeFormBase = DjangoUserChangeForm[User]
else:
    _UserAdminBase = DjangoUserAdmin
    _UserCreationFormBase = AdminUserCreationForm
    _UserChangeFormBase = DjangoUserChangeForm


# --- Forms -------------------------------------------------------------------------


class DepartmentForm(TenantModelForm[Department]):
    """A department's parent must be in the same organisation and not below itself."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        parent: Department | None = cleaned.get("parent")
        if parent is None:
            return cleaned
        if parent.org_id != form_org_id(self):
            self.add_error("parent", _("Choose a department of the same organisation."))
            return cleaned
        node: Department | None = parent
        while node is not None and self.instance.pk is not None:
            if node.pk == self.instance.pk:
                self.add_error(
                    "parent", _("A department cannot move under itself or its sub-department.")
                )
                break
            node = node.parent
        return cleaned


class DepartmentMemberForm(TenantModelForm[DepartmentMember]):
    """The link's organisation is its department's; the member must belong to it too."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        instance = self.instance
        department: Department | None = cleaned.get("department") or (
            instance.department if instance.department_id else None
        )
        membership: Membership | None = cleaned.get("membership") or (
            instance.membership if instance.membership_id else None
        )
        if department is None or membership is None:
            return cleaned
        if department.org_id != membership.org_id:
            chosen = self.fields.get("membership")
            field = (
                "department"
                if chosen is None or isinstance(chosen, InlineForeignKeyField)
                else "membership"
            )
            self.add_error(
                field, _("The member and the department are in different organisations.")
            )
        else:
            instance.org_id = department.org_id
        return cleaned


def _operation_choices() -> list[tuple[str, str]]:
    return [(name, f"{name}: {op.description}") for name, op in OPERATIONS.items()]


class RoleGrantForm(TenantModelForm[RoleGrant]):
    permission = forms.ChoiceField(choices=_operation_choices)  # translated per request

    def clean_role(self) -> str:
        role: str = self.cleaned_data["role"]
        if role == OWNER:
            raise forms.ValidationError(_("Owners always hold every permission."))
        return role


class UserCreationForm(_UserCreationFormBase):
    """Adds a user who signs in with an e-mail address."""

    class Meta:
        model = User
        fields = ("email", "display_name")

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("A user with this e-mail address already exists."))
        return email


class UserChangeForm(_UserChangeFormBase):
    class Meta:
        model = User
        fields = ("email", "display_name")

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        others = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("A user with this e-mail address already exists."))
        return email


# --- Inlines -----------------------------------------------------------------------


class OrganizationMembershipInline(TenantInline[Membership]):
    model = Membership
    fields = ("user", "role", "title", "status", "joined_at")
    autocomplete_fields = ("user",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("user")


class OrganizationDepartmentInline(TenantInline[Department]):
    model = Department
    form = DepartmentForm
    fields = ("name", "parent")
    autocomplete_fields = ("parent",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Department]:
        return super().get_queryset(request).select_related("parent__parent", "parent__org")


class DepartmentMemberInline(TenantInline[DepartmentMember]):
    """Members of a department; each row takes the department's organisation."""

    model = DepartmentMember
    form = DepartmentMemberForm
    fields = ("membership", "is_manager")
    autocomplete_fields = ("membership",)
    verbose_name = _("member")
    verbose_name_plural = _("members")

    def get_queryset(self, request: HttpRequest) -> QuerySet[DepartmentMember]:
        return super().get_queryset(request).select_related("membership__user", "membership__org")


class MembershipDepartmentInline(TenantInline[DepartmentMember]):
    """A member's departments; each row takes the membership's organisation."""

    model = DepartmentMember
    form = DepartmentMemberForm
    fields = ("department", "is_manager")
    autocomplete_fields = ("department",)
    verbose_name = _("department")
    verbose_name_plural = _("departments")

    def get_queryset(self, request: HttpRequest) -> QuerySet[DepartmentMember]:
        return super().get_queryset(request).select_related("department__parent", "department__org")


class UserMembershipInline(TenantInline[Membership]):
    model = Membership
    fields = ("org", "role", "title", "status", "joined_at")
    autocomplete_fields = ("org",)
    verbose_name = _("organisation membership")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("org")


# --- Organisations and people --------------------------------------------------------


def _lock_forms(organizations: QuerySet[Organization]) -> None:
    """Before deleting organisations, lock their forms as deleting a form does: a record
    being added is then waited for and seen (records protect their form versions, so the
    deletion refuses), and one added later finds its form gone."""
    from lowcode.actions import lock_forms_for_delete
    from lowcode.models import Form

    lock_forms_for_delete(Form.objects.filter(org__in=organizations))


@admin.register(Organization)
class OrganizationAdmin(AutocompleteFormfieldMixin, GenericModelAdmin[Organization]):
    list_display = (
        "name",
        "slug",
        "edition",
        "active_members",
        "member_limit",
        "brand_name",
        "created_at",
    )
    list_filter = ("edition",)
    search_fields = ("name", "slug", "brand_name")
    ordering = ("name", "id")  # Meta.ordering is dropped by the member count's GROUP BY
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("active_members", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "edition", "member_limit", "active_members")}),
        (_("Branding"), {"fields": ("brand_name", "brand_color", "brand_logo")}),
        (_("Dates"), {"fields": ("created_at",)}),
    )
    inlines = (OrganizationMembershipInline, OrganizationDepartmentInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        organizations: QuerySet[Organization] = super().get_queryset(request)
        return organizations.annotate(
            active_member_count=Count(
                "memberships", filter=Q(memberships__status=Membership.Status.ACTIVE)
            )
        )

    def delete_model(self, request: HttpRequest, obj: Organization) -> None:
        with transaction.atomic():
            _lock_forms(Organization.objects.filter(pk=obj.pk))
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        with transaction.atomic():
            _lock_forms(queryset)
            super().delete_queryset(request, queryset)

    @admin.display(description=_("active members"), ordering="active_member_count")
    def active_members(self, obj: Organization) -> SafeString | str:
        count = getattr(obj, "active_member_count", None)
        if obj.pk is None or count is None:
            return "-"
        url = reverse("admin:core_membership_changelist")
        return format_html('<a href="{}?org__id__exact={}">{}</a>', url, obj.pk, count)


@admin.register(User)
class UserAdmin(AutocompleteFormfieldMixin, _UserAdminBase):
    """Users sign in with their e-mail address; passwords change through the hash link."""

    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("display_name", "avatar", "locale")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "display_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("email", "display_name", "locale", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "locale", "memberships__org")
    search_fields = ("email", "display_name")
    ordering = ("email",)
    inlines = (UserMembershipInline,)

    def get_inlines(
        self, request: HttpRequest, obj: User | None
    ) -> tuple[type[UserMembershipInline], ...]:
        return self.inlines if obj is not None else ()  # the add form asks only for sign-in


@admin.register(Membership)
class MembershipAdmin(LabelledTenantModelAdmin[Membership]):
    list_display = ("user", "org", "role", "title", "status", "joined_at")
    list_filter = ("org", "role", "status")
    list_select_related = ("org", "user")
    search_fields = ("user__email", "user__display_name", "title", "org__name", "org__slug")
    autocomplete_fields = ("org", "user")
    inlines = (MembershipDepartmentInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("org", "user")

    def autocomplete_label(self, obj: Membership) -> str:
        return f"{obj.user.display_name} <{obj.user.email}> · {obj.org.name}"


@admin.register(Department)
class DepartmentAdmin(LabelledTenantModelAdmin[Department]):
    form = DepartmentForm
    list_display = ("name", "parent", "org", "member_count", "created_at")
    list_filter = ("org",)
    list_select_related = ("org", "parent")
    search_fields = ("name", "org__name", "org__slug")
    ordering = ("org__name", "name", "id")  # Meta.ordering is dropped by the GROUP BY
    autocomplete_fields = ("org", "parent")
    readonly_fields = ("created_at",)
    inlines = (DepartmentMemberInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Department]:
        departments: QuerySet[Department] = super().get_queryset(request)
        return departments.select_related("org", "parent__parent", "parent__org").annotate(
            member_count=Count("members")
        )

    @admin.display(description=_("members"), ordering="member_count")
    def member_count(self, obj: Department) -> int | str:
        count: int | None = getattr(obj, "member_count", None)
        return "-" if count is None else count

    def autocomplete_label(self, obj: Department) -> str:
        path = f"{obj.parent.name} / {obj.name}" if obj.parent_id and obj.parent else obj.name
        return f"{path} · {obj.org.name}"


@admin.register(DepartmentMember)
class DepartmentMemberAdmin(TenantModelAdmin[DepartmentMember]):
    form = DepartmentMemberForm
    list_display = ("member", "department", "org", "is_manager")
    list_filter = ("org", "is_manager")
    list_select_related = ("org", "department", "membership__user")
    search_fields = (
        "membership__user__email",
        "membership__user__display_name",
        "department__name",
        "org__name",
    )
    autocomplete_fields = ("department", "membership")
    exclude = ("org",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[DepartmentMember]:
        return (
            super()
            .get_queryset(request)
            .select_related(
                "org",
                "department__parent",
                "department__org",
                "membership__user",
                "membership__org",
            )
        )

    @admin.display(description=_("member"), ordering="membership__user__display_name")
    def member(self, obj: DepartmentMember) -> str:
        return str(obj.membership.user)


@admin.register(RoleGrant)
class RoleGrantAdmin(TenantModelAdmin[RoleGrant]):
    form = RoleGrantForm
    list_display = ("permission", "role", "granted", "org")
    list_filter = ("org", "role", "granted")
    search_fields = ("permission", "org__name", "org__slug")

    # Permission checks read a cached copy of each organisation's grants.
    def save_model(self, request: HttpRequest, obj: RoleGrant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        forget_role_grants(obj.org_id)

    def delete_model(self, request: HttpRequest, obj: RoleGrant) -> None:
        super().delete_model(request, obj)
        forget_role_grants(obj.org_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RoleGrant]) -> None:
        org_ids = set(queryset.values_list("org_id", flat=True))
        super().delete_queryset(request, queryset)
        for org_id in org_ids:
            forget_role_grants(org_id)


# --- Invitations, tokens, audit log --------------------------------------------------


class InvitationStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [
            ("pending", str(_("Pending"))),
            ("accepted", str(_("Accepted"))),
            ("revoked", str(_("Revoked"))),
            ("expired", str(_("Expired"))),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        open_ = Q(accepted_at__isnull=True, revoked_at__isnull=True)
        match self.value():
            case "pending":
                return queryset.filter(open_, expires_at__gt=now)
            case "accepted":
                return queryset.filter(accepted_at__isnull=False)
            case "revoked":
                return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=False)
            case "expired":
                return queryset.filter(open_, expires_at__lte=now)
        return queryset


@admin.register(Invitation)
class InvitationAdmin(TenantModelAdmin[Invitation]):
    """Read-only: invitations are issued by ``do_invite_member`` so the token is mailed."""

    list_display = ("email", "org", "role", "state", "invited_by", "created_at", "expires_at")
    list_filter = ("org", InvitationStateFilter, "role")
    list_select_related = ("org", "invited_by")
    search_fields = ("email", "org__name", "org__slug")
    exclude = ("token_hash",)
    readonly_fields = ("state",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invitation]:
        return super().get_queryset(request).select_related("membership__user")

    @admin.display(description=_("state"))
    def state(self, obj: Invitation) -> str:
        return obj.state

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(GenericModelAdmin[ApiToken]):
    """View and revoke personal API tokens; the hash is never shown and nothing is edited."""

    list_display = (
        "name",
        "user",
        "prefix",
        "usable",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "expires_at")
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__email", "user__display_name")
    exclude = ("token_hash",)
    readonly_fields = ("usable",)
    actions = ("revoke_tokens",)

    @admin.display(description=_("usable"), boolean=True)
    def usable(self, obj: ApiToken) -> bool:
        return obj.is_usable

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    @admin.action(description=_("Revoke selected tokens"), permissions=["revoke"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            do_revoke_api_token(token)
        self.message_user(
            request,
            ngettext("Revoked %d token.", "Revoked %d tokens.", len(tokens)) % len(tokens),
            messages.SUCCESS,
        )


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(TenantModelAdmin[AuditLogEntry]):
    """The audit log is append-only: it can be read and searched, never changed."""

    list_display = (
        "created_at",
        "org",
        "actor",
        "action",
        "target_type",
        "target_repr",
        "ip_address",
    )
    list_filter = ("org", "created_at")
    list_select_related = ("org", "actor")
    search_fields = ("action", "target_type", "target_id", "target_repr", "actor__email")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLogEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLogEntry | None = None) -> bool:
        return False


from core.metrics import admin as _metrics_admin  # noqa: E402,F401  (activity, DAG rollups)
from core.security import admin as _security_admin  # noqa: E402,F401  (policies, two-step)
