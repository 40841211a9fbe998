"""Marketplace API shapes. Validation and rules live in ``marketplace.actions``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketplace.actions import masked_payout, pending_version
from marketplace.manifest import CATEGORIES
from marketplace.models import App, AppVersion, Installation, Partner, PartnerMember
from marketplace.scopes import SCOPES, WRITE_SCOPES


@extend_schema_field(OpenApiTypes.OBJECT)
class AnyJSONField(serializers.JSONField):
    """Free JSON, checked by the action that uses it."""


class AppScopeSerializer(serializers.Serializer[Any]):
    scope = serializers.CharField()
    description = serializers.CharField()
    write = serializers.BooleanField()


def scopes_in_words(scopes: list[str]) -> list[dict[str, Any]]:
    return [
        {"scope": s, "description": str(SCOPES.get(s, s)), "write": s in WRITE_SCOPES}
        for s in scopes
    ]


# --- partners ---------------------------------------------------------------------------


class MaskedPayoutSerializer(serializers.Serializer[Any]):
    account_name = serializers.CharField()
    bank_name = serializers.CharField()
    account_number = serializers.CharField(help_text="Masked: the last four characters only.")
    currency = serializers.CharField()


class PartnerSerializer(serializers.ModelSerializer[Partner]):
    # Plain strings: blank is a valid answer for the optional ones.
    website = serializers.CharField(read_only=True)
    contact_email = serializers.CharField(read_only=True)
    support_email = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    payout = serializers.SerializerMethodField()
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "slug",
            "website",
            "contact_name",
            "contact_email",
            "support_email",
            "status",
            "payout",
            "my_role",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MaskedPayoutSerializer(allow_null=True))
    def get_payout(self, partner: Partner) -> dict[str, str] | None:
        """Masked: bank and account holder names, the account number's last four."""
        return masked_payout(partner)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_my_role(self, partner: Partner) -> str | None:
        role: str | None = self.context.get("roles", {}).get(partner.pk)
        return role


class PartnerWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    website = serializers.URLField(max_length=200, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    support_email = serializers.EmailField(required=False, allow_blank=True)


class PartnerUpdateSerializer(PartnerWriteSerializer):
    name = serializers.CharField(max_length=120, required=False)


class PartnerPayoutSerializer(serializers.Serializer[Any]):
    account_name = serializers.CharField(max_length=200)
    bank_name = serializers.CharField(max_length=200)
    account_number = serializers.CharField(max_length=200)
    swift = serializers.CharField(max_length=200, required=False, allow_blank=True)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)


class PartnerMemberSerializer(serializers.ModelSerializer[PartnerMember]):
    email = serializers.CharField(source="user.email", read_only=True)
    role = serializers.CharField(read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = PartnerMember
        fields = ["id", "email", "display_name", "role", "created_at"]
        read_only_fields = fields


class PartnerMemberAddSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=PartnerMember.Role.choices)


class PartnerMemberRoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=PartnerMember.Role.choices)


class PartnerInstallOrgSerializer(serializers.Serializer[Any]):
    org_name = serializers.CharField()
    installed_at = serializers.DateTimeField()
    version = serializers.CharField()


class PartnerInstallsSerializer(serializers.Serializer[Any]):
    app = serializers.IntegerField()
    app_id = serializers.CharField()
    name = serializers.CharField()
    count = serializers.IntegerField()
    orgs = PartnerInstallOrgSerializer(many=True)


# --- apps and versions ------------------------------------------------------------------


class AppVersionSummarySerializer(serializers.ModelSerializer[AppVersion]):
    status = serializers.CharField(read_only=True)

    class Meta:
        model = AppVersion
        fields = ["id", "version", "status", "scopes", "published_at"]
        read_only_fields = fields


class PartnerAppSerializer(serializers.ModelSerializer[App]):
    """An app as its partner sees it (the OAuth client id, never the secret)."""

    client_id = serializers.SerializerMethodField()
    published_version = AppVersionSummarySerializer(read_only=True, allow_null=True)
    active_installs = serializers.SerializerMethodField()

    class Meta:
        model = App
        fields = [
            "id",
            "partner",
            "app_id",
            "name",
            "summary",
            "categories",
            "is_listed",
            "client_id",
            "published_version",
            "active_installs",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_client_id(self, app: App) -> str | None:
        application = app.oauth_application
        return str(application.client_id) if application is not None else None

    @extend_schema_field(serializers.IntegerField())
    def get_active_installs(self, app: App) -> int:
        count = getattr(app, "active_installs", None)
        if count is None:
            count = app.installations.filter(status=Installation.Status.ACTIVE).count()
        return int(count)


class AppCreateSerializer(serializers.Serializer[Any]):
    partner = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    app_id = serializers.CharField(max_length=120)
    name = serializers.CharField(max_length=80)
    redirect_uris = serializers.ListField(
        child=serializers.CharField(max_length=2000), min_length=1, max_length=10
    )


class AppCreatedSerializer(PartnerAppSerializer):
    """Shown once: the OAuth client secret and the Standard Webhooks signing secret."""

    client_secret = serializers.SerializerMethodField()
    webhook_secret = serializers.SerializerMethodField()

    class Meta(PartnerAppSerializer.Meta):
        fields = [*PartnerAppSerializer.Meta.fields, "client_secret", "webhook_secret"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_client_secret(self, app: App) -> str:
        return str(self.context["client_secret"])

    @extend_schema_field(serializers.CharField())
    def get_webhook_secret(self, app: App) -> str:
        return str(self.context["webhook_secret"])


class AppUpdateSerializer(serializers.Serializer[Any]):
    is_listed = serializers.BooleanField()


class AppClientSecretSerializer(serializers.Serializer[Any]):
    client_id = serializers.CharField()
    client_secret = serializers.CharField()


class AppVersionSerializer(serializers.ModelSerializer[AppVersion]):
    status = serializers.CharField(read_only=True)
    app_id = serializers.CharField(source="app.app_id", read_only=True)
    app_name = serializers.CharField(source="app.name", read_only=True)
    partner_name = serializers.CharField(source="app.partner.name", read_only=True)
    manifest = AnyJSONField(read_only=True)
    scopes_described = serializers.SerializerMethodField()
    published_scopes = serializers.SerializerMethodField()

    class Meta:
        model = AppVersion
        fields = [
            "id",
            "app",
            "app_id",
            "app_name",
            "partner_name",
            "version",
            "status",
            "manifest",
            "scopes",
            "new_scopes",
            "scopes_described",
            "published_scopes",
            "review_reason",
            "submitted_at",
            "reviewed_at",
            "published_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(AppScopeSerializer(many=True))
    def get_scopes_described(self, version: AppVersion) -> list[dict[str, Any]]:
        return scopes_in_words(version.scopes)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_published_scopes(self, version: AppVersion) -> list[str]:
        published = version.app.published_version
        return list(published.scopes) if published is not None else []


class AppVersionCreateSerializer(serializers.Serializer[Any]):
    app = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    manifest = AnyJSONField()


class AppVersionUpdateSerializer(serializers.Serializer[Any]):
    manifest = AnyJSONField()


class VersionReviewSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


# --- catalogue --------------------------------------------------------------------------


class ManifestPlanSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    interval = serializers.CharField(required=False)
    amount = serializers.IntegerField()
    currency = serializers.CharField(required=False)
    trial_days = serializers.IntegerField()


class CatalogueAppSerializer(serializers.ModelSerializer[App]):
    """A listing: what the published version's manifest says."""

    partner_name = serializers.CharField(source="partner.name", read_only=True)
    version = serializers.CharField(source="published_version.version", read_only=True)
    icon = serializers.SerializerMethodField()
    category_names = serializers.SerializerMethodField()
    lowest_price = serializers.SerializerMethodField()

    class Meta:
        model = App
        fields = [
            "app_id",
            "name",
            "summary",
            "categories",
            "category_names",
            "partner_name",
            "version",
            "icon",
            "lowest_price",
        ]
        read_only_fields = fields

    def _manifest(self, app: App) -> dict[str, Any]:
        version = app.published_version
        return version.manifest if version is not None else {}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_icon(self, app: App) -> str | None:
        icon: str | None = self._manifest(app).get("icon")
        return icon

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_category_names(self, app: App) -> list[str]:
        return [str(CATEGORIES.get(c, c)) for c in app.categories]

    @extend_schema_field(ManifestPlanSerializer(allow_null=True))
    def get_lowest_price(self, app: App) -> dict[str, Any] | None:
        plans = (self._manifest(app).get("pricing") or {}).get("plans", [])
        if not plans:
            return None
        lowest: dict[str, Any] = min(plans, key=lambda p: p.get("amount", 0))
        return lowest


class CatalogueAppDetailSerializer(CatalogueAppSerializer):
    description = serializers.SerializerMethodField()
    scopes = serializers.SerializerMethodField()
    plans = serializers.SerializerMethodField()
    cards = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()
    website = serializers.CharField(source="partner.website", read_only=True)
    support_email = serializers.CharField(source="partner.support_email", read_only=True)

    class Meta(CatalogueAppSerializer.Meta):
        fields = [
            *CatalogueAppSerializer.Meta.fields,
            "description",
            "scopes",
            "plans",
            "cards",
            "events",
            "website",
            "support_email",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_description(self, app: App) -> str:
        return str(self._manifest(app).get("description", ""))

    @extend_schema_field(AppScopeSerializer(many=True))
    def get_scopes(self, app: App) -> list[dict[str, Any]]:
        return scopes_in_words(self._manifest(app).get("scopes", []))

    @extend_schema_field(ManifestPlanSerializer(many=True))
    def get_plans(self, app: App) -> list[dict[str, Any]]:
        plans: list[dict[str, Any]] = (self._manifest(app).get("pricing") or {}).get("plans", [])
        return plans

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_cards(self, app: App) -> list[dict[str, Any]]:
        return [
            {"id": c["id"], "name": c["name"], "description": c.get("description", "")}
            for c in self._manifest(app).get("cards", [])
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_events(self, app: App) -> list[str]:
        events: list[str] = (self._manifest(app).get("webhook") or {}).get("events", [])
        return events


class CatalogueCategorySerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()
    count = serializers.IntegerField()


# --- installations ----------------------------------------------------------------------


class InstallPendingUpgradeSerializer(serializers.Serializer[Any]):
    version = serializers.CharField()
    scopes = AppScopeSerializer(many=True)
    new_scopes = serializers.ListField(child=serializers.CharField())


class AppInstallationSerializer(serializers.ModelSerializer[Installation]):
    app_id = serializers.CharField(source="app.app_id", read_only=True)
    app_name = serializers.CharField(source="app.name", read_only=True)
    partner_name = serializers.CharField(source="app.partner.name", read_only=True)
    version = serializers.CharField(source="version.version", read_only=True)
    scopes = serializers.SerializerMethodField()
    installed_by_name = serializers.SerializerMethodField()
    app_member = serializers.IntegerField(source="app_member_id", read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True)
    pending_upgrade = serializers.SerializerMethodField()

    class Meta:
        model = Installation
        fields = [
            "id",
            "app_id",
            "app_name",
            "partner_name",
            "version",
            "granted_scopes",
            "scopes",
            "status",
            "app_member",
            "installed_by_name",
            "installed_at",
            "uninstalled_at",
            "pending_upgrade",
        ]
        read_only_fields = fields

    @extend_schema_field(AppScopeSerializer(many=True))
    def get_scopes(self, installation: Installation) -> list[dict[str, Any]]:
        return scopes_in_words(installation.granted_scopes)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_installed_by_name(self, installation: Installation) -> str | None:
        by = installation.installed_by
        return by.user.display_name if by is not None else None

    @extend_schema_field(InstallPendingUpgradeSerializer(allow_null=True))
    def get_pending_upgrade(self, installation: Installation) -> dict[str, Any] | None:
        """A newer version that waits for an admin's consent to more scopes."""
        version = pending_version(installation)
        if version is None:
            return None
        granted = set(installation.granted_scopes)
        return {
            "version": version.version,
            "scopes": scopes_in_words(version.scopes),
            "new_scopes": [s for s in version.scopes if s not in granted],
        }


class AppInstallSerializer(serializers.Serializer[Any]):
    app = serializers.CharField(max_length=120, help_text="The app's reverse-DNS id.")
    scopes = serializers.ListField(
        child=serializers.CharField(max_length=80),
        allow_empty=True,
        max_length=100,
        help_text="Exactly the scopes the published version asks for (consent).",
    )
    plan = serializers.CharField(max_length=40, required=False, allow_null=True, allow_blank=True)


class InstallConsentSerializer(serializers.Serializer[Any]):
    scopes = serializers.ListField(
        child=serializers.CharField(max_length=80), allow_empty=True, max_length=100
    )
