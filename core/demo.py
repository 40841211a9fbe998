"""Demo data: a realistic organisation to explore Tack with (``manage.py demo``).

The demo is a dairy, *Northfield Dairy Co.*, with a department tree, about thirty
members in every role, managers, a suspended member and a pending invitation.
Running it again creates nothing new: every step looks its objects up first.

**Adding demo data for another feature.** The demo is a list of *steps*. An
app adds its own in a module named ``demo.py`` (found like ``admin.py``), with
the ``demo_step`` decorator::

    # im/demo.py
    from core.demo import DemoContext, demo_step

    @demo_step("im.all-staff-chat", order=100)
    def all_staff_chat(ctx: DemoContext) -> None:
        ...  # look up first, create only what is missing, via im.actions

Steps run in ``order`` (core's are 10-49; features use 100 and up), inside one
transaction, after the organisation, its owner and the admin's password exist.
A step reads what earlier steps made from the context (``ctx.org``,
``ctx.owner``, ``ctx.departments["Lab"]``, ``ctx.members[email]``) and may leave
things for later steps in ``ctx.extra``. Write through the app's ``do_*``
actions where one fits, so the audit log and events look real; bulk ORM is
fine for rows no action creates. Steps must be idempotent and quick.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from core.actions import (
    do_add_department_member,
    do_create_department,
    do_create_organization,
    do_invite_member,
    do_set_member_status,
)
from core.models import Department, DepartmentMember, Invitation, Membership, Organization, User

Role = Membership.Role
Status = Membership.Status

ORG_SLUG = "northfield-dairy"
DOMAIN = "northfield-dairy.example"
ADMIN_EMAIL = f"admin@{DOMAIN}"
PASSWORD_FILE_NAME = "demo_admin_password"


# --- Steps registry ----------------------------------------------------------------


@dataclass
class DemoContext:
    """What the steps share.

    ``password`` is the demo admin's and every demo member's; ``password_hash`` is
    it hashed once per run (hashing is slow on purpose), for users a step creates.
    """

    org: Organization
    owner: Membership
    password: str
    password_hash: str
    log: Callable[[str], None]
    departments: dict[str, Department] = field(default_factory=dict)
    members: dict[str, Membership] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


DemoStepFunction = Callable[[DemoContext], None]


@dataclass(frozen=True)
class DemoStep:
    name: str
    order: int
    run: DemoStepFunction


_steps: dict[str, DemoStep] = {}


def demo_step(name: str, *, order: int) -> Callable[[DemoStepFunction], DemoStepFunction]:
    """Register ``function`` as the demo step ``name``; re-registering a name replaces it."""

    def register(function: DemoStepFunction) -> DemoStepFunction:
        _steps[name] = DemoStep(name, order, function)
        return function

    return register


def registered_steps() -> list[DemoStep]:
    """Every app's steps (their ``demo`` modules imported), in the order they run."""
    autodiscover_modules("demo")
    return sorted(_steps.values(), key=lambda step: (step.order, step.name))


# --- The organisation ------------------------------------------------------------------

DEPARTMENT_TREE: dict[str, list[str]] = {
    "Management": [],
    "Quality & Food Safety": ["Lab", "Inspection"],
    "Production": ["Milk Reception", "Processing", "Packaging"],
    "Logistics & Cold Chain": [],
    "Sales": ["North Region", "South Region"],
    "Finance": [],
    "HR": [],
    "IT": [],
}


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str
    title: str
    department: str | None = None
    role: str = Role.MEMBER
    manager: bool = False
    locale: str = User.Locale.EN
    status: str = Status.ACTIVE
    joined_days_ago: int = 400


def _at(local: str) -> str:
    return f"{local}@{DOMAIN}"


ZH = User.Locale.ZH_HANS

# fmt: off
ADMIN = DemoPerson(ADMIN_EMAIL, "Margaret Hale", "Managing Director", "Management", Role.OWNER,
                   manager=True, joined_days_ago=1460)
PEOPLE: list[DemoPerson] = [
    ADMIN,
    DemoPerson(_at("wang.fang"), "Wang Fang 王芳", "Operations Director", "Management",
               Role.ADMIN, locale=ZH, joined_days_ago=1300),
    DemoPerson(_at("james.okafor"), "James Okafor", "Head of IT", "IT", Role.ADMIN, True,
               joined_days_ago=1100),
    DemoPerson(_at("li.wei"), "Li Wei 李伟", "Head of Quality & Food Safety",
               "Quality & Food Safety", manager=True, locale=ZH, joined_days_ago=1250),
    DemoPerson(_at("sarah.lindqvist"), "Sarah Lindqvist", "Laboratory Supervisor", "Lab",
               manager=True, joined_days_ago=980),
    DemoPerson(_at("zhang.min"), "Zhang Min 张敏", "Microbiologist", "Lab", locale=ZH,
               joined_days_ago=640),
    DemoPerson(_at("tom.becker"), "Tom Becker", "Lab Technician", "Lab", joined_days_ago=300),
    DemoPerson(_at("liu.yang"), "Liu Yang 刘洋", "Senior Food Safety Inspector", "Inspection",
               manager=True, joined_days_ago=870),
    DemoPerson(_at("emma.walsh"), "Emma Walsh", "Food Safety Inspector", "Inspection",
               joined_days_ago=420),
    DemoPerson(_at("chen.hao"), "Chen Hao 陈浩", "Food Safety Inspector", "Inspection",
               joined_days_ago=210),
    DemoPerson(_at("david.moreau"), "David Moreau", "Plant Manager", "Production",
               manager=True, joined_days_ago=1400),
    DemoPerson(_at("zhao.lei"), "Zhao Lei 赵磊", "Milk Reception Lead", "Milk Reception",
               manager=True, locale=ZH, joined_days_ago=760),
    DemoPerson(_at("grace.murphy"), "Grace Murphy", "Milk Intake Operator", "Milk Reception",
               joined_days_ago=150),
    DemoPerson(_at("huang.jun"), "Huang Jun 黄俊", "Processing Supervisor", "Processing",
               manager=True, joined_days_ago=900),
    DemoPerson(_at("peter.novak"), "Peter Novak", "Pasteurisation Operator", "Processing",
               joined_days_ago=520),
    DemoPerson(_at("sun.li"), "Sun Li 孙丽", "Process Engineer", "Processing",
               joined_days_ago=330),
    DemoPerson(_at("olivia.grant"), "Olivia Grant", "Packaging Line Lead", "Packaging",
               manager=True, joined_days_ago=610),
    DemoPerson(_at("wu.qiang"), "Wu Qiang 吴强", "Packaging Operator", "Packaging",
               joined_days_ago=95),
    DemoPerson(_at("daniel.reyes"), "Daniel Reyes", "Logistics Manager",
               "Logistics & Cold Chain", manager=True, joined_days_ago=1020),
    DemoPerson(_at("xu.ming"), "Xu Ming 徐明", "Cold Chain Coordinator",
               "Logistics & Cold Chain", joined_days_ago=480),
    DemoPerson(_at("ryan.fletcher"), "Ryan Fletcher", "Delivery Driver",
               "Logistics & Cold Chain", status=Status.SUSPENDED, joined_days_ago=260),
    DemoPerson(_at("hannah.schmidt"), "Hannah Schmidt", "Head of Sales", "Sales",
               manager=True, joined_days_ago=1180),
    DemoPerson(_at("ma.jie"), "Ma Jie 马杰", "Regional Sales Manager, North", "North Region",
               manager=True, locale=ZH, joined_days_ago=690),
    DemoPerson(_at("lucy.bennett"), "Lucy Bennett", "Key Account Manager", "North Region",
               joined_days_ago=240),
    DemoPerson(_at("he.yan"), "He Yan 何燕", "Regional Sales Manager, South", "South Region",
               manager=True, joined_days_ago=720),
    DemoPerson(_at("robert.king"), "Robert King", "Finance Manager", "Finance",
               manager=True, joined_days_ago=1350),
    DemoPerson(_at("guo.xin"), "Guo Xin 郭欣", "Accountant", "Finance", joined_days_ago=380),
    DemoPerson(_at("amelia.hughes"), "Amelia Hughes", "HR Business Partner", "HR",
               manager=True, joined_days_ago=940),
    DemoPerson("priya.nair@clearwater-assurance.example", "Priya Nair",
               "External Food Safety Auditor, Clearwater Assurance", role=Role.GUEST,
               joined_days_ago=60),
    DemoPerson("lin.tao@everpack.example", "Lin Tao 林涛",
               "Supplier Account Manager, EverPack Packaging", role=Role.GUEST, locale=ZH,
               joined_days_ago=45),
]
# fmt: on

PENDING_INVITATIONS: list[tuple[str, str]] = [(_at("zhou.xue"), Role.MEMBER)]


# --- Password ----------------------------------------------------------------------------

_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _new_password() -> str:
    """Four groups of four unambiguous characters, e.g. ``k7qm-x2vd-9hrt-c4wn``."""
    groups = ("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


def password_file() -> Path:
    return Path(settings.VAR_DIR) / PASSWORD_FILE_NAME


def load_or_create_password() -> str:
    """The demo password from ``<VAR_DIR>/demo_admin_password``, made (mode 0600) if missing."""
    path = password_file()
    if path.exists():
        password = path.read_text().strip()
        if password:
            return password
    password = _new_password()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
    path.chmod(0o600)
    return password


# --- Core steps --------------------------------------------------------------------------


def ensure_organization(password: str, log: Callable[[str], None]) -> DemoContext:
    """The demo admin (password reset to ``password``), the organisation and its owner."""
    admin = User.objects.filter(email=ADMIN_EMAIL).first()
    password_hash = make_password(password)
    if admin is None:
        admin = User(email=ADMIN_EMAIL, display_name=ADMIN.name, password=password_hash)
        admin.save()
    elif not admin.check_password(password):
        # Changed in the app, or a new password file: reset every demo member's so
        # the printed login works.
        emails = [person.email for person in PEOPLE]
        User.objects.filter(email__in=emails).update(password=password_hash)
        admin.refresh_from_db()
    if not admin.is_active:
        admin.is_active = True
        admin.save(update_fields=["is_active"])

    org = Organization.objects.filter(slug=ORG_SLUG).first()
    if org is None:
        org = do_create_organization(
            admin,
            name="Northfield Dairy Co.",
            slug=ORG_SLUG,
            edition=Organization.Edition.PROFESSIONAL,
            member_limit=500,
            brand_name="Northfield Tack",
            brand_color="#0f766e",
        )
        log(f"Created organisation {org.name}")
    owner, _ = Membership.objects.get_or_create(
        org=org, user=admin, defaults={"role": Role.OWNER, "status": Status.ACTIVE}
    )
    if (owner.role, owner.status, owner.title) != (Role.OWNER, Status.ACTIVE, ADMIN.title):
        owner.role, owner.status, owner.title = Role.OWNER, Status.ACTIVE, ADMIN.title
        owner.save(update_fields=["role", "status", "title"])
    return DemoContext(
        org=org, owner=owner, password=password, log=log, password_hash=password_hash
    )


def _walk_tree(tree: dict[str, list[str]]) -> Iterator[tuple[str, str | None]]:
    for root, children in tree.items():
        yield root, None
        for child in children:
            yield child, root


@demo_step("core.departments", order=10)
def ensure_departments(ctx: DemoContext) -> None:
    existing = {(d.parent_id, d.name): d for d in Department.objects.filter(org=ctx.org)}
    for name, parent_name in _walk_tree(DEPARTMENT_TREE):
        parent = ctx.departments[parent_name] if parent_name else None
        department = existing.get((parent.pk if parent else None, name))
        if department is None:
            department = do_create_department(ctx.owner, name=name, parent=parent)
            ctx.log(f"Created department {name}")
        ctx.departments[name] = department


@demo_step("core.members", order=20)
def ensure_members(ctx: DemoContext) -> None:
    """Users and memberships in bulk (no action adds a member without an invitation)."""
    people = [person for person in PEOPLE if person.email != ADMIN_EMAIL]
    users = {u.email: u for u in User.objects.filter(email__in=[p.email for p in people])}
    new_users = [
        User(
            email=p.email,
            display_name=p.name,
            locale=p.locale,
            password=ctx.password_hash,
            date_joined=timezone.now() - timedelta(days=p.joined_days_ago),
        )
        for p in people
        if p.email not in users
    ]
    for user in User.objects.bulk_create(new_users):
        users[user.email] = user
    if new_users:
        ctx.log(f"Created {len(new_users)} users")

    memberships = {
        m.user.email: m
        for m in Membership.objects.filter(org=ctx.org, user__in=users.values()).select_related(
            "user"
        )
    }
    new_memberships = [
        Membership(
            org=ctx.org,
            user=users[p.email],
            role=p.role,
            title=p.title,
            status=Status.ACTIVE,  # suspensions go through the action below
            joined_at=timezone.now() - timedelta(days=p.joined_days_ago),
        )
        for p in people
        if p.email not in memberships
    ]
    for membership in Membership.objects.bulk_create(new_memberships):
        memberships[membership.user.email] = membership
    if new_memberships:
        ctx.log(f"Added {len(new_memberships)} members")

    ctx.members[ADMIN_EMAIL] = ctx.owner
    ctx.members.update(memberships)
    for person in people:
        membership = ctx.members[person.email]
        if person.status == Status.SUSPENDED and membership.status == Status.ACTIVE:
            ctx.members[person.email] = do_set_member_status(
                ctx.owner, membership, Status.SUSPENDED
            )
            ctx.log(f"Suspended {person.name}")


@demo_step("core.department-members", order=30)
def ensure_department_members(ctx: DemoContext) -> None:
    linked = set(
        DepartmentMember.objects.filter(org=ctx.org).values_list("department_id", "membership_id")
    )
    for person in PEOPLE:
        if person.department is None:
            continue
        department = ctx.departments[person.department]
        membership = ctx.members[person.email]
        if (department.pk, membership.pk) not in linked:
            do_add_department_member(ctx.owner, department, membership, is_manager=person.manager)


@demo_step("core.invitations", order=40)
def ensure_pending_invitations(ctx: DemoContext) -> None:
    """Invite once; a pending invitation is never sent again."""
    for email, role in PENDING_INVITATIONS:
        pending = Invitation.objects.filter(
            org=ctx.org,
            email=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        joined = Membership.objects.filter(org=ctx.org, user__email=email)
        if not pending.exists() and not joined.exists():
            do_invite_member(ctx.owner, email=email, role=role)
            ctx.log(f"Invited {email}")


# --- Running -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoResult:
    org: Organization
    member_count: int
    admin_email: str
    password: str
    #: ``(label, path)`` pairs steps add to ``ctx.extra["links"]``, printed by ``manage.py demo``.
    links: tuple[tuple[str, str], ...] = ()


def run_demo(
    *,
    log: Callable[[str], None] = lambda message: None,
    warn: Callable[[str], None] = lambda message: None,
) -> DemoResult:
    """Build (or top up) the demo organisation; safe to run any number of times.

    The steps run in one transaction. Their follow-up work (e-mails, events) runs
    after it commits; if that fails the data is still complete, so it is reported
    through ``warn`` instead of failing the demo.
    """
    password = load_or_create_password()
    steps = registered_steps()
    committed: list[bool] = []
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(True))  # runs first after commit
            ctx = ensure_organization(password, log)
            for step in steps:
                step.run(ctx)
    except Exception as exc:
        if not committed:
            raise
        warn(f"The demo data is saved, but a follow-up task failed: {type(exc).__name__}: {exc}")
    member_count = Membership.objects.filter(org=ctx.org, user__is_app=False).count()
    links = tuple(ctx.extra.get("links", ()))
    return DemoResult(ctx.org, member_count, ADMIN_EMAIL, password, links)


from core.metrics import demo as _metrics_demo  # noqa: E402,F401  (registers its demo step)
