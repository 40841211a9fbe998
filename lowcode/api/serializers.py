"""Low-code API shapes. Validation of content happens in actions; these parse and render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from core.api.fields import IdField, with_fields
from lowcode.models import App, Form, FormVersion, LookupPage, Record, RecordChange

MAX_KEY = 80


@extend_schema_field(OpenApiTypes.OBJECT)
class AnyJSONField(serializers.JSONField):
    """Free JSON, checked by the action that uses it (a JSON Schema or field types)."""


class GrantSerializer(serializers.Serializer[Any]):
    roles = serializers.ListField(
        child=serializers.ChoiceField(["owner", "admin", "member", "guest"])
    )
    members = serializers.ListField(child=IdField())
    departments = serializers.ListField(child=IdField())


class PermissionsSerializer(serializers.Serializer[Any]):
    submit = GrantSerializer(required=False)
    view_all = GrantSerializer(required=False)
    manage = GrantSerializer(required=False)


class AppSerializer(serializers.ModelSerializer[App]):
    permissions = PermissionsSerializer(read_only=True)
    my_levels = serializers.SerializerMethodField()
    created_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = App
        fields = [
            "id",
            "name",
            "description",
            "icon",
            "color",
            "permissions",
            "is_published",
            "created_by_id",
            "created_at",
            "updated_at",
            "my_levels",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_my_levels(self, app: App) -> list[str]:
        levels = getattr(app, "levels", None) or getattr(app, "_levels", None) or set()
        return sorted(levels)


class AppWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    icon = serializers.CharField(max_length=8, required=False, allow_blank=True)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False)
    permissions = PermissionsSerializer(required=False)
    is_published = serializers.BooleanField(required=False)


class FieldDefinitionSerializer(serializers.Serializer[Any]):
    """One field of a form (``options`` depend on ``type``; see ``field-types/``)."""

    key = serializers.CharField()
    type = serializers.CharField()
    placeholder = serializers.CharField(required=False)
    indexed = serializers.BooleanField(required=False)
    width = serializers.ChoiceField(["full", "half"], required=False)
    options = AnyJSONField(required=False)

    def get_fields(self) -> Any:
        return with_fields(
            self,
            label=serializers.CharField(),
            help=serializers.CharField(required=False),
            required=serializers.BooleanField(required=False),
        )


class VersionSerializer(serializers.ModelSerializer[FormVersion]):
    schema = AnyJSONField(read_only=True)
    ui_schema = AnyJSONField(read_only=True)
    layout = AnyJSONField(read_only=True)
    published_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = FormVersion
        fields = [
            "id",
            "number",
            "layout",
            "schema",
            "ui_schema",
            "published_by_id",
            "published_at",
        ]
        read_only_fields = fields

    def get_fields(self) -> Any:
        return with_fields(self, fields=FieldDefinitionSerializer(many=True, read_only=True))


class FormSerializer(serializers.ModelSerializer[Form]):
    app_id = serializers.IntegerField(read_only=True)
    draft_fields = FieldDefinitionSerializer(many=True, read_only=True)
    draft_layout = AnyJSONField(read_only=True)
    published_version = VersionSerializer(read_only=True, allow_null=True)
    has_unpublished_changes = serializers.SerializerMethodField()

    class Meta:
        model = Form
        fields = [
            "id",
            "app_id",
            "name",
            "description",
            "draft_fields",
            "draft_layout",
            "published_version",
            "has_unpublished_changes",
            "qr_field",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_unpublished_changes(self, form: Form) -> bool:
        version = form.published_version
        return (
            version is None
            or version.fields != form.draft_fields
            or (version.layout != form.draft_layout)
        )


class FormCreateSerializer(serializers.Serializer[Any]):
    app = IdField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    layout = AnyJSONField(required=False)

    def get_fields(self) -> Any:
        return with_fields(
            self, fields=serializers.ListField(child=AnyJSONField(), required=False, max_length=500)
        )


class FormUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    layout = AnyJSONField(required=False)
    qr_field = serializers.CharField(max_length=40, required=False, allow_blank=True)

    def get_fields(self) -> Any:
        return with_fields(
            self, fields=serializers.ListField(child=AnyJSONField(), required=False, max_length=500)
        )


class MemberBriefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RecordSerializer(serializers.ModelSerializer[Record]):
    form_id = serializers.IntegerField(read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    version_id = serializers.IntegerField(read_only=True)
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Record
        fields = [
            "id",
            "form_id",
            "number",
            "version",
            "version_id",
            "data",
            "source",
            "created_by",
            "created_at",
            "updated_at",
            "deleted_at",
            "approval_state",
        ]
        read_only_fields = fields

    @extend_schema_field(MemberBriefSerializer(allow_null=True))
    def get_created_by(self, record: Record) -> dict[str, Any] | None:
        member = record.created_by
        if member is None:
            return None
        return {"id": member.pk, "name": member.user.display_name}

    def get_fields(self) -> Any:
        return with_fields(self, data=AnyJSONField(read_only=True))


@extend_schema_serializer(many=False)  # one page object, even from the "list" action
class RecordPageSerializer(serializers.Serializer[Any]):
    results = RecordSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class RecordCreateSerializer(serializers.Serializer[Any]):
    form = IdField()
    idempotency_key = serializers.CharField(max_length=MAX_KEY, required=False, allow_blank=True)

    def get_fields(self) -> Any:
        return with_fields(self, data=AnyJSONField())


class RecordUpdateSerializer(serializers.Serializer[Any]):
    def get_fields(self) -> Any:
        return with_fields(self, data=AnyJSONField())


class RecordChangeSerializer(serializers.ModelSerializer[RecordChange]):
    id = serializers.IntegerField(read_only=True, allow_null=True)  # null: the creation
    actor_id = serializers.IntegerField(read_only=True, allow_null=True)
    changes = AnyJSONField(read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)

    class Meta:
        model = RecordChange
        fields = ["id", "kind", "actor_id", "at", "changes", "version"]
        read_only_fields = fields


class LookupSerializer(serializers.ModelSerializer[LookupPage]):
    app_id = serializers.IntegerField(read_only=True)
    form_id = serializers.IntegerField(read_only=True)
    columns = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = LookupPage
        fields = [
            "id",
            "app_id",
            "form_id",
            "name",
            "description",
            "input_field",
            "match",
            "columns",
            "created_at",
        ]
        read_only_fields = fields


class LookupWriteSerializer(serializers.Serializer[Any]):
    form = IdField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    input_field = serializers.CharField(max_length=40)
    match = serializers.ChoiceField(LookupPage.Match.values, required=False)
    columns = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=30
    )


class FieldTypeSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    operators = serializers.ListField(child=serializers.CharField())
    can_index = serializers.BooleanField()
    in_sub_table = serializers.BooleanField()
    widget = serializers.CharField()
    options_schema = AnyJSONField()

    def get_fields(self) -> Any:
        return with_fields(
            self, label=serializers.CharField(), read_only=serializers.BooleanField()
        )
