"""Shared fixtures: organisations, members in every role, authenticated API clients."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from core.actions import do_create_api_token, do_create_organization
from core.models import Membership, Organization, User

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and lockouts must not leak between tests."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
async def realtime():
    """Each async test has its own event loop, but the hub and channel layer live per process.

    A channels_redis layer refuses ``receive()`` from a second loop while one from an earlier
    (now closed) loop is still counted, so each test starts with a fresh layer and stops its
    hub before its loop closes. Production runs one loop per process and never needs this.
    Async tests that open sockets request it.
    """
    from channels.layers import channel_layers, get_channel_layer

    from core.realtime import hub

    channel_layers.backends.clear()
    yield
    await hub.stop()
    layer = get_channel_layer()
    if hasattr(layer, "close_pools"):
        await layer.close_pools()
    channel_layers.backends.clear()


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(
        email: str | None = None,
        *,
        name: str | None = None,
        password: str = "correct-horse-battery",
        **extra,
    ) -> User:
        n = next(_seq)
        return User.objects.create_user(
            email or f"user{n}@example.test", password, display_name=name or f"User {n}", **extra
        )

    return make


@pytest.fixture
def make_org(make_user) -> Callable[..., Organization]:
    def make(name: str | None = None, *, owner: User | None = None, **fields) -> Organization:
        return do_create_organization(
            owner or make_user(), name=name or f"Org {next(_seq)}", **fields
        )

    return make


@pytest.fixture
def add_member(make_user) -> Callable[..., Membership]:
    def add(
        org: Organization,
        role: str = "member",
        *,
        user: User | None = None,
        status: str = "active",
        **extra,
    ) -> Membership:
        return Membership.objects.create(
            org=org, user=user or make_user(), role=role, status=status, **extra
        )

    return add


@pytest.fixture
def org(make_org) -> Organization:
    return make_org("Acme Dairy")


@pytest.fixture
def owner(org) -> Membership:
    return Membership.objects.get(org=org, role="owner")


@pytest.fixture
def admin(org, add_member) -> Membership:
    return add_member(org, "admin")


@pytest.fixture
def member(org, add_member) -> Membership:
    return add_member(org, "member")


@pytest.fixture
def guest(org, add_member) -> Membership:
    return add_member(org, "guest")


@pytest.fixture
def other_org(make_org) -> Organization:
    return make_org("Other Corp")


@pytest.fixture
def outsider(other_org) -> Membership:
    """The owner of another organisation: the cross-organisation attacker."""
    return Membership.objects.get(org=other_org, role="owner")


@pytest.fixture
def api() -> Callable[[User | Membership | None], APIClient]:
    """``api(user_or_membership)`` → an APIClient authenticated with a real bearer token."""

    def make(who: User | Membership | None = None) -> APIClient:
        client = APIClient()
        if who is not None:
            user = who.user if isinstance(who, Membership) else who
            secret = do_create_api_token(user, name="test").secret
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture
def make_form(owner):
    """A published form with ``fields`` in a published app owned by ``owner``."""
    from lowcode.actions import do_create_app, do_create_form, do_publish_form

    def make(fields, *, name="Inspection", app=None, actor=None):
        actor = actor or owner
        app = app or do_create_app(actor, name=f"{name} app")
        form = do_create_form(actor, app, name=name, fields=fields)
        do_publish_form(actor, form)
        if not app.is_published:
            app.is_published = True
            app.save(update_fields=["is_published"])
        form.refresh_from_db()
        return form

    return make
