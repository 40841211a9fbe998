"""Message search API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import OrgScopedViewSet
from core.api.fields import IdField
from im import search
from im.api.serializers import MessageSerializer
from im.models import Message


class _SearchQuery(serializers.Serializer[Any]):
    q = serializers.CharField(trim_whitespace=False, allow_blank=True)
    before = IdField(required=False)


class SearchResultSerializer(serializers.Serializer[Any]):
    results = MessageSerializer(many=True)
    next_before = serializers.IntegerField(
        allow_null=True, help_text="Pass as ?before= for the next page; null on the last page."
    )


class SearchViewSet(OrgScopedViewSet):
    queryset = Message.objects.all()
    serializer_class = SearchResultSerializer
    # What a marketplace app's OAuth token needs (marketplace.auth).
    app_scopes = {"messages": "im:message.read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True, description="1-200 chars."),
            OpenApiParameter("before", OpenApiTypes.INT, description="Results older than id."),
        ],
        responses=SearchResultSerializer,
    )
    @action(detail=False, methods=["get"])
    def messages(self, request: Request, org_id: int) -> Response:
        """Messages in my conversations containing ``q``, newest first, 50 per page."""
        query = _SearchQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = search.search_messages(
            self.membership, query.validated_data["q"], before=query.validated_data.get("before")
        )
        full_page = len(found) == search.PAGE_SIZE
        return Response(
            {
                "results": MessageSerializer(found, many=True, context={"request": request}).data,
                "next_before": found[-1].pk if full_page else None,
            }
        )
