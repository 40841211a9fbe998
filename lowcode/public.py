"""Public links: people outside the organisation fill in a form at ``/f/<token>/``.

A link belongs to one form, expires (7 days by default, 365 at most), may be revoked,
and may stop after a number of submissions. Only the SHA-256 of its token is stored
(like invitations); the URL is shown once, when the link is created. Submissions are
rate-limited per link and visitor IP, and per link, with counters in the Django cache.

Fields that need an account or the organisation's data (members, departments, files,
images, relations to other records) and sub-tables (they need a script to add rows)
are not offered on public links: a link cannot be created for a form that requires one
of them, and optional ones are left off the public page.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from core.access import as_id
from core.audit import record_audit
from core.auth import hash_token
from core.errors import Conflict, NotFound, TackError, ValidationFailed
from core.models import Membership, Organization
from core.security.policies import check_external_sharing
from lowcode.access import app_levels, check_app_level
from lowcode.actions import do_create_record
from lowcode.models import Form, PublicLink, Record
from lowcode.qr import base_url
from lowcode.registries import ValueContext, field_type_registry
from lowcode.schema import normalize_object

#: Field types a visitor without an account cannot fill in on a plain HTML page.
NOT_PUBLIC_TYPES = frozenset(
    {"member", "department", "attachment", "image", "relation", "sub_table"}
)
DEFAULT_DAYS = 7
MAX_DAYS = 365
#: (submissions, seconds) per link and visitor IP, and per link.
RATE_PER_IP = (20, 600)
RATE_PER_LINK = (500, 3600)


class RateLimited(TackError):
    status = 429
    code = "throttled"


def public_links_allowed(org: Organization) -> bool:
    """Whether the organisation's security policy allows sharing forms outside it."""
    from core.security.policies import external_sharing_allowed

    return external_sharing_allowed(org.pk)


def public_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fields a public page offers: inputs a visitor can fill in."""
    offered = []
    for definition in fields:
        ftype = field_type_registry.get(definition["type"])
        if ftype.read_only or ftype.virtual_column or definition["type"] in NOT_PUBLIC_TYPES:
            continue
        offered.append(definition)
    return offered


def link_state(link: PublicLink, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    if link.max_submissions is not None and link.submission_count >= link.max_submissions:
        return "full"
    return "active"


def link_url(token: str, request: HttpRequest | None = None) -> str:
    return f"{base_url(request)}/f/{token}/"


# --- managing links ------------------------------------------------------------------------


def _check_form_is_shareable(form: Form) -> list[dict[str, Any]]:
    if form.published_version is None:
        raise Conflict(_("Publish the form before sharing it."), code="form_not_published")
    if not public_links_allowed(form.org):
        raise Conflict(
            _("This organisation does not allow sharing outside it."), code="sharing_disabled"
        )
    blocked = [
        f["label"]
        for f in form.published_version.fields
        if f.get("required") and f["type"] in NOT_PUBLIC_TYPES
    ]
    if blocked:
        raise ValidationFailed(
            _(
                "People outside the organisation cannot fill in %(fields)s (members, "
                "departments, files, relations and sub-tables need an account). Make those "
                "fields optional to share this form."
            )
            % {"fields": ", ".join(blocked)},
            code="not_shareable",
            fields={"form": [_("Required fields that cannot be filled in publicly.")]},
        )
    return public_fields(form.published_version.fields)


def _check_expiry(expires_at: datetime | None, expires_in_days: int | None) -> datetime:
    now = timezone.now()
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            expires_at = timezone.make_aware(expires_at)
        if expires_at <= now or expires_at > now + timedelta(days=MAX_DAYS):
            raise ValidationFailed(
                _("A link expires within %(n)s days from now.") % {"n": MAX_DAYS},
                fields={"expires_at": [_("Out of range.")]},
            )
        return expires_at
    days = DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            _("A link expires within %(n)s days from now.") % {"n": MAX_DAYS},
            fields={"expires_in_days": [_("Use 1 to %(n)s.") % {"n": MAX_DAYS}]},
        )
    return now + timedelta(days=days)


def _check_prefill(form: Form, offered: list[dict[str, Any]], prefill: Any) -> dict[str, Any]:
    if not prefill:
        return {}
    if not isinstance(prefill, dict) or len(prefill) > 50:
        raise ValidationFailed(
            _("Pre-filled values must be an object."),
            fields={"prefill": [_("Expected an object.")]},
        )
    keys = {f["key"] for f in offered}
    errors = {
        f"prefill.{k}": [_("Not a field offered on public links.")]
        for k in prefill
        if k not in keys
    }
    if errors:
        raise ValidationFailed(_("Some pre-filled values are not valid."), fields=errors)
    optional = [{**f, "required": False} for f in offered]
    ctx = ValueContext(org_id=form.org_id)
    cleaned, problems = normalize_object(optional, prefill, ctx, "prefill.")
    if problems:
        raise ValidationFailed(_("Some pre-filled values are not valid."), fields=problems)
    return cleaned


@transaction.atomic
def do_create_public_link(
    actor: Membership,
    form: Form,
    *,
    name: str = "",
    expires_at: datetime | None = None,
    expires_in_days: int | None = None,
    max_submissions: int | None = None,
    prefill: dict[str, Any] | None = None,
    ip: str | None = None,
) -> tuple[PublicLink, str]:
    """A new link and its raw token (shown once)."""
    check_app_level(actor, form.app, "manage")
    check_external_sharing(actor.org_id)
    offered = _check_form_is_shareable(form)
    if max_submissions is not None and (
        isinstance(max_submissions, bool) or not 1 <= max_submissions <= 1_000_000
    ):
        raise ValidationFailed(
            _("Allow 1 to 1,000,000 submissions, or no limit."),
            fields={"max_submissions": [_("Out of range.")]},
        )
    token = secrets.token_urlsafe(32)
    link = PublicLink.objects.create(
        org_id=form.org_id,
        form=form,
        name=(name or "").strip()[:80],
        token_hash=hash_token(token),
        prefix=token[:8],
        prefill=_check_prefill(form, offered, prefill),
        max_submissions=max_submissions,
        created_by=actor,
        expires_at=_check_expiry(expires_at, expires_in_days),
    )
    record_audit(
        actor.org, actor.user, "lowcode.public_link.create", link, data={"form": form.pk}, ip=ip
    )
    return link, token


@transaction.atomic
def do_revoke_public_link(
    actor: Membership, link: PublicLink, *, ip: str | None = None
) -> PublicLink:
    check_app_level(actor, link.form.app, "manage")
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        record_audit(actor.org, actor.user, "lowcode.public_link.revoke", link, ip=ip)
    return link


def public_links_for(actor: Membership, form: Form) -> list[PublicLink]:
    check_app_level(actor, form.app, "manage")
    return list(PublicLink.objects.filter(org_id=form.org_id, form=form).order_by("-id")[:200])


def access_public_link(actor: Membership, link_id: Any) -> PublicLink:
    """A link of a form the caller manages; 404 for anything else."""
    link = (
        PublicLink.objects.select_related("form__app")
        .filter(org_id=actor.org_id, pk=as_id(link_id))
        .first()
    )
    if link is None or "manage" not in app_levels(actor, link.form.app):
        raise NotFound(_("Link not found."))
    return link


# --- visitors ------------------------------------------------------------------------------


def get_open_link(token: str) -> PublicLink:
    """The link for a raw token, if it can be filled in now; 404 otherwise (all alike)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise NotFound(_("This link does not exist or has expired."))
    link = (
        PublicLink.objects.select_related("org", "form__app", "form__published_version")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if (
        link is None
        or link.revoked_at is not None
        or link.expires_at <= timezone.now()
        or link.form.published_version is None
        or not link.form.app.is_published
        or link.form.app.archived_at is not None
        or not public_links_allowed(link.org)
    ):
        raise NotFound(_("This link does not exist or has expired."))
    return link


def _hit(key: str, limit: int, window: int) -> bool:
    """Count one event in a fixed window; False once ``limit`` is passed."""
    bucket = f"lowcode:public:{key}:{int(time.time() // window)}"
    cache.add(bucket, 0, window + 5)
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.set(bucket, 1, window + 5)
        count = 1
    return int(count) <= limit


def check_rate(link: PublicLink, ip: str | None) -> None:
    per_ip, per_ip_window = RATE_PER_IP
    per_link, per_link_window = RATE_PER_LINK
    if not _hit(f"{link.pk}:ip:{ip or '-'}", per_ip, per_ip_window) or not _hit(
        f"{link.pk}:all", per_link, per_link_window
    ):
        raise RateLimited(_("Too many submissions from here. Please try again later."))


def do_submit_public(token: str, data: Any, ip: str | None) -> Record:
    """A visitor's submission: a record with no creator and source ``public``."""
    link = get_open_link(token)
    if link.max_submissions is not None and link.submission_count >= link.max_submissions:
        raise Conflict(_("This form has received all the answers it asked for."), code="link_full")
    check_rate(link, ip)
    form = link.form
    if not isinstance(data, dict):
        raise ValidationFailed(
            _("Send the answers as an object."), fields={"data": [_("Expected an object.")]}
        )
    offered = {f["key"] for f in public_fields(form.published_version.fields)}  # type: ignore[union-attr]
    errors = {
        key: [_("This field is not offered on this link.")] for key in data if key not in offered
    }
    if errors:
        raise ValidationFailed(
            _("Some fields need attention."), code="invalid_record", fields=errors
        )
    values = {**data, **link.prefill}
    with transaction.atomic():
        taken = (
            PublicLink.objects.filter(pk=link.pk)
            .filter(Q(max_submissions__isnull=True) | Q(submission_count__lt=F("max_submissions")))
            .update(submission_count=F("submission_count") + 1)
        )
        if not taken:
            raise Conflict(
                _("This form has received all the answers it asked for."), code="link_full"
            )
        record, _created = do_create_record(None, form, values, source=Record.Source.PUBLIC)
    return record
