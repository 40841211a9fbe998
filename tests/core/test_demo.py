"""``manage.py demo``: a realistic organisation, built once, with a login that works."""

from __future__ import annotations

import re
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from core import demo
from core.demo import DemoContext, demo_step
from core.models import (
    AuditLogEntry,
    Department,
    DepartmentMember,
    Invitation,
    Membership,
    Organization,
    User,
)

ADMIN_EMAIL = "admin@northfield-dairy.example"


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


def run_demo(*args: str) -> str:
    out = StringIO()
    call_command("demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def printed_password(output: str) -> str:
    match = re.search(r"^  password: (\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def counts() -> dict[str, int]:
    return {
        "orgs": Organization.objects.count(),
        "users": User.objects.count(),
        "members": Membership.objects.count(),
        "departments": Department.objects.count(),
        "department_members": DepartmentMember.objects.count(),
        "invitations": Invitation.objects.count(),
        "audit": AuditLogEntry.objects.count(),
    }


@pytest.mark.django_db
def test_demo_builds_a_realistic_organisation():
    output = run_demo()  # (how long it takes is measured by hand, not asserted here)

    org = Organization.objects.get(slug="northfield-dairy")
    assert org.name == "Northfield Dairy Co."
    assert (org.edition, org.member_limit, org.brand_name) == (
        "professional",
        500,
        "Northfield Tack",
    )
    members = Membership.objects.filter(org=org, user__is_app=False).select_related("user")
    assert 25 <= members.count() <= 35
    assert f"Demo organisation: Northfield Dairy Co. ({members.count()} members)" in output
    assert "Log in at http://127.0.0.1:8000/login/" in output
    assert f"  e-mail:   {ADMIN_EMAIL}" in output

    owner = members.get(role="owner")
    assert owner.user.email == ADMIN_EMAIL
    assert members.filter(role="admin").count() == 2
    assert members.filter(role="guest").count() >= 2
    assert members.filter(status="suspended").count() == 1
    assert members.filter(user__locale="zh-hans").count() >= 3
    assert members.filter(title="Food Safety Inspector").exists()
    assert any("李伟" in m.user.display_name for m in members)
    staff = members.exclude(role="guest")
    assert all(m.user.email.endswith("@northfield-dairy.example") for m in staff)

    departments = Department.objects.filter(org=org)
    lab = departments.get(name="Lab")
    assert lab.parent.name == "Quality & Food Safety"
    assert {d.name for d in departments.get(name="Production").children.all()} == {
        "Milk Reception",
        "Processing",
        "Packaging",
    }
    managed = DepartmentMember.objects.filter(org=org, is_manager=True)
    assert managed.values("department").distinct().count() >= 10
    assert not DepartmentMember.objects.exclude(org=org).exists()

    pending = [i for i in Invitation.objects.filter(org=org) if i.state == "pending"]
    assert len(pending) == 1
    actions = set(AuditLogEntry.objects.filter(org=org).values_list("action", flat=True))
    assert {"org.create", "department.create", "department.member.add", "member.invite"} <= actions
    assert "member.suspend" in actions


@pytest.mark.django_db
def test_running_twice_creates_nothing_new():
    first_output = run_demo()
    first = counts()
    second_output = run_demo()
    assert counts() == first
    assert printed_password(second_output) == printed_password(first_output)


@pytest.mark.django_db
def test_password_file_is_private_and_reused(var_dir):
    password = printed_password(run_demo())
    path = var_dir / "demo_admin_password"
    assert path.read_text().strip() == password
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert printed_password(run_demo()) == password


@pytest.mark.django_db
def test_rerun_resets_a_changed_admin_password():
    password = printed_password(run_demo())
    admin = User.objects.get(email=ADMIN_EMAIL)
    admin.set_password("something-else-entirely")
    admin.save()
    run_demo()
    admin.refresh_from_db()
    assert admin.check_password(password)
    assert User.objects.get(email="li.wei@northfield-dairy.example").check_password(password)


@pytest.mark.django_db
def test_printed_login_signs_in_as_admin_and_as_members():
    password = printed_password(run_demo())
    for email in [ADMIN_EMAIL, "li.wei@northfield-dairy.example"]:
        client = Client()
        response = client.post("/login/", {"username": email, "password": password})
        assert response.status_code == 302, email
        assert client.session["_auth_user_id"] == str(User.objects.get(email=email).pk)


@pytest.mark.django_db
def test_url_option_sets_the_login_link():
    assert "Log in at https://tack.example.com/login/" in run_demo(
        "--url", "https://tack.example.com/"
    )


@pytest.mark.django_db
def test_apps_can_add_demo_steps(monkeypatch):
    monkeypatch.setattr(demo, "_steps", dict(demo._steps))
    seen: list[tuple[str, int]] = []

    @demo_step("tests.after-core", order=100)
    def after_core(ctx: DemoContext) -> None:
        seen.append((ctx.org.slug, len(ctx.departments)))
        ctx.extra["lab"] = ctx.departments["Lab"]

    run_demo()
    assert seen == [("northfield-dairy", Department.objects.count())]
