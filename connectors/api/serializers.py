"""Connector API shapes. Validation lives in ``connectors.actions``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from connectors.actions import masked_config
from connectors.models import Connection, Destination, SyncRun
from connectors.registries import ConnectorType, connector_registry
from core.api.fields import IdField, with_fields


@extend_schema_field(OpenApiTypes.OBJECT)
class AnyJSONField(serializers.JSONField):
    """Free JSON, checked by the action that uses it."""


class ActionSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    title = serializers.CharField(source="label")
    params_schema = AnyJSONField()


class ConnectorTypeSerializer(serializers.Serializer[Any]):
    """One entry of the connector catalogue."""

    type = serializers.CharField()
    title = serializers.CharField(source="label")
    description = serializers.CharField()
    origin = serializers.SerializerMethodField()
    push = serializers.BooleanField()
    spec = serializers.SerializerMethodField()
    actions = ActionSerializer(many=True)

    @extend_schema_field(serializers.CharField())
    def get_origin(self, connector: ConnectorType) -> str:
        return connector_registry.origins.get(connector.type, "built-in")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_spec(self, connector: ConnectorType) -> dict[str, Any]:
        return connector.spec()


class ConnectionSerializer(serializers.ModelSerializer[Connection]):
    """A connection; secret settings come back masked, never in the clear."""

    config = serializers.SerializerMethodField()
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = Connection
        fields = [
            "id",
            "name",
            "type",
            "config",
            "schedule",
            "interval_minutes",
            "cron",
            "next_sync_at",
            "enabled",
            "last_check_at",
            "last_check_ok",
            "last_check_message",
            "created_at",
            "updated_at",
            "last_run",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_config(self, connection: Connection) -> dict[str, Any]:
        return masked_config(connection)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_last_run(self, connection: Connection) -> dict[str, Any] | None:
        run = connection.runs.order_by("-id").first()
        return SyncRunSerializer(run).data if run is not None else None


class ConnectionCreatedSerializer(ConnectionSerializer):
    """A new connection, with the credentials Tack made for it (shown this once only)."""

    issued = AnyJSONField(read_only=True, default=dict)

    class Meta(ConnectionSerializer.Meta):
        fields = [*ConnectionSerializer.Meta.fields, "issued"]
        read_only_fields = fields


class ConnectionWriteSerializer(serializers.Serializer[Any]):
    type = serializers.CharField(max_length=80)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    config = AnyJSONField()
    schedule = serializers.ChoiceField(Connection.Schedule.choices, required=False)
    interval_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=100_000
    )
    cron = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ConnectionUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    config = AnyJSONField(required=False)
    schedule = serializers.ChoiceField(Connection.Schedule.choices, required=False)
    interval_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=100_000
    )
    cron = serializers.CharField(max_length=100, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class StreamFieldSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    type = serializers.CharField()
    title = serializers.CharField(source="label")


class StreamSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    title = serializers.CharField(source="label")
    primary_key = serializers.ListField(child=serializers.CharField())
    cursor_field = serializers.CharField(allow_null=True)
    supports_incremental = serializers.BooleanField()

    def get_fields(self) -> Any:
        return with_fields(self, fields=StreamFieldSerializer(many=True))


class DestinationUpdateSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField()


class DestinationSerializer(serializers.ModelSerializer[Destination]):
    connection_id = serializers.IntegerField(read_only=True)
    form_id = serializers.IntegerField(read_only=True, allow_null=True)
    conversation_id = serializers.IntegerField(read_only=True, allow_null=True)
    mapping = AnyJSONField(read_only=True)
    card_fields = serializers.ListField(child=serializers.CharField(), read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Destination
        fields = [
            "id",
            "connection_id",
            "stream",
            "form_id",
            "mapping",
            "conversation_id",
            "card_on",
            "card_title",
            "card_fields",
            "enabled",
            "created_at",
            "state",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_state(self, destination: Destination) -> dict[str, Any] | None:
        state = destination.states.first()
        return state.state if state is not None else None


class DestinationWriteSerializer(serializers.Serializer[Any]):
    stream = serializers.CharField(max_length=100)
    form = IdField(required=False, allow_null=True)
    mapping = AnyJSONField(required=False)
    conversation = IdField(required=False, allow_null=True)
    card_on = serializers.ChoiceField(Destination.CardOn.values, required=False)
    card_title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    card_fields = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=10
    )


class FormFromStreamSerializer(serializers.Serializer[Any]):
    stream = serializers.CharField(max_length=100)
    app = IdField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SyncRequestSerializer(serializers.Serializer[Any]):
    full_refresh = serializers.BooleanField(required=False, default=False)


class SyncRunSerializer(serializers.ModelSerializer[SyncRun]):
    connection_id = serializers.IntegerField(read_only=True)
    progress = AnyJSONField(read_only=True)
    record_errors = AnyJSONField(read_only=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "connection_id",
            "trigger",
            "state",
            "full_refresh",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "attempt",
            "next_retry_at",
            "cancel_requested",
            "read_count",
            "created_count",
            "updated_count",
            "unchanged_count",
            "failed_count",
            "progress",
            "record_errors",
            "error_kind",
            "error_message",
        ]
        read_only_fields = fields


class ActionRunSerializer(serializers.Serializer[Any]):
    action = serializers.CharField(max_length=80)
    params = AnyJSONField()
