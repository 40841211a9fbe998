"""Chat routes, mounted under /api/v1/orgs/<org_id>/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from im.api import bot_views, ding_views, search_views, views

router = SimpleRouter(trailing_slash=True)
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("messages", views.MessageViewSet, basename="message")
router.register("events", views.EventViewSet, basename="event")
router.register("attachments", views.AttachmentViewSet, basename="attachment")
router.register("bots", bot_views.BotViewSet, basename="bot")
# messages/<pk>/card-actions/ only; "message-card" so the isolation walk uses a card message.
router.register("messages", bot_views.CardActionViewSet, basename="message-card")
router.register("search", search_views.SearchViewSet, basename="search")

urlpatterns = [
    *router.urls,
    # Unread counts: one summary object, not a list.
    path("unread/", views.UnreadViewSet.as_view({"get": "summary"}), name="unread-list"),
    # DING: explicit paths, named after the basename they extend.
    path(
        "conversations/<int:pk>/ding/",
        ding_views.DingViewSet.as_view({"post": "send_ding"}),
        name="conversation-ding",
    ),
    path(
        "messages/<int:pk>/ding/",
        ding_views.DingViewSet.as_view({"get": "ding_status"}),
        name="message-ding",
    ),
    path(
        "messages/<int:pk>/ding/confirm/",
        ding_views.DingViewSet.as_view({"post": "confirm"}),
        name="message-ding-confirm",
    ),
    path(
        "dings/pending/",
        ding_views.DingViewSet.as_view({"get": "pending"}),
        name="ding-pending",
    ),
]
