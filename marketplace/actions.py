"""Every marketplace write for partners, apps, versions and installations.

``check_*`` validates and authorises; ``do_*`` writes inside ``transaction.atomic()``.

Partners: any signed-in user may sign a company up and becomes its owner. Partner roles:
owners do everything; developers manage apps and versions; finance manages payout
details. Reviewing versions is for platform operators (``user.is_staff``).

Version review, as a transition table (anything else is 409 ``invalid_transition``)::

    edit      draft | rejected  → draft
    submit    draft | rejected  → submitted
    withdraw  submitted         → draft
    approve   submitted         → approved      (operators)
    reject    submitted         → rejected      (operators, with a reason)
    publish   approved          → published     (the previous published version → retired)

Installations: an organisation admin (``marketplace.app.install``) installs a published
app by consenting to exactly the scopes its manifest asks for. When a newer published
version asks for more scopes, installations keep their old version and scopes until an
admin consents again; a version asking for the same or fewer scopes upgrades them at once.

``INSTALL_HOOKS``: callables ``hook(installation, plan_code)`` run inside the install
transaction, after the installation and its app member exist (``plan_code`` is the price
plan the admin chose, or None). Billing appends one to start a subscription for paid
plans; a hook that raises a ``core.errors`` error aborts the whole install.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from core.audit import record_audit
from core.crypto import decrypt, encrypt
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Membership, User
from core.permissions import check_permission
from marketplace.manifest import APP_ID, CATEGORIES, semver_key, validate_manifest
from marketplace.models import App, AppVersion, Installation, Partner, PartnerMember

logger = logging.getLogger("tack.marketplace")

InstallHook = Callable[[Installation, str | None], None]
#: Called as ``hook(installation, plan_code)`` inside the install transaction (see above).
INSTALL_HOOKS: list[InstallHook] = []

INSTALL = "marketplace.app.install"
Role = PartnerMember.Role
Status = AppVersion.Status
_PAYOUT_SALT, _PAYOUT_INFO = b"tack.marketplace", b"partner-payout"

#: action → (statuses it may start from, status it ends in)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "edit": (frozenset({Status.DRAFT, Status.REJECTED}), Status.DRAFT),
    "submit": (frozenset({Status.DRAFT, Status.REJECTED}), Status.SUBMITTED),
    "withdraw": (frozenset({Status.SUBMITTED}), Status.DRAFT),
    "approve": (frozenset({Status.SUBMITTED}), Status.APPROVED),
    "reject": (frozenset({Status.SUBMITTED}), Status.REJECTED),
    "publish": (frozenset({Status.APPROVED}), Status.PUBLISHED),
}

PAYOUT_FIELDS = ("account_name", "bank_name", "account_number", "swift", "note")


# --- helpers ----------------------------------------------------------------------------


def emit_app_event(org_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Hand an event to the app webhooks (``marketplace.events.emit``) when that module
    exists; without it the marketplace still works, it just sends no webhooks."""
    if importlib.util.find_spec("marketplace.events") is None:
        return
    from marketplace import events

    events.emit(org_id, event_type, data)


def check_transition(version: AppVersion, action: str) -> str:
    allowed, target = TRANSITIONS[action]
    if version.status not in allowed:
        raise Conflict(
            _("A %(status)s version cannot be %(action)s.")
            % {"status": version.get_status_display().lower(), "action": _action_word(action)},
            code="invalid_transition",
            fields={"status": [version.status]},
        )
    return target


def _action_word(action: str) -> str:
    return {
        "edit": _("edited"),
        "submit": _("submitted"),
        "withdraw": _("withdrawn"),
        "approve": _("approved"),
        "reject": _("rejected"),
        "publish": _("published"),
    }[action]


def check_partner_role(pm: PartnerMember, *roles: str) -> None:
    """Owners may do everything; others need one of ``roles``."""
    if pm.role != Role.OWNER and pm.role not in roles:
        raise Forbidden(
            _("Your partner role does not allow this."),
            code="permission_denied",
            fields={"role": [pm.role]},
        )


def check_operator(user: User) -> None:
    if not (user.is_authenticated and user.is_staff and user.is_active):
        raise Forbidden(_("Only platform operators review apps."), code="permission_denied")


def _text(value: Any, field: str, *, max_length: int, required: bool = False) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(_("Must be text."), fields={field: [_("Must be text.")]})
    if required and not text:
        raise ValidationFailed(
            _("Please fill in the required fields."), fields={field: [_("This field is required.")]}
        )
    if len(text) > max_length:
        message = _("At most %(n)s characters.") % {"n": max_length}
        raise ValidationFailed(message, fields={field: [message]})
    return text


# --- partners ---------------------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "partner"
    slug, n = base, 1
    while Partner.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _website(value: Any) -> str:
    """Blank, or an absolute http(s) URL (it becomes a link on partner and app pages)."""
    text = _text(value, "website", max_length=200)
    if text and urlsplit(text).scheme not in ("http", "https"):
        raise ValidationFailed(
            _("The website must be an http or https address."),
            fields={"website": [_("Not an http(s) URL.")]},
        )
    return text


def do_create_partner(
    user: User,
    *,
    name: str,
    contact_email: str,
    contact_name: str = "",
    website: str = "",
    support_email: str = "",
) -> PartnerMember:
    """Sign a company up as a partner; ``user`` becomes its owner."""
    if user.is_app:
        raise Forbidden(_("Apps cannot sign up as partners."), code="permission_denied")
    name = _text(name, "name", max_length=120, required=True)
    with transaction.atomic():
        partner = Partner.objects.create(
            name=name,
            slug=_unique_slug(name),
            contact_email=contact_email or user.email,
            contact_name=contact_name or user.display_name,
            website=_website(website),
            support_email=support_email,
        )
        owner = PartnerMember.objects.create(partner=partner, user=user, role=Role.OWNER)
    logger.info("partner %s created by user %s", partner.pk, user.pk)
    return owner


def do_update_partner(pm: PartnerMember, **fields: Any) -> Partner:
    check_partner_role(pm)
    partner = pm.partner
    allowed = {"name", "website", "contact_name", "contact_email", "support_email"}
    for key, value in fields.items():
        if key in allowed:
            setattr(partner, key, value)
    if "name" in fields:
        partner.name = _text(fields["name"], "name", max_length=120, required=True)
    if "website" in fields:
        partner.website = _website(fields["website"])
    partner.save()
    return partner


def payout_details(partner: Partner) -> dict[str, str]:
    """The decrypted payout details (for payouts only; never returned by the API)."""
    if not partner.payout_details:
        return {}
    loaded: dict[str, str] = json.loads(
        decrypt(partner.payout_details, salt=_PAYOUT_SALT, info=_PAYOUT_INFO)
    )
    return loaded


def masked_payout(partner: Partner) -> dict[str, str] | None:
    """What the console shows: names in clear, the account number's last four only."""
    details = payout_details(partner)
    if not details:
        return None
    shown = {k: v for k, v in details.items() if k in ("account_name", "bank_name")}
    number = details.get("account_number", "")
    shown["account_number"] = f"•••• {number[-4:]}" if number else ""
    shown["currency"] = partner.payout_currency
    return shown


def do_set_payout_details(
    pm: PartnerMember, details: dict[str, Any], *, currency: str = ""
) -> Partner:
    check_partner_role(pm, Role.FINANCE)
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = {}
    for key in PAYOUT_FIELDS:
        value = details.get(key, "")
        if not isinstance(value, str) or len(value) > 200:
            errors[key] = [_("Text of at most 200 characters.")]
            continue
        clean[key] = value.strip()
    unknown = set(details) - set(PAYOUT_FIELDS)
    if unknown:
        errors["details"] = [_("Unknown field(s): %(names)s.") % {"names": ", ".join(unknown)}]
    for key in ("account_name", "bank_name", "account_number"):
        if key not in errors and not clean.get(key):
            errors[key] = [_("This field is required.")]
    if currency and (len(currency) != 3 or not currency.isalpha() or not currency.isupper()):
        errors["currency"] = [_("Use a three-letter currency code such as CNY.")]
    if errors:
        raise ValidationFailed(_("Please correct the payout details."), fields=errors)
    partner = pm.partner
    partner.payout_details = encrypt(json.dumps(clean), salt=_PAYOUT_SALT, info=_PAYOUT_INFO)
    if currency:
        partner.payout_currency = currency
    partner.save(update_fields=["payout_details", "payout_currency"])
    return partner


def do_add_partner_member(pm: PartnerMember, *, email: str, role: str) -> PartnerMember:
    check_partner_role(pm)
    if role not in Role.values:
        raise ValidationFailed(_("Unknown role."), fields={"role": [_("Choose a role.")]})
    user = User.objects.filter(email__iexact=(email or "").strip(), is_app=False).first()
    if user is None:
        raise ValidationFailed(
            _("No account uses this e-mail address; ask them to sign up first."),
            fields={"email": [_("No account with this e-mail address.")]},
        )
    try:
        with transaction.atomic():
            return PartnerMember.objects.create(partner=pm.partner, user=user, role=role)
    except IntegrityError:
        raise Conflict(
            _("This person is already a member of the partner."), code="already_member"
        ) from None


def _check_keeps_an_owner(target: PartnerMember) -> None:
    if target.role != Role.OWNER:
        return
    owners = PartnerMember.objects.filter(partner_id=target.partner_id, role=Role.OWNER)
    if owners.exclude(pk=target.pk).count() == 0:
        raise Conflict(_("A partner needs at least one owner."), code="last_owner")


def do_change_partner_member_role(
    pm: PartnerMember, target: PartnerMember, role: str
) -> PartnerMember:
    check_partner_role(pm)
    if role not in Role.values:
        raise ValidationFailed(_("Unknown role."), fields={"role": [_("Choose a role.")]})
    with transaction.atomic():
        if role != Role.OWNER:
            _check_keeps_an_owner(target)
        target.role = role
        target.save(update_fields=["role"])
    return target


def do_remove_partner_member(pm: PartnerMember, target: PartnerMember) -> None:
    if pm.pk != target.pk:  # anyone may leave; only owners remove others
        check_partner_role(pm)
    with transaction.atomic():
        _check_keeps_an_owner(target)
        target.delete()


# --- apps -------------------------------------------------------------------------------


def do_create_app(
    pm: PartnerMember, *, app_id: str, name: str, redirect_uris: list[str]
) -> tuple[App, str, str, str]:
    """A new app with its OAuth client and webhook signing secret:
    ``(app, client_id, client_secret, webhook_secret)``. Both secrets are returned only here
    (and on rotation); the client secret is stored hashed, the webhook secret encrypted."""
    import re

    from marketplace.oauth import create_oauth_client
    from marketplace.webhooks import ensure_webhook_secret

    check_partner_role(pm, Role.DEVELOPER)
    app_id = (app_id or "").strip() if isinstance(app_id, str) else ""
    if not re.match(APP_ID, app_id) or len(app_id) > 120:
        raise ValidationFailed(
            _("Use a reverse-DNS id such as com.example.expenses (lower case)."),
            fields={"app_id": [_("Not a reverse-DNS id.")]},
        )
    name = _text(name, "name", max_length=80, required=True)
    try:
        with transaction.atomic():
            app = App.objects.create(partner=pm.partner, app_id=app_id, name=name)
            client_id, secret = create_oauth_client(app, redirect_uris)
            webhook_secret = ensure_webhook_secret(app) or ""
    except IntegrityError:
        raise Conflict(
            _("Another app already uses this id."),
            code="app_id_taken",
            fields={"app_id": [_("Taken.")]},
        ) from None
    return app, client_id, secret, webhook_secret


def do_update_app(pm: PartnerMember, app: App, *, is_listed: bool) -> App:
    check_partner_role(pm, Role.DEVELOPER)
    app.is_listed = is_listed
    app.save(update_fields=["is_listed"])
    return app


def do_rotate_client_secret(pm: PartnerMember, app: App) -> str:
    from marketplace.oauth import rotate_client_secret

    check_partner_role(pm, Role.DEVELOPER)
    with transaction.atomic():
        return rotate_client_secret(app)


# --- versions ---------------------------------------------------------------------------


def check_version_manifest(
    app: App, data: Any, *, exclude: AppVersion | None = None
) -> dict[str, Any]:
    """The validated manifest for a version of ``app`` (its id, and a version number that is
    new and above the published one)."""
    manifest = validate_manifest(data)
    errors: dict[str, list[str]] = {}
    if manifest["id"] != app.app_id:
        errors["id"] = [_("This app's id is %(id)s.") % {"id": app.app_id}]
    others = AppVersion.objects.filter(app=app, version=manifest["version"])
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        errors["version"] = [
            _("This app already has a version %(v)s.") % {"v": manifest["version"]}
        ]
    published = app.published_version
    if published is not None and semver_key(manifest["version"]) <= semver_key(published.version):
        errors.setdefault("version", []).append(
            _("Must be above the published version %(v)s.") % {"v": published.version}
        )
    if errors:
        raise ValidationFailed(
            _("The manifest does not fit this app."), code="invalid_manifest", fields=errors
        )
    return manifest


def _new_scopes(app: App, scopes: list[str]) -> list[str]:
    published = app.published_version
    before = set(published.scopes) if published is not None else set()
    return [s for s in scopes if s not in before]


def do_create_version(pm: PartnerMember, app: App, manifest: Any) -> AppVersion:
    check_partner_role(pm, Role.DEVELOPER)
    with transaction.atomic():
        app = (
            App.objects.select_for_update(of=("self",))
            .select_related("published_version")
            .get(pk=app.pk)
        )
        checked = check_version_manifest(app, manifest)
        try:
            return AppVersion.objects.create(
                app=app,
                version=checked["version"],
                manifest=checked,
                scopes=checked["scopes"],
                new_scopes=_new_scopes(app, checked["scopes"]),
                created_by=pm.user,
            )
        except IntegrityError:
            raise Conflict(_("This version already exists."), code="version_exists") from None


def do_update_version(pm: PartnerMember, version: AppVersion, manifest: Any) -> AppVersion:
    check_partner_role(pm, Role.DEVELOPER)
    with transaction.atomic():
        version = _locked(version)
        target = check_transition(version, "edit")
        checked = check_version_manifest(version.app, manifest, exclude=version)
        version.manifest = checked
        version.version = checked["version"]
        version.scopes = checked["scopes"]
        version.new_scopes = _new_scopes(version.app, checked["scopes"])
        version.status = target
        version.save()
    return version


def _locked(version: AppVersion) -> AppVersion:
    return (
        AppVersion.objects.select_for_update(of=("self",))
        .select_related("app", "app__published_version")
        .get(pk=version.pk)
    )


def do_submit_version(pm: PartnerMember, version: AppVersion) -> AppVersion:
    check_partner_role(pm, Role.DEVELOPER)
    with transaction.atomic():
        version = _locked(version)
        version.status = check_transition(version, "submit")
        version.new_scopes = _new_scopes(version.app, version.scopes)
        version.submitted_at = timezone.now()
        version.review_reason = ""
        version.save()
    return version


def do_withdraw_version(pm: PartnerMember, version: AppVersion) -> AppVersion:
    check_partner_role(pm, Role.DEVELOPER)
    with transaction.atomic():
        version = _locked(version)
        version.status = check_transition(version, "withdraw")
        version.save(update_fields=["status"])
    return version


def do_approve_version(reviewer: User, version: AppVersion, *, note: str = "") -> AppVersion:
    check_operator(reviewer)
    note = _text(note, "reason", max_length=2000)
    with transaction.atomic():
        version = _locked(version)
        version.status = check_transition(version, "approve")
        version.review_reason = note
        version.reviewed_by = reviewer
        version.reviewed_at = timezone.now()
        version.save()
    logger.info("version %s of %s approved by user %s", version.pk, version.app_id, reviewer.pk)
    return version


def do_reject_version(reviewer: User, version: AppVersion, *, reason: str) -> AppVersion:
    check_operator(reviewer)
    reason = _text(reason, "reason", max_length=2000, required=True)
    with transaction.atomic():
        version = _locked(version)
        version.status = check_transition(version, "reject")
        version.review_reason = reason
        version.reviewed_by = reviewer
        version.reviewed_at = timezone.now()
        version.save()
    logger.info("version %s of %s rejected by user %s", version.pk, version.app_id, reviewer.pk)
    return version


def _listing_text(manifest: dict[str, Any], partner: Partner) -> str:
    categories = manifest.get("categories", [])
    words = [
        manifest.get("name", ""),
        manifest.get("summary", ""),
        manifest.get("description", ""),
        partner.name,
        *categories,
        *(str(CATEGORIES.get(c, "")) for c in categories),
    ]
    tokens = " ".join(f"category:{c}" for c in categories)
    return (" ".join(words) + f" {tokens} ").lower()


def do_publish_version(pm: PartnerMember, version: AppVersion) -> AppVersion:
    """Publish an approved version: the catalogue shows it, the previous one retires, the
    OAuth redirect URIs follow the manifest, and installations upgrade where they can."""
    from marketplace.oauth import set_redirect_uris

    check_partner_role(pm, Role.DEVELOPER)
    with transaction.atomic():
        version = _locked(version)
        target = check_transition(version, "publish")
        app = (
            App.objects.select_for_update(of=("self",))
            .select_related("partner")
            .get(pk=version.app_id)
        )
        previous = app.published_version
        if previous is not None and semver_key(version.version) <= semver_key(previous.version):
            raise Conflict(
                _("Version %(v)s is not above the published version %(p)s.")
                % {"v": version.version, "p": previous.version},
                code="invalid_transition",
            )
        AppVersion.objects.filter(app=app, status=Status.PUBLISHED).update(status=Status.RETIRED)
        now = timezone.now()
        version.status = target
        version.published_at = now
        version.save(update_fields=["status", "published_at"])
        manifest = version.manifest
        app.published_version = version
        app.name = manifest["name"][:80]
        app.summary = (manifest.get("summary") or "")[:200]
        app.categories = manifest.get("categories", [])
        app.search_text = _listing_text(manifest, app.partner)
        app.save(
            update_fields=["published_version", "name", "summary", "categories", "search_text"]
        )
        redirect_uris = (manifest.get("oauth") or {}).get("redirect_uris", [])
        if redirect_uris and app.oauth_application_id is not None:
            set_redirect_uris(app, redirect_uris)
        _upgrade_installations(app, version)
    logger.info("version %s of %s published by user %s", version.pk, app.app_id, pm.user_id)
    return version


def _upgrade_installations(app: App, version: AppVersion) -> None:
    """Move active installations to ``version`` when it asks for no scope they have not
    granted; the others wait for an admin's consent (``do_consent_scopes``)."""
    from marketplace.oauth import revoke_installation_tokens

    wanted = set(version.scopes)
    for installation in Installation.objects.filter(app=app, status=Installation.Status.ACTIVE):
        if not wanted <= set(installation.granted_scopes):
            continue
        changed = set(installation.granted_scopes) != wanted
        installation.version = version
        installation.granted_scopes = list(version.scopes)
        installation.save(update_fields=["version", "granted_scopes"])
        record_audit(
            installation.org,
            None,
            "marketplace.app.upgraded",
            installation,
            data={"app": app.app_id, "version": version.version, "scopes": version.scopes},
        )
        if changed:  # fewer scopes: tokens carrying the dropped ones stop working
            revoke_installation_tokens(installation)
            emit_app_event(installation.org_id, "app.scopes_changed", _event_data(installation))


# --- installations ----------------------------------------------------------------------


def _event_data(installation: Installation) -> dict[str, Any]:
    return {
        "installation_id": installation.pk,
        "app_id": installation.app.app_id,
        "org_id": installation.org_id,
        "version": installation.version.version,
        "scopes": list(installation.granted_scopes),
    }


def check_consent(scopes: Any, asked: list[str], field: str = "scopes") -> list[str]:
    """Consent is to exactly the scopes asked for: no more, no fewer, no repeats."""
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValidationFailed(
            _("Send the list of scopes you consent to."),
            code="consent_mismatch",
            fields={field: [_("A list of scopes.")]},
        )
    if len(scopes) != len(set(scopes)) or set(scopes) != set(asked):
        missing = sorted(set(asked) - set(scopes))
        extra = sorted(set(scopes) - set(asked))
        problems = []
        if missing:
            problems.append(_("Not consented: %(s)s.") % {"s": ", ".join(missing)})
        if extra:
            problems.append(_("Not asked for: %(s)s.") % {"s": ", ".join(extra)})
        if not problems:
            problems.append(_("Each scope may appear only once."))
        raise ValidationFailed(
            _("Consent must cover exactly the scopes the app asks for."),
            code="consent_mismatch",
            fields={field: problems},
        )
    return [s for s in asked if s in scopes]


def check_plan(version: AppVersion, plan: Any) -> str | None:
    plans = (version.manifest.get("pricing") or {}).get("plans", [])
    if plan in (None, ""):
        if plans and not any(p["type"] == "free" for p in plans):
            raise ValidationFailed(
                _("Choose a price plan."), fields={"plan": [_("This app has no free plan.")]}
            )
        free = next((p["code"] for p in plans if p["type"] == "free"), None)
        return free
    if not isinstance(plan, str) or plan not in {p["code"] for p in plans}:
        raise ValidationFailed(
            _("Unknown price plan."), fields={"plan": [_("Not one of this app's plans.")]}
        )
    return plan


def do_install_app(
    member: Membership,
    app: App,
    *,
    scopes: Any,
    plan: Any = None,
    ip: str | None = None,
) -> tuple[Installation, bool]:
    """Install ``app`` in the member's organisation: ``(installation, created)``. Installing
    again with the same consent returns the existing installation (a safe retry)."""
    from marketplace.oauth import ensure_app_member

    check_permission(member, INSTALL)
    version = app.published_version
    if version is None or app.partner.status != Partner.Status.ACTIVE:
        raise NotFound(_("App not found."))
    granted = check_consent(scopes, version.scopes)
    plan_code = check_plan(version, plan)
    with transaction.atomic():
        existing = (
            Installation.objects.select_for_update(of=("self",))
            .filter(org_id=member.org_id, app=app, status=Installation.Status.ACTIVE)
            .first()
        )
        if existing is not None:
            if existing.version_id == version.pk:
                return existing, False
            raise Conflict(
                _("This app is already installed; consent to its new version instead."),
                code="already_installed",
            )
        installation = Installation.objects.create(
            org_id=member.org_id,
            app=app,
            version=version,
            granted_scopes=granted,
            installed_by=member,
        )
        installation.app_member = ensure_app_member(installation)
        installation.save(update_fields=["app_member"])
        for hook in INSTALL_HOOKS:
            hook(installation, plan_code)
        record_audit(
            member.org,
            member.user,
            "marketplace.app.installed",
            installation,
            data={
                "app": app.app_id,
                "version": version.version,
                "scopes": granted,
                "plan": plan_code,
            },
            ip=ip,
        )
        emit_app_event(member.org_id, "app.installed", _event_data(installation))
    return installation, True


def pending_version(installation: Installation) -> AppVersion | None:
    """The published version waiting for this installation's consent, if any."""
    published = installation.app.published_version
    if (
        installation.is_active
        and published is not None
        and published.pk != installation.version_id
        and not set(published.scopes) <= set(installation.granted_scopes)
    ):
        return published
    return None


def do_consent_scopes(
    member: Membership, installation: Installation, *, scopes: Any, ip: str | None = None
) -> Installation:
    """Consent to the scopes of the app's newer published version, and move to it."""
    check_permission(member, INSTALL)
    with transaction.atomic():
        installation = (
            Installation.objects.select_for_update(of=("self",))
            .select_related("app", "app__published_version", "version")
            .get(pk=installation.pk)
        )
        version = pending_version(installation)
        if version is None:
            raise Conflict(_("There is nothing new to consent to."), code="nothing_to_consent")
        granted = check_consent(scopes, version.scopes)
        before = list(installation.granted_scopes)
        installation.version = version
        installation.granted_scopes = granted
        installation.save(update_fields=["version", "granted_scopes"])
        record_audit(
            member.org,
            member.user,
            "marketplace.app.scopes_granted",
            installation,
            data={
                "app": installation.app.app_id,
                "version": version.version,
                "scopes": granted,
                "added": [s for s in granted if s not in before],
            },
            ip=ip,
        )
        emit_app_event(member.org_id, "app.scopes_changed", _event_data(installation))
    return installation


def do_uninstall_app(
    member: Membership, installation: Installation, *, ip: str | None = None
) -> Installation:
    """Uninstall: every token of the installation is revoked and webhooks stop; the row
    stays (uninstalled) for the audit trail, and the app can be installed again later. Its
    subscription, if any, ends at once."""
    from marketplace.billing import cancel_for_uninstall
    from marketplace.oauth import revoke_installation_tokens

    check_permission(member, INSTALL)
    with transaction.atomic():
        installation = (
            Installation.objects.select_for_update(of=("self",))
            .select_related("app", "version")
            .get(pk=installation.pk)
        )
        if not installation.is_active:
            raise Conflict(_("This app is not installed."), code="not_installed")
        # Told while still installed, so the app itself receives it.
        emit_app_event(member.org_id, "app.uninstalled", _event_data(installation))
        installation.status = Installation.Status.UNINSTALLED
        installation.uninstalled_at = timezone.now()
        installation.save(update_fields=["status", "uninstalled_at"])
        revoked = revoke_installation_tokens(installation)
        cancel_for_uninstall(installation)  # nothing more is invoiced
        if installation.app_member_id is not None:  # the app's account leaves the directory
            Membership.objects.filter(pk=installation.app_member_id).update(
                status=Membership.Status.SUSPENDED
            )
        record_audit(
            member.org,
            member.user,
            "marketplace.app.uninstalled",
            installation,
            data={"app": installation.app.app_id, "tokens_revoked": revoked},
            ip=ip,
        )
    return installation
