"""The server-rendered web UI: branding, tenancy, permissions, invitations, i18n."""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from PIL import Image

from core.actions import do_add_department_member, do_create_department, do_invite_member
from core.models import ApiToken, Department, DepartmentMember, Membership, Organization, User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def client_for(who: Membership | User) -> Client:
    client = Client()
    client.force_login(who.user if isinstance(who, Membership) else who)
    return client


def url(name: str, *args: object) -> str:
    return reverse(f"core:{name}", args=args)


def page_text(response) -> str:
    return response.content.decode()


# --- Entry and sign-in ---------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_login(org):
    client = Client()
    assert client.get("/").url.startswith(url("login"))
    response = client.get(url("members", org.pk))
    assert response.status_code == 302
    assert response.url.startswith(url("login"))


def test_home_goes_to_the_most_recently_used_organisation(owner, make_org):
    second = make_org("Second Org", owner=owner.user)
    client = client_for(owner)
    client.get(url("org_home", second.pk))
    assert client.get("/").url == url("org_home", second.pk)
    client.get(url("org_home", owner.org_id))
    assert client.get("/").url == url("org_home", owner.org_id)


def test_user_without_organisation_is_offered_to_create_one(make_user):
    client = client_for(make_user())
    response = client.get("/")
    assert response.url == url("org_create")
    response = client.post(url("org_create"), {"name": "Harbour Logistics"})
    org = Organization.objects.get(name="Harbour Logistics")
    assert response.url == url("org_home", org.pk)
    assert Membership.objects.get(org=org).role == "owner"


def test_login_page_renders_and_wrong_password_shows_error(make_user):
    make_user("ada@example.test")
    client = Client()
    response = client.get(url("login"))
    assert response.status_code == 200
    assert "Sign in" in page_text(response)
    response = client.post(url("login"), {"username": "ada@example.test", "password": "nope"})
    assert response.status_code == 200
    assert "do not match an account" in page_text(response)
    assert "_auth_user_id" not in client.session


def test_login_follows_next(make_user, org):
    user = make_user("bob@example.test")
    Membership.objects.create(org=org, user=user, role="member")
    target = url("members", org.pk)
    response = Client().post(
        f"{url('login')}?next={target}",
        {"username": "bob@example.test", "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert response.url == target


def test_repeated_failures_lock_the_account_out(make_user, settings):
    make_user("eve@example.test")
    client = Client()
    responses = [
        client.post(url("login"), {"username": "eve@example.test", "password": "wrong"})
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert responses[-1].status_code == 429
    assert "Too many failed logins" in page_text(responses[-1])
    # Even the right password is refused while locked.
    response = client.post(url("login"), {"username": "eve@example.test", "password": PASSWORD})
    assert response.status_code == 429


def test_logout_is_a_post(owner):
    client = client_for(owner)
    assert client.get(url("logout")).status_code == 405
    response = client.post(url("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


# --- Branding ------------------------------------------------------------------------------


def with_brand_css(client, html):
    """The page and the organisation stylesheet it links (colours travel there, not inline)."""
    import re

    found = re.search(r'href="(/brand/\d+\.css\?v=[0-9a-f]{6})"', html)
    assert found, "the page links no brand stylesheet"
    return html + client.get(found.group(1)).content.decode()


def test_org_pages_carry_the_organisations_branding(org, owner, member):
    org.brand_name = "Dairy Hub"
    org.brand_color = "#ff5500"
    org.save()
    for path in (url("org_home", org.pk), url("members", org.pk), url("departments", org.pk)):
        client = client_for(member)
        response = client.get(path)
        html = with_brand_css(client, page_text(response))
        assert response.status_code == 200
        assert "--brand: #ff5500" in html
        assert "Dairy Hub" in html


def test_light_brand_colour_gets_dark_text(org, owner):
    org.brand_color = "#ffe066"
    org.save()
    client = client_for(owner)
    html = with_brand_css(client, page_text(client.get(url("org_home", org.pk))))
    assert "--brand-on: #111827" in html


def test_login_page_is_branded_as_tack():
    html = page_text(Client().get(url("login")))
    assert "/brand/" not in html  # Tack's own colours: the defaults in tack.css
    assert "Tack" in html


def test_logo_upload_shows_on_pages(org, owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    image = io.BytesIO()
    Image.new("RGB", (32, 32), "#118833").save(image, "PNG")
    image.name = "logo.png"
    image.seek(0)
    client = client_for(owner)
    response = client.post(
        url("org_settings", org.pk),
        {"name": org.name, "brand_name": "Moo", "brand_color": "#118833", "brand_logo": image},
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.brand_logo.name.startswith("org-logos/")
    html = with_brand_css(client, page_text(client.get(response.url)))
    assert org.brand_logo.url in html
    assert "--brand: #118833" in html
    assert "Moo" in html


def test_settings_reject_a_bad_colour(org, owner):
    response = client_for(owner).post(
        url("org_settings", org.pk), {"name": org.name, "brand_color": "red"}
    )
    assert response.status_code == 400
    org.refresh_from_db()
    assert org.brand_color == "#1f6feb"


# --- Tenancy -------------------------------------------------------------------------------


def test_member_cannot_open_another_organisations_pages(member, other_org):
    client = client_for(member)
    for name in ("org_home", "members", "departments", "org_settings"):
        response = client.get(url(name, other_org.pk))
        assert response.status_code == 404, name
        assert "Page not found" in page_text(response)


def test_member_of_another_org_is_not_reachable_by_id(org, owner, outsider):
    client = client_for(owner)
    response = client.post(url("member_role", org.pk, outsider.pk), {"role": "guest"})
    assert response.status_code == 404
    outsider.refresh_from_db()
    assert outsider.role == "owner"


def test_other_organisations_department_is_not_reachable(org, owner, outsider, other_org):
    department = do_create_department(outsider, name="Secret Lab")
    client = client_for(owner)
    assert client.get(url("department", org.pk, department.pk)).status_code == 404
    response = client.post(url("department_delete", org.pk, department.pk))
    assert response.status_code == 404
    assert Department.objects.filter(pk=department.pk).exists()


def test_suspended_member_loses_access(org, member):
    member.status = "suspended"
    member.save()
    assert client_for(member).get(url("org_home", org.pk)).status_code == 404


# --- Members -------------------------------------------------------------------------------


@pytest.fixture
def directory(org, owner, add_member, make_user):
    """A small directory: departments and members in several roles and statuses."""
    sales = do_create_department(owner, name="Sales")
    quality = do_create_department(owner, name="Quality")
    alice = add_member(org, "admin", user=make_user("alice@example.test", name="Alice Zhang"))
    bob = add_member(org, "member", user=make_user("bob@example.test", name="Bob Li"))
    carol = add_member(
        org, "member", user=make_user("carol@example.test", name="Carol Wu"), status="suspended"
    )
    do_add_department_member(owner, sales, alice, is_manager=True)
    do_add_department_member(owner, sales, bob)
    do_add_department_member(owner, quality, carol)
    return {"sales": sales, "quality": quality, "alice": alice, "bob": bob, "carol": carol}


def names_in(response) -> set[str]:
    return set(re.findall(r'<div class="person-name">([^<]+?)\s*(?:<|$)', page_text(response)))


def test_members_page_filters(org, owner, directory):
    client = client_for(owner)
    path = url("members", org.pk)
    everyone = names_in(client.get(path))
    assert {"Alice Zhang", "Bob Li", "Carol Wu"} <= everyone
    assert names_in(client.get(path, {"role": "admin"})) == {"Alice Zhang"}
    assert names_in(client.get(path, {"status": "suspended"})) == {"Carol Wu"}
    assert names_in(client.get(path, {"department": directory["sales"].pk})) == {
        "Alice Zhang",
        "Bob Li",
    }
    assert names_in(client.get(path, {"q": "carol@"})) == {"Carol Wu"}
    assert names_in(client.get(path, {"q": "nobody-matches"})) == set()
    assert "No members match" in page_text(client.get(path, {"q": "nobody-matches"}))


def test_members_filter_with_htmx_returns_only_the_table(org, owner, directory):
    response = client_for(owner).get(
        url("members", org.pk),
        {"role": "admin"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="member-table",
    )
    html = page_text(response)
    assert html.lstrip().startswith('<div id="member-table"')
    assert "<html" not in html
    assert names_in(response) == {"Alice Zhang"}


def test_bad_filter_values_are_ignored(org, owner, directory):
    response = client_for(owner).get(url("members", org.pk), {"department": "x", "role": "king"})
    assert response.status_code == 200
    assert "Bob Li" in page_text(response)


def test_member_sees_no_admin_controls(org, member, directory):
    html = page_text(client_for(member).get(url("members", org.pk)))
    assert "Bob Li" in html
    assert "Send invitation" not in html
    assert "/role/" not in html
    assert "/remove/" not in html
    assert "/status/" not in html
    assert url("org_settings", org.pk) not in html


def test_forged_admin_posts_by_a_member_are_refused(org, member, directory):
    client = client_for(member)
    bob = directory["bob"]

    response = client.post(url("member_role", org.pk, bob.pk), {"role": "admin"})
    assert response.status_code == 403
    assert "Your role does not allow this" in page_text(response)
    bob.refresh_from_db()
    assert bob.role == "member"

    response = client.post(url("member_status", org.pk, bob.pk), {"status": "suspended"})
    assert response.status_code == 403
    response = client.post(url("member_remove", org.pk, bob.pk))
    assert response.status_code == 403
    assert Membership.objects.filter(pk=bob.pk, status="active").exists()

    response = client.post(url("members", org.pk), {"email": "x@example.test", "role": "member"})
    assert response.status_code == 403
    assert not mail.outbox

    response = client.post(url("departments", org.pk), {"name": "Rogue"})
    assert response.status_code == 403
    assert not Department.objects.filter(name="Rogue").exists()

    response = client.post(url("org_settings", org.pk), {"name": "Hijacked"})
    assert response.status_code == 403
    org.refresh_from_db()
    assert org.name == "Acme Dairy"


def test_guest_cannot_see_the_directory(org, guest):
    client = client_for(guest)
    home = page_text(client.get(url("org_home", org.pk)))
    assert url("members", org.pk) not in home
    assert client.get(url("members", org.pk)).status_code == 403
    assert client.get(url("departments", org.pk)).status_code == 403


def test_admin_changes_role_suspends_and_removes(org, admin, directory):
    client = client_for(admin)
    bob = directory["bob"]
    response = client.post(url("member_role", org.pk, bob.pk), {"role": "guest"}, follow=True)
    assert "Bob Li is now Guest." in page_text(response)
    bob.refresh_from_db()
    assert bob.role == "guest"

    client.post(url("member_status", org.pk, bob.pk), {"status": "suspended"})
    bob.refresh_from_db()
    assert bob.status == "suspended"
    client.post(url("member_status", org.pk, bob.pk), {"status": "active"})
    bob.refresh_from_db()
    assert bob.status == "active"

    client.post(url("member_remove", org.pk, bob.pk))
    assert not Membership.objects.filter(pk=bob.pk).exists()


def test_admin_cannot_touch_an_owner(org, admin, owner):
    response = client_for(admin).post(url("member_role", org.pk, owner.pk), {"role": "member"})
    assert response.status_code == 403
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_last_owner_refusal_is_shown(org, owner, admin):
    # The owner cannot demote themselves from the page (no control), but a forged post explains.
    client = client_for(owner)
    response = client.post(url("member_role", org.pk, owner.pk), {"role": "admin"}, follow=True)
    assert "last owner" in page_text(response)
    owner.refresh_from_db()
    assert owner.role == "owner"


# --- Invitations ---------------------------------------------------------------------------


def invite_token_from_mail() -> str:
    assert len(mail.outbox) == 1
    match = re.search(r"/invite/([^/\s]+)/", mail.outbox[0].body)
    assert match
    return match.group(1)


def test_invite_then_accept_with_a_new_account(org, admin, django_capture_on_commit_callbacks):
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("members", org.pk), {"email": "New.Person@Example.test", "role": "member"}
        )
    assert response.status_code == 302
    assert mail.outbox[0].subject == "You are invited to join Acme Dairy"
    token = invite_token_from_mail()
    members_page = page_text(client.get(response.url))
    assert f"/invite/{token}/" in members_page  # shown once to copy
    assert "new.person@example.test" in members_page  # pending invitations

    visitor = Client()
    page = page_text(visitor.get(url("invitation", token)))
    assert "Join Acme Dairy" in page
    assert admin.user.display_name in page
    assert "Create account and join" in page

    weak = visitor.post(
        url("invitation", token),
        {"display_name": "New Person", "password": "short", "password_again": "short"},
    )
    assert weak.status_code == 400
    assert not User.objects.filter(email="new.person@example.test").exists()

    password = "a-long-unique-passphrase-42"
    response = visitor.post(
        url("invitation", token),
        {"display_name": "New Person", "password": password, "password_again": password},
    )
    assert response.status_code == 302
    assert response.url == url("org_home", org.pk)
    user = User.objects.get(email="new.person@example.test")
    assert Membership.objects.get(org=org, user=user).status == "active"
    home = visitor.get(response.url)
    assert home.status_code == 200
    assert "Welcome to Acme Dairy!" in page_text(home)

    used = visitor.get(url("invitation", token))
    assert used.status_code == 409
    assert "already been used" in page_text(used)


def test_invitation_for_existing_account_asks_to_sign_in(org, admin, make_user):
    user = make_user("known@example.test")
    token = do_invite_member(admin, email="known@example.test").token
    page = page_text(Client().get(url("invitation", token)))
    assert "Sign in to accept" in page
    assert f"?next=/invite/{token}/" in page

    client = client_for(user)
    assert "Join Acme Dairy" in page_text(client.get(url("invitation", token)))
    response = client.post(url("invitation", token))
    assert response.url == url("org_home", org.pk)
    assert Membership.objects.filter(org=org, user=user, status="active").exists()


def test_invitation_opened_by_another_account(org, admin, make_user):
    token = do_invite_member(admin, email="right@example.test").token
    wrong = make_user("wrong@example.test")
    client = client_for(wrong)
    page = page_text(client.get(url("invitation", token)))
    assert "this invitation is for right@example.test" in page
    client.post(url("invitation", token))
    assert not Membership.objects.filter(org=org, user=wrong).exists()


def test_invalid_and_withdrawn_invitations_say_so(org, admin):
    response = Client().get(url("invitation", "not-a-real-token"))
    assert response.status_code == 404
    assert "not valid" in page_text(response)

    issued = do_invite_member(admin, email="late@example.test")
    client_for(admin).post(url("invitation_revoke", org.pk, issued.invitation.pk))
    response = Client().get(url("invitation", issued.token))
    assert response.status_code == 409
    assert "withdrawn" in page_text(response)


# --- Departments ---------------------------------------------------------------------------


def test_admin_manages_departments(org, admin, member):
    client = client_for(admin)
    response = client.post(url("departments", org.pk), {"name": "Operations"})
    ops = Department.objects.get(org=org, name="Operations")
    assert response.url == url("department", org.pk, ops.pk)
    client.post(url("departments", org.pk), {"name": "Dock", "parent": ops.pk})
    dock = Department.objects.get(org=org, name="Dock")
    assert dock.parent_id == ops.pk

    client.post(url("department", org.pk, dock.pk), {"name": "Loading dock", "parent": ""})
    dock.refresh_from_db()
    assert (dock.name, dock.parent_id) == ("Loading dock", None)

    client.post(url("department_member_add", org.pk, ops.pk), {"member": member.pk})
    link = DepartmentMember.objects.get(department=ops, membership=member)
    assert not link.is_manager
    client.post(url("department_member_manager", org.pk, ops.pk, member.pk), {"is_manager": "on"})
    link.refresh_from_db()
    assert link.is_manager
    page = page_text(client.get(url("department", org.pk, ops.pk)))
    assert member.user.display_name in page
    assert "Unmark manager" in page

    client.post(url("department_member_remove", org.pk, ops.pk, member.pk))
    assert not DepartmentMember.objects.filter(department=ops).exists()


def test_department_cannot_move_under_itself(org, owner):
    parent = do_create_department(owner, name="Parent")
    child = do_create_department(owner, name="Child", parent=parent)
    response = client_for(owner).post(
        url("department", org.pk, parent.pk), {"name": "Parent", "parent": child.pk}
    )
    assert response.status_code == 400
    parent.refresh_from_db()
    assert parent.parent_id is None


def test_duplicate_department_name_is_shown_on_the_form(org, owner):
    do_create_department(owner, name="Sales")
    response = client_for(owner).post(url("departments", org.pk), {"name": "Sales"})
    assert response.status_code == 400
    assert "already exists" in page_text(response)


def test_deleting_a_non_empty_department_is_refused_with_its_reason(org, owner, member):
    department = do_create_department(owner, name="Busy")
    do_add_department_member(owner, department, member)
    response = client_for(owner).post(url("department_delete", org.pk, department.pk), follow=True)
    assert "Only an empty department can be deleted" in page_text(response)
    assert Department.objects.filter(pk=department.pk).exists()

    empty = do_create_department(owner, name="Empty")
    response = client_for(owner).post(url("department_delete", org.pk, empty.pk))
    assert response.url == url("departments", org.pk)
    assert not Department.objects.filter(pk=empty.pk).exists()


def test_member_sees_the_tree_without_controls(org, owner, member):
    department = do_create_department(owner, name="Sales")
    html = page_text(client_for(member).get(url("department", org.pk, department.pk)))
    assert "Sales" in html
    assert "Create department" not in html
    assert "Delete this department" not in html
    assert "Add to department" not in html


# --- Language ------------------------------------------------------------------------------


def test_chinese_locale_shows_chinese_pages(org, owner):
    owner.user.locale = "zh-hans"
    owner.user.save()
    html = page_text(client_for(owner).get(url("org_home", org.pk)))
    assert '<html lang="zh-hans">' in html
    assert "成员" in html  # "Members"
    assert "即将推出" in html  # "Coming soon"
    assert "Coming soon" not in html


def test_language_switch_is_stored_on_the_account(org, owner):
    client = client_for(owner)
    home = url("org_home", org.pk)
    response = client.post(url("account_language"), {"locale": "zh-hans", "next": home})
    assert response.url == home
    owner.user.refresh_from_db()
    assert owner.user.locale == "zh-hans"
    assert "部门" in page_text(client.get(home))  # "Departments"


def test_domain_errors_are_translated(org, owner, member):
    owner.user.locale = "zh-hans"
    owner.user.save()
    department = do_create_department(owner, name="Busy")
    do_add_department_member(owner, department, member)
    response = client_for(owner).post(url("department_delete", org.pk, department.pk), follow=True)
    assert "只能删除空部门" in page_text(response)


def test_invitation_email_is_in_the_inviters_language(
    org, admin, django_capture_on_commit_callbacks
):
    admin.user.locale = "zh-hans"
    admin.user.save()
    with django_capture_on_commit_callbacks(execute=True):
        do_invite_member(admin, email="li@example.test")
    assert mail.outbox[0].subject == "邀请你加入 Acme Dairy"
    assert "打开以下链接接受邀请" in mail.outbox[0].body


def test_anonymous_language_switch_on_the_login_page():
    client = Client()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": url("login")})
    assert "登录" in page_text(client.get(url("login")))


# --- Account -------------------------------------------------------------------------------


def test_profile_and_password_change(owner):
    client = client_for(owner)
    client.post(url("account"), {"form": "profile", "display_name": "Ada L.", "locale": "en"})
    owner.user.refresh_from_db()
    assert owner.user.display_name == "Ada L."

    wrong = client.post(
        url("account"),
        {
            "form": "password",
            "current_password": "nope",
            "new_password": "another-long-passphrase-7",
            "new_password_again": "another-long-passphrase-7",
        },
    )
    assert wrong.status_code == 400
    assert "Wrong password." in page_text(wrong)

    ok = client.post(
        url("account"),
        {
            "form": "password",
            "current_password": PASSWORD,
            "new_password": "another-long-passphrase-7",
            "new_password_again": "another-long-passphrase-7",
        },
    )
    assert ok.status_code == 302
    owner.user.refresh_from_db()
    assert owner.user.check_password("another-long-passphrase-7")
    assert client.get(url("account")).status_code == 200  # session survives the change


def test_api_token_secret_is_shown_once_and_can_be_revoked(owner, member):
    client = client_for(owner)
    response = client.post(url("account"), {"form": "token", "name": "CI", "expires_in_days": "30"})
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=owner.user, name="CI")
    secret = re.search(r'value="(tack_[^"]+)"', page_text(response)).group(1)
    assert secret.startswith(token.prefix)
    assert secret not in page_text(client.get(url("account")))

    other = client_for(member).post(url("token_revoke", token.pk))
    assert other.status_code == 404
    client.post(url("token_revoke", token.pk))
    token.refresh_from_db()
    assert token.revoked_at is not None


# --- Error pages ---------------------------------------------------------------------------


def test_unknown_page_renders_the_404_template():
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in page_text(response)
