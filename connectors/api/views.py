"""Connector API views: parse, access, act, serialise."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from connectors import actions
from connectors.access import access_connection, access_destination, access_run
from connectors.actions import full_config
from connectors.api import serializers as s
from connectors.models import Connection, Destination, SyncRun
from connectors.registries import ConnectorError, connector_registry
from core.api.base import OrgScopedViewSet
from core.api.pagination import NewestFirstCursorPagination
from core.errors import ValidationFailed
from lowcode.access import access_app, access_form


def _parse(serializer_class: Any, request: Request, **kwargs: Any) -> dict[str, Any]:
    data = serializer_class(data=request.data, **kwargs)
    data.is_valid(raise_exception=True)
    validated: dict[str, Any] = data.validated_data
    return validated


def _from_connector(exc: ConnectorError, field: str = "config") -> ValidationFailed:
    return ValidationFailed(
        exc.message, code=f"connector_{exc.kind}", fields={field: [exc.message]}
    )


class ConnectorTypeViewSet(OrgScopedViewSet):
    """The catalogue: built-in connectors and installed plugins, with their settings."""

    queryset = Connection.objects.none()
    serializer_class = s.ConnectorTypeSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {"list": "connectors:connection.read"}
    pagination_class = None
    required_permissions = {"*": "connectors.connection.manage"}

    @extend_schema(responses=s.ConnectorTypeSerializer(many=True))
    def list(self, request: Request, org_id: int) -> Response:
        connectors = sorted(connector_registry.all(), key=lambda c: c.type)
        return Response(s.ConnectorTypeSerializer(connectors, many=True).data)


class ConnectionViewSet(OrgScopedViewSet):
    """Connections to external systems (secret settings are never returned)."""

    queryset = Connection.objects.all()
    serializer_class = s.ConnectionSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {
        "list": "connectors:connection.read",
        "retrieve": "connectors:connection.read",
        "destinations:get": "connectors:connection.read",
    }
    pagination_class = None
    required_permissions = {"*": "connectors.connection.manage"}

    def list(self, request: Request, org_id: int) -> Response:
        return Response(s.ConnectionSerializer(self.get_queryset(), many=True).data)

    @extend_schema(
        request=s.ConnectionWriteSerializer, responses={201: s.ConnectionCreatedSerializer}
    )
    def create(self, request: Request, org_id: int) -> Response:
        data = _parse(s.ConnectionWriteSerializer, request)
        connection = actions.do_create_connection(self.membership, ip=self.ip, **data)
        return Response(
            s.ConnectionCreatedSerializer(connection).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, org_id: int, pk: str) -> Response:
        """A new signing secret for an inbound webhook (shown once; the old one stops)."""
        from connectors.builtin.webhook import SECRET_KEY, do_rotate_webhook_secret

        connection = access_connection(self.membership, pk)
        secret = do_rotate_webhook_secret(self.membership, connection, ip=self.ip)
        return Response({SECRET_KEY: secret})

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(s.ConnectionSerializer(access_connection(self.membership, pk)).data)

    @extend_schema(request=s.ConnectionUpdateSerializer, responses=s.ConnectionSerializer)
    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        connection = access_connection(self.membership, pk)
        data = _parse(s.ConnectionUpdateSerializer, request)
        connection = actions.do_update_connection(self.membership, connection, ip=self.ip, **data)
        return Response(s.ConnectionSerializer(connection).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        connection = access_connection(self.membership, pk)
        actions.do_delete_connection(self.membership, connection, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.ConnectionSerializer)
    @action(detail=True, methods=["post"])
    def check(self, request: Request, org_id: int, pk: str) -> Response:
        """Test the connection now; the result is kept on the connection."""
        connection = actions.do_check_connection(
            self.membership, access_connection(self.membership, pk)
        )
        return Response(s.ConnectionSerializer(connection).data)

    @extend_schema(responses=s.StreamSerializer(many=True))
    @action(detail=True, methods=["get"])
    def streams(self, request: Request, org_id: int, pk: str) -> Response:
        """What the external system offers: streams with fields, primary key and cursor."""
        connection = access_connection(self.membership, pk)
        connector = actions.connector_type(connection.type)
        try:
            streams = connector.discover(full_config(connection))
        except ConnectorError as exc:
            raise _from_connector(exc) from None
        return Response(s.StreamSerializer(streams, many=True).data)

    @extend_schema(methods=["GET"], request=None, responses=s.DestinationSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=s.DestinationWriteSerializer,
        responses={201: s.DestinationSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def destinations(self, request: Request, org_id: int, pk: str) -> Response:
        """Where each stream goes: a form (with a field mapping) and/or chat cards."""
        connection = access_connection(self.membership, pk)
        if request.method == "GET":
            found = Destination.objects.filter(org_id=self.org.pk, connection=connection)
            return Response(s.DestinationSerializer(found, many=True).data)
        data = _parse(s.DestinationWriteSerializer, request)
        form = (
            access_form(self.membership, data.pop("form"), "manage") if data.get("form") else None
        )
        data.pop("form", None)
        conversation = None
        if data.get("conversation"):
            from im.access import access_conversation

            conversation = access_conversation(self.membership, data["conversation"])
        data.pop("conversation", None)
        destination = actions.do_save_destination(
            self.membership, connection, form=form, conversation=conversation, **data
        )
        return Response(s.DestinationSerializer(destination).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.FormFromStreamSerializer, responses={201: s.DestinationSerializer})
    @action(detail=True, methods=["post"], url_path="form-from-stream")
    def form_from_stream(self, request: Request, org_id: int, pk: str) -> Response:
        """One step: a published form mirroring the stream, and the destination into it."""
        connection = access_connection(self.membership, pk)
        data = _parse(s.FormFromStreamSerializer, request)
        app = access_app(self.membership, data["app"], "manage")
        try:
            destination = actions.do_create_form_from_stream(
                self.membership,
                connection,
                stream=data["stream"],
                app=app,
                name=data.get("name", ""),
            )
        except ConnectorError as exc:
            raise _from_connector(exc, "stream") from None
        return Response(s.DestinationSerializer(destination).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.SyncRequestSerializer,
        responses={201: s.SyncRunSerializer, 200: s.SyncRunSerializer},
    )
    @action(detail=True, methods=["post"])
    def sync(self, request: Request, org_id: int, pk: str) -> Response:
        """Sync now (200 with the live run if one is already under way)."""
        connection = access_connection(self.membership, pk)
        data = _parse(s.SyncRequestSerializer, request)
        run, created = actions.do_request_sync(
            self.membership, connection, full_refresh=data["full_refresh"]
        )
        return Response(
            s.SyncRunSerializer(run).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=s.ActionRunSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"], url_path="actions")
    def run_action(self, request: Request, org_id: int, pk: str) -> Response:
        """Do something in the external system (create a customer, a sale order…)."""
        connection = access_connection(self.membership, pk)
        data = _parse(s.ActionRunSerializer, request)
        try:
            result = actions.do_run_connector_action(
                self.membership, connection, data["action"], data["params"]
            )
        except ConnectorError as exc:
            raise _from_connector(exc, "params") from None
        return Response(result)


class SyncRunViewSet(OrgScopedViewSet):
    """Run history with counts, progress and errors (newest first); cancel a live run."""

    queryset = SyncRun.objects.all()
    serializer_class = s.SyncRunSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {"list": "connectors:connection.read", "retrieve": "connectors:connection.read"}
    pagination_class = NewestFirstCursorPagination
    required_permissions = {"*": "connectors.connection.manage"}

    @extend_schema(
        parameters=[OpenApiParameter("connection", OpenApiTypes.INT)],
        responses=s.SyncRunSerializer(many=True),
    )
    def list(self, request: Request, org_id: int) -> Response:
        runs = self.get_queryset().order_by("-id")
        raw = request.query_params.get("connection")
        if raw:
            runs = runs.filter(connection=access_connection(self.membership, raw))
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(s.SyncRunSerializer(page, many=True).data)

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(s.SyncRunSerializer(access_run(self.membership, pk)).data)

    @extend_schema(request=None, responses=s.SyncRunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, org_id: int, pk: str) -> Response:
        run = actions.do_cancel_run(self.membership, access_run(self.membership, pk))
        return Response(s.SyncRunSerializer(run).data)


class DestinationViewSet(OrgScopedViewSet):
    """One stream's destination: pause or resume it, or stop syncing it there."""

    queryset = Destination.objects.all()
    serializer_class = s.DestinationSerializer
    pagination_class = None
    required_permissions = {"*": "connectors.connection.manage"}
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def retrieve(self, request: Request, org_id: int, pk: str) -> Response:
        return Response(s.DestinationSerializer(access_destination(self.membership, pk)).data)

    @extend_schema(request=s.DestinationUpdateSerializer, responses=s.DestinationSerializer)
    def partial_update(self, request: Request, org_id: int, pk: str) -> Response:
        destination = access_destination(self.membership, pk)
        data = _parse(s.DestinationUpdateSerializer, request)
        destination = actions.do_set_destination_enabled(
            self.membership, destination, data["enabled"], ip=self.ip
        )
        return Response(s.DestinationSerializer(destination).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, org_id: int, pk: str) -> Response:
        destination = access_destination(self.membership, pk)
        actions.do_delete_destination(self.membership, destination, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)
