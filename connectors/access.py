"""``access_<thing>(member, id)`` for connectors: same 404 for missing and not-yours."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from connectors.models import Connection, Destination, ScenarioToken, SyncRun
from core.access import as_id
from core.errors import NotFound
from core.models import Membership
from core.permissions import check_permission


def access_connection(member: Membership, connection_id: Any) -> Connection:
    connection = Connection.objects.filter(org_id=member.org_id, pk=as_id(connection_id)).first()
    if connection is None:
        raise NotFound(_("Connection not found."))
    check_permission(member, "connectors.connection.manage")
    return connection


def access_run(member: Membership, run_id: Any) -> SyncRun:
    run = (
        SyncRun.objects.select_related("connection")
        .filter(org_id=member.org_id, pk=as_id(run_id))
        .first()
    )
    if run is None:
        raise NotFound(_("Sync run not found."))
    check_permission(member, "connectors.connection.manage")
    return run


def access_destination(member: Membership, destination_id: Any) -> Destination:
    destination = (
        Destination.objects.select_related("connection")
        .filter(org_id=member.org_id, pk=as_id(destination_id))
        .first()
    )
    if destination is None:
        raise NotFound(_("Destination not found."))
    check_permission(member, "connectors.connection.manage")
    return destination


def access_scenario_token(member: Membership, token_id: Any) -> ScenarioToken:
    token = ScenarioToken.objects.filter(org_id=member.org_id, pk=as_id(token_id)).first()
    if token is None:
        raise NotFound(_("Token not found."))
    check_permission(member, "connectors.connection.manage")
    return token
