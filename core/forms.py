"""Web forms: they parse and validate input; actions do the writing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from core.errors import TackError
from core.models import Department, Membership, Organization, User
from core.permissions import ROLE_RANK
from core.selectors import department_tree

Role = Membership.Role
Status = Membership.Status


class TackForm(forms.Form):
    """A form that can show a domain error: its message on top, its fields inline."""

    def add_tack_error(self, exc: TackError) -> None:
        placed = False
        for name, messages in exc.fields.items():
            if name in self.fields:
                for message in messages:
                    self.add_error(name, message)
                placed = True
        # A bare "correct the highlighted fields" adds nothing once the fields show their own.
        if not placed or exc.code != "invalid":
            self.add_error(None, exc.message)


# --- Sign-in and account -------------------------------------------------------------


class LoginForm(AuthenticationForm):
    """E-mail and password. The e-mail travels as ``username``, Django's field name."""

    username = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("That e-mail address and password do not match an account."),
        "inactive": _("This account is disabled."),
    }


class ProfileForm(forms.ModelForm[User]):
    class Meta:
        model = User
        fields = ["display_name", "locale"]
        labels = {"display_name": _("Display name"), "locale": _("Language")}


class LanguageForm(forms.ModelForm[User]):
    class Meta:
        model = User
        fields = ["locale"]


class PasswordChangeForm(TackForm):
    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_again = forms.CharField(
        label=_("New password, again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", _("The two passwords differ."))
        return data


TOKEN_LIFETIMES = [
    (30, _("30 days")),
    (90, _("90 days")),
    (180, _("180 days")),
    (366, _("1 year")),
]


class ApiTokenForm(TackForm):
    name = forms.CharField(
        label=_("Token name"),
        max_length=80,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Build server")}),
    )
    expires_in_days = forms.TypedChoiceField(
        label=_("Expires after"), choices=TOKEN_LIFETIMES, coerce=int, initial=90
    )


# --- Organisations ---------------------------------------------------------------------


class OrganizationCreateForm(TackForm):
    name = forms.CharField(
        label=_("Organisation name"),
        max_length=120,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Acme Dairy"), "autofocus": True}),
    )


class OrganizationSettingsForm(TackForm):
    """Name and branding. Fields the member may not change are left out."""

    name = forms.CharField(label=_("Organisation name"), max_length=120)
    brand_name = forms.CharField(
        label=_("Product name"),
        max_length=60,
        required=False,
        help_text=_("Shown instead of “Tack” across the interface. Leave empty to use Tack."),
    )
    brand_color = forms.CharField(
        label=_("Primary colour"),
        max_length=7,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f6feb."))],
        widget=forms.TextInput(attrs={"type": "color", "data-brand-preview": "colour"}),
    )
    brand_logo = forms.ImageField(
        label=_("Logo"),
        required=False,
        help_text=_("PNG, JPEG, GIF or WebP, at most %(size)s KiB. A square image looks best.")
        % {"size": settings.LOGO_MAX_BYTES // 1024},
        widget=forms.FileInput(attrs={"accept": "image/*", "data-brand-preview": "logo"}),
    )
    remove_logo = forms.BooleanField(label=_("Remove the current logo"), required=False)

    def __init__(
        self, org: Organization, *args: Any, can_update: bool, can_brand: bool, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "initial",
            {"name": org.name, "brand_name": org.brand_name, "brand_color": org.brand_color},
        )
        super().__init__(*args, **kwargs)
        self.org = org
        if not can_update:
            del self.fields["name"]
        if not can_brand:
            for name in ("brand_name", "brand_color", "brand_logo", "remove_logo"):
                del self.fields[name]
        elif not org.brand_logo:
            del self.fields["remove_logo"]

    def changes(self) -> dict[str, Any]:
        """Only what differs from the organisation now, in ``do_update_organization``'s terms."""
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        for name in ("name", "brand_name", "brand_color"):
            if name in data and data[name] != getattr(self.org, name):
                changes[name] = data[name]
        if data.get("brand_logo"):
            changes["brand_logo"] = data["brand_logo"]
        elif data.get("remove_logo"):
            changes["brand_logo"] = ""
        return changes


# --- Members ---------------------------------------------------------------------------


def _department_choices(
    org: Organization, *, exclude: Department | None = None
) -> list[tuple[str, str]]:
    """Departments in tree order, indented by depth; ``exclude`` drops a subtree."""
    choices: list[tuple[str, str]] = []

    def walk(nodes: list[dict[str, Any]], depth: int) -> None:
        for node in nodes:
            department: Department = node["department"]
            if exclude is not None and department.pk == exclude.pk:
                continue
            choices.append((str(department.pk), "\u2003" * depth + department.name))
            walk(node["children"], depth + 1)

    walk(department_tree(org), 0)
    return choices


def _roles_up_to(actor: Membership) -> list[tuple[str, str]]:
    """Roles ``actor`` may hand out: none above their own."""
    return [
        (value, str(label))
        for value, label in Role.choices
        if ROLE_RANK[value] <= ROLE_RANK[actor.role]
    ]


class MemberFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Name, e-mail or title"),
                "autocomplete": "off",
            }
        ),
    )
    department = forms.TypedChoiceField(
        label=_("Department"), required=False, coerce=int, empty_value=None
    )
    role = forms.ChoiceField(label=_("Role"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, org: Organization, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "filter_%s")  # the invite form on the same page has a role
        super().__init__(*args, **kwargs)
        department = self.fields["department"]
        assert isinstance(department, forms.ChoiceField)
        department.choices = [("", _("All departments")), *_department_choices(org)]
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = [("", _("All roles")), *Role.choices]
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [("", _("All statuses")), *Status.choices]

    def filters(self) -> dict[str, Any]:
        """Filters for ``member_list``; invalid values are ignored, not an error."""
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v}


class InviteForm(TackForm):
    email = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"placeholder": _("name@example.com")}),
    )
    role = forms.ChoiceField(label=_("Role"), initial=Role.MEMBER)

    def __init__(self, actor: Membership, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = _roles_up_to(actor)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class MemberStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(Status.ACTIVE, Status.ACTIVE.label), (Status.SUSPENDED, Status.SUSPENDED.label)]
    )


# --- Departments -----------------------------------------------------------------------


class DepartmentForm(TackForm):
    name = forms.CharField(label=_("Name"), max_length=80)
    parent = forms.TypedChoiceField(
        label=_("Parent department"), required=False, coerce=int, empty_value=None
    )

    def __init__(
        self, org: Organization, *args: Any, department: Department | None = None, **kwargs: Any
    ) -> None:
        if department is not None:
            kwargs.setdefault("initial", {"name": department.name, "parent": department.parent_id})
        super().__init__(*args, **kwargs)
        parent = self.fields["parent"]
        assert isinstance(parent, forms.ChoiceField)
        parent.choices = [
            ("", _("None (top level)")),
            *_department_choices(org, exclude=department),
        ]


class DepartmentMemberForm(TackForm):
    member = forms.TypedChoiceField(label=_("Member"), coerce=int)
    is_manager = forms.BooleanField(label=_("Manager"), required=False)

    def __init__(self, members: list[Membership], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        member = self.fields["member"]
        assert isinstance(member, forms.ChoiceField)
        member.choices = [
            ("", _("Choose a member…")),
            *((str(m.pk), f"{m.user.display_name} <{m.user.email}>") for m in members),
        ]


class ManagerForm(forms.Form):
    is_manager = forms.BooleanField(required=False)


# --- Invitations -----------------------------------------------------------------------


class InvitationAccountForm(TackForm):
    """A new account for the invited address."""

    display_name = forms.CharField(
        label=_("Your name"),
        max_length=80,
        widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Choose a password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common password."),
    )
    password_again = forms.CharField(
        label=_("Password, again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data
