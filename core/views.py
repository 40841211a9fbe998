"""Server-rendered pages.

Each view is short: parse a form, resolve access, call an action, render. Pages
of an organisation live under ``/o/<org_id>/`` and are wrapped in ``org_page``,
which resolves ``request.org`` and ``request.membership`` once (so the page
carries the organisation's branding) and maps domain errors to pages:
``NotFound`` → the 404 page, ``Forbidden`` → the 403 page with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.access import (
    access_api_token,
    access_department,
    access_invitation,
    access_member,
    access_organization,
)
from core.actions import (
    do_accept_invitation,
    do_add_department_member,
    do_change_password,
    do_change_role,
    do_create_api_token,
    do_create_department,
    do_create_organization,
    do_delete_department,
    do_invite_member,
    do_remove_department_member,
    do_remove_member,
    do_revoke_api_token,
    do_revoke_invitation,
    do_set_member_status,
    do_update_department,
    do_update_organization,
    get_pending_invitation,
)
from core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from core.forms import (
    ApiTokenForm,
    DepartmentForm,
    DepartmentMemberForm,
    InvitationAccountForm,
    InviteForm,
    LanguageForm,
    LoginForm,
    ManagerForm,
    MemberFilterForm,
    MemberStatusForm,
    OrganizationCreateForm,
    OrganizationSettingsForm,
    PasswordChangeForm,
    ProfileForm,
    RoleForm,
)
from core.member_export import check_member_export, member_csv_chunks
from core.metrics.recording import note_request
from core.models import Membership, Organization, User
from core.permissions import OPERATIONS, ROLE_RANK, check_permission, has_permission
from core.permissions import role_permissions as permissions_of_role
from core.security.actions import has_two_factor
from core.security.enforcement import (
    PASSWORD_CHANGE,
    SessionExpired,
    enforce_page,
    enforce_session_for_user,
    mark_signed_in,
    password_fails_policies,
    signed_in_orgs_refuse_ip,
)
from core.security.enforcement import PENDING as TWO_FACTOR_PENDING
from core.security.policies import export_allowed, ip_refusal_message
from core.selectors import (
    api_tokens_for_user,
    department_list,
    department_members,
    department_tree,
    email_has_account,
    member_list,
    organizations_for_user,
    pending_invitations,
    pending_invitations_for_email,
)

LAST_ORG_KEY = "tack.last_org_id"
INVITE_LINK_KEY = "tack.invite_link"
MEMBERS_PER_PAGE = 50
PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"

#: Errors a person can correct or that explain a refusal; shown on the page they came from.
CORRECTABLE = (Conflict, ValidationFailed, PayloadTooLarge)


class UserRequest(HttpRequest):
    user: User


class OrgRequest(UserRequest):
    org: Organization
    membership: Membership


def client_ip(request: HttpRequest) -> str | None:
    ip: str | None = request.META.get("REMOTE_ADDR")
    return ip


def org_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Resolve the organisation in the URL for a signed-in active member; 404 for anyone else."""

    @wraps(view)
    def wrapper(request: HttpRequest, org_id: int, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            membership = access_organization(request.user, org_id)
        except NotFound:
            raise Http404 from None
        scoped = cast(OrgRequest, request)
        scoped.org = membership.org
        scoped.membership = membership
        refusal = enforce_page(request, membership)  # the organisation's security policy
        if refusal is not None:
            return refusal
        if request.session.get(LAST_ORG_KEY) != membership.org_id:
            request.session[LAST_ORG_KEY] = membership.org_id
        try:
            response = view(scoped, **kwargs)
            note_request(request, membership, response.status_code)  # DAG metrics activity
            return response
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except Forbidden as exc:
            return render(request, "core/403.html", {"message": exc.message}, status=403)

    return wrapper


@contextmanager
def flash_errors(request: HttpRequest) -> Iterator[None]:
    """Correctable errors become a message on the next page; 403 and 404 go to ``org_page``."""
    try:
        yield
    except CORRECTABLE as exc:
        messages.error(request, exc.message)


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """To the page the form came from (``next``), if it is ours; else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def remembered_membership(request: UserRequest) -> Membership | None:
    """The membership of the organisation this user last worked in, if it is still active."""
    org_id = request.session.get(LAST_ORG_KEY)
    if org_id is None:
        return None
    try:
        return access_organization(request.user, org_id)
    except NotFound:
        return None


def brand_with_remembered_org(request: UserRequest) -> None:
    """Pages outside an organisation (account, new organisation) keep the last one's branding."""
    membership = remembered_membership(request)
    if membership is not None:
        scoped = cast(OrgRequest, request)
        scoped.org = membership.org
        scoped.membership = membership


def is_htmx_partial(request: HttpRequest, target: str) -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target") == target
        and not request.headers.get("HX-History-Restore-Request")
    )


# --- Entry, sign-in, organisations ----------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    """To the organisation last used, else the first one, else to create or join one."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("core:home"))
    user_request = cast(UserRequest, request)
    membership = remembered_membership(user_request)
    if membership is not None:
        return redirect("core:org_home", org_id=membership.org_id)
    first = organizations_for_user(user_request.user).first()
    if first is not None:
        return redirect("core:org_home", org_id=first.pk)
    return redirect("core:org_create")


class TackLoginView(LoginView):
    """Password first; then, for accounts with two-step verification, the code page.

    Refused when every organisation the person belongs to refuses their network."""

    template_name = "core/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        password = form.cleaned_data.get("password") or ""
        if signed_in_orgs_refuse_ip(user, client_ip(self.request)):
            form.add_error(None, ip_refusal_message())
            refused = self.form_invalid(form)
            refused.status_code = 403
            return refused
        if has_two_factor(user):
            self.request.session[TWO_FACTOR_PENDING] = {
                "user": user.pk,
                "at": int(time.time()),
                "next": self.get_success_url(),
                "password_change": password_fails_policies(user, password),
            }
            return redirect("core:two_factor_verify")
        response = super().form_valid(form)
        mark_signed_in(self.request, two_factor=False, password=password)
        return response


@login_required
@require_http_methods(["GET", "POST"])
def org_create(request: UserRequest) -> HttpResponse:
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = do_create_organization(
                request.user, name=form.cleaned_data["name"], ip=client_ip(request)
            )
        except CORRECTABLE as exc:
            form.add_tack_error(exc)
        else:
            messages.success(request, _("%(org)s is ready. Invite your team.") % {"org": org})
            return redirect("core:org_home", org_id=org.pk)
    brand_with_remembered_org(request)
    context = {
        "form": form,
        "invitations": pending_invitations_for_email(request.user.email),
    }
    return render(request, "core/org_create.html", context, status=400 if form.errors else 200)


@org_page
def org_home(request: OrgRequest) -> HttpResponse:
    context = {
        "member_count": member_list(request.org, filters={"status": "active"}).count(),
        "department_count": department_list(request.org).count(),
    }
    return render(request, "core/org_home.html", context)


# --- Members ---------------------------------------------------------------------------


@org_page
@require_http_methods(["GET", "POST"])
def members(request: OrgRequest) -> HttpResponse:
    """The member directory; a POST invites someone."""
    check_permission(request.membership, "core.member.read")
    invite_form = InviteForm(request.membership, request.POST or None)
    if request.method == "POST" and invite_form.is_valid():
        try:
            issued = do_invite_member(
                request.membership,
                email=invite_form.cleaned_data["email"],
                role=invite_form.cleaned_data["role"],
                ip=client_ip(request),
            )
        except CORRECTABLE as exc:
            invite_form.add_tack_error(exc)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": issued.invitation.email}
            )
            request.session[INVITE_LINK_KEY] = issued.accept_url
            return redirect("core:members", org_id=request.org.pk)

    filter_form = MemberFilterForm(request.org, request.GET)
    page = Paginator(
        member_list(request.org, filters=filter_form.filters()).order_by(
            "user__display_name", "id"
        ),
        MEMBERS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    actor = request.membership
    context = {
        "filter_form": filter_form,
        "page": page,
        "querystring": _without_page(request),
        "manageable": {
            m.pk for m in page if m.pk != actor.pk and ROLE_RANK[m.role] <= ROLE_RANK[actor.role]
        },
        "assignable_roles": [r for r in Membership.Role if ROLE_RANK[r] <= ROLE_RANK[actor.role]],
        "can": {
            "role": has_permission(actor, "core.member.role.change"),
            "suspend": has_permission(actor, "core.member.suspend"),
            "remove": has_permission(actor, "core.member.remove"),
            "export": export_allowed(actor, "members"),
        },
    }
    if is_htmx_partial(request, "member-table"):
        response = render(request, "core/partials/member_table.html", context)
    else:
        can_invite = has_permission(actor, "core.member.invite")
        context |= {
            "invite_form": invite_form if can_invite else None,
            "invitations": pending_invitations(request.org) if can_invite else [],
            "invite_link": request.session.pop(INVITE_LINK_KEY, None),
        }
        status = 400 if invite_form.errors else 200
        response = render(request, "core/members.html", context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@org_page
def members_export(request: OrgRequest) -> Any:
    """The member directory as CSV (the directory's filters apply), streamed."""
    filter_form = MemberFilterForm(request.org, request.GET)
    members = check_member_export(request.membership, filter_form.filters())
    response = StreamingHttpResponse(member_csv_chunks(members), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="members.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


def _without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@org_page
@require_POST
def member_role(request: OrgRequest, member_id: int) -> HttpResponse:
    target = access_member(request.membership, member_id)
    form = RoleForm(request.POST)
    with flash_errors(request):
        if form.is_valid():
            changed = do_change_role(
                request.membership, target, form.cleaned_data["role"], ip=client_ip(request)
            )
            messages.success(
                request,
                _("%(name)s is now %(role)s.")
                % {"name": changed.user.display_name, "role": changed.get_role_display()},
            )
    return redirect_back(request, reverse("core:members", args=[request.org.pk]))


@org_page
@require_POST
def member_status(request: OrgRequest, member_id: int) -> HttpResponse:
    target = access_member(request.membership, member_id)
    form = MemberStatusForm(request.POST)
    with flash_errors(request):
        if form.is_valid():
            status = form.cleaned_data["status"]
            do_set_member_status(request.membership, target, status, ip=client_ip(request))
            text = (
                _("%(name)s is suspended.")
                if status == Membership.Status.SUSPENDED
                else _("%(name)s is active again.")
            )
            messages.success(request, text % {"name": target.user.display_name})
    return redirect_back(request, reverse("core:members", args=[request.org.pk]))


@org_page
@require_POST
def member_remove(request: OrgRequest, member_id: int) -> HttpResponse:
    target = access_member(request.membership, member_id)
    with flash_errors(request):
        do_remove_member(request.membership, target, ip=client_ip(request))
        messages.success(
            request,
            _("%(name)s was removed from the organisation.") % {"name": target.user.display_name},
        )
    return redirect_back(request, reverse("core:members", args=[request.org.pk]))


@org_page
@require_POST
def invitation_revoke(request: OrgRequest, invitation_id: int) -> HttpResponse:
    invitation = access_invitation(request.membership, invitation_id)
    with flash_errors(request):
        do_revoke_invitation(request.membership, invitation, ip=client_ip(request))
        messages.success(
            request, _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email}
        )
    return redirect("core:members", org_id=request.org.pk)


# --- Departments -----------------------------------------------------------------------


@org_page
@require_http_methods(["GET", "POST"])
def departments(request: OrgRequest, department_id: int | None = None) -> HttpResponse:
    """The department tree; with an id, one department's details. POST creates or edits."""
    check_permission(request.membership, "core.member.read")
    actor, org = request.membership, request.org
    selected = access_department(actor, department_id) if department_id is not None else None
    posted = request.POST if request.method == "POST" else None
    form = DepartmentForm(org, posted, department=selected)
    if posted is not None and form.is_valid():
        name, parent_id = form.cleaned_data["name"], form.cleaned_data["parent"]
        try:
            parent = access_department(actor, parent_id) if parent_id else None
            if selected is None:
                department = do_create_department(
                    actor, name=name, parent=parent, ip=client_ip(request)
                )
                messages.success(request, _("Department %(name)s created.") % {"name": name})
            else:
                department = do_update_department(
                    actor, selected, name=name, parent=parent, ip=client_ip(request)
                )
                messages.success(request, _("Department %(name)s saved.") % {"name": name})
        except CORRECTABLE as exc:
            form.add_tack_error(exc)
        else:
            return redirect("core:department", org_id=org.pk, department_id=department.pk)

    context: dict[str, Any] = {"tree": department_tree(org), "selected": selected, "form": form}
    if selected is not None:
        links = list(department_members(selected))
        linked = {link.membership_id for link in links}
        candidates = [
            m for m in member_list(org).order_by("user__display_name") if m.pk not in linked
        ]
        context |= {"links": links, "add_form": DepartmentMemberForm(candidates)}
    return render(request, "core/departments.html", context, status=400 if form.errors else 200)


@org_page
@require_POST
def department_delete(request: OrgRequest, department_id: int) -> HttpResponse:
    department = access_department(request.membership, department_id)
    try:
        do_delete_department(request.membership, department, ip=client_ip(request))
    except CORRECTABLE as exc:
        messages.error(request, exc.message)
        return redirect("core:department", org_id=request.org.pk, department_id=department.pk)
    messages.success(request, _("Department %(name)s deleted.") % {"name": department.name})
    return redirect("core:departments", org_id=request.org.pk)


@org_page
@require_POST
def department_member_add(request: OrgRequest, department_id: int) -> HttpResponse:
    department = access_department(request.membership, department_id)
    form = DepartmentMemberForm(list(member_list(request.org)), request.POST)
    with flash_errors(request):
        if not form.is_valid():
            raise ValidationFailed(_("Choose a member to add."))
        member = access_member(request.membership, form.cleaned_data["member"])
        do_add_department_member(
            request.membership,
            department,
            member,
            is_manager=form.cleaned_data["is_manager"],
            ip=client_ip(request),
        )
        messages.success(
            request,
            _("%(name)s added to %(department)s.")
            % {"name": member.user.display_name, "department": department.name},
        )
    return redirect("core:department", org_id=request.org.pk, department_id=department.pk)


@org_page
@require_POST
def department_member_manager(
    request: OrgRequest, department_id: int, member_id: int
) -> HttpResponse:
    """Mark or unmark a department member as one of its managers."""
    department = access_department(request.membership, department_id)
    member = access_member(request.membership, member_id)
    form = ManagerForm(request.POST)
    with flash_errors(request):
        form.is_valid()
        do_add_department_member(
            request.membership,
            department,
            member,
            is_manager=form.cleaned_data.get("is_manager", False),
            ip=client_ip(request),
        )
    return redirect("core:department", org_id=request.org.pk, department_id=department.pk)


@org_page
@require_POST
def department_member_remove(
    request: OrgRequest, department_id: int, member_id: int
) -> HttpResponse:
    department = access_department(request.membership, department_id)
    member = access_member(request.membership, member_id)
    with flash_errors(request):
        do_remove_department_member(request.membership, department, member, ip=client_ip(request))
        messages.success(
            request,
            _("%(name)s removed from %(department)s.")
            % {"name": member.user.display_name, "department": department.name},
        )
    return redirect("core:department", org_id=request.org.pk, department_id=department.pk)


# --- Organisation settings -------------------------------------------------------------


@org_page
@require_http_methods(["GET", "POST"])
def org_settings(request: OrgRequest) -> HttpResponse:
    actor = request.membership
    can_update = has_permission(actor, "core.org.update")
    can_brand = has_permission(actor, "core.org.branding")
    if not (can_update or can_brand):
        check_permission(actor, "core.org.update")  # raises Forbidden → the 403 page
    form = OrganizationSettingsForm(
        request.org,
        request.POST or None,
        request.FILES or None,
        can_update=can_update,
        can_brand=can_brand,
    )
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        try:
            if changes:
                do_update_organization(actor, changes, ip=client_ip(request))
        except CORRECTABLE as exc:
            form.add_tack_error(exc)
        else:
            messages.success(request, _("Organisation settings saved."))
            return redirect("core:org_settings", org_id=request.org.pk)
    roles = list(Membership.Role)
    held = {role: permissions_of_role(request.org.pk, role) for role in roles}
    context = {
        "form": form,
        "roles": roles,
        "operations": [
            (op, [op.name in held[role] for role in roles]) for op in OPERATIONS.values()
        ],
    }
    return render(request, "core/org_settings.html", context, status=400 if form.errors else 200)


# --- Account ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def account(request: UserRequest) -> HttpResponse:
    """Profile, language, password and personal API tokens; ``form`` says which was sent."""
    user = request.user
    sent = request.POST.get("form") if request.method == "POST" else None
    profile_form = ProfileForm(request.POST if sent == "profile" else None, instance=user)
    password_form = PasswordChangeForm(request.POST if sent == "password" else None)
    token_form = ApiTokenForm(request.POST if sent == "token" else None)
    issued = None

    if sent == "profile" and profile_form.is_valid():
        profile_form.save()
        with translation.override(user.locale):
            messages.success(request, _("Your profile is saved."))
        return redirect("core:account")
    if sent == "password" and password_form.is_valid():
        try:
            do_change_password(
                user,
                current=password_form.cleaned_data["current_password"],
                new=password_form.cleaned_data["new_password"],
            )
        except CORRECTABLE as exc:
            password_form.add_tack_error(exc)
        else:
            update_session_auth_hash(request, user)
            request.session.pop(PASSWORD_CHANGE, None)
            messages.success(request, _("Your password is changed."))
            return redirect("core:account")
    if sent == "token" and token_form.is_valid():
        try:
            # A token outlives the session: only a session the policies accept mints one.
            enforce_session_for_user(request)
            issued = do_create_api_token(user, **token_form.cleaned_data)
        except SessionExpired:
            return redirect_to_login(reverse("core:account"))
        except (*CORRECTABLE, Forbidden) as exc:
            token_form.add_tack_error(exc)
        else:
            token_form = ApiTokenForm()

    brand_with_remembered_org(request)
    context = {
        "profile_form": profile_form,
        "password_form": password_form,
        "token_form": token_form,
        "issued": issued,
        "tokens": api_tokens_for_user(user),
    }
    failed = any(f.errors for f in (profile_form, password_form, token_form))
    response = render(request, "core/account.html", context, status=400 if failed else 200)
    if issued is not None:  # the secret is in this page: keep it out of every cache
        patch_cache_control(response, no_store=True, private=True)
    return response


@login_required
@require_POST
def account_language(request: UserRequest) -> HttpResponse:
    """The user menu's language switch: stored on the account, so every device follows."""
    form = LanguageForm(request.POST, instance=request.user)
    if form.is_valid():
        form.save()
    return redirect_back(request, reverse("core:home"))


@login_required
@require_POST
def token_revoke(request: UserRequest, token_id: int) -> HttpResponse:
    try:
        token = access_api_token(request.user, token_id)
    except NotFound:
        raise Http404 from None
    do_revoke_api_token(token)
    messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
    return redirect("core:account")


# --- Invitations -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Accept an invitation: as the signed-in invitee, or by creating the invited account."""
    try:
        invite = get_pending_invitation(token)
    except (NotFound, Conflict) as exc:
        return render(request, "core/invitation.html", {"error": exc.message}, status=exc.status)
    cast(OrgRequest, request).org = invite.org  # the page wears the inviting organisation's brand

    user = request.user if request.user.is_authenticated else None
    if user is not None:
        state = "accept" if user.email.lower() == invite.email else "wrong_account"
    else:
        state = "sign_in" if email_has_account(invite.email) else "create"
    form = InvitationAccountForm(request.POST if request.method == "POST" else None)
    error = None

    ready = state == "accept" or (state == "create" and form.is_valid())
    if request.method == "POST" and ready:
        try:
            if user is not None:
                membership = do_accept_invitation(token, user=user, ip=client_ip(request))
            else:
                membership = do_accept_invitation(
                    token,
                    user=None,
                    display_name=form.cleaned_data["display_name"],
                    password=form.cleaned_data["password"],
                    ip=client_ip(request),
                )
                login(request, membership.user, backend=PASSWORD_BACKEND)
        except (*CORRECTABLE, Forbidden) as exc:
            if state == "create":
                form.add_tack_error(exc)
            else:
                error = exc.message
        else:
            messages.success(request, _("Welcome to %(org)s!") % {"org": invite.org.display_name})
            return redirect("core:org_home", org_id=membership.org_id)

    context: dict[str, Any] = {"invitation": invite, "state": state, "form": form, "error": error}
    failed = error or form.errors
    return render(request, "core/invitation.html", context, status=400 if failed else 200)
