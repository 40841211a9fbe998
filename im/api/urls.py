"""Chat routes, mounted under /api/v1/orgs/<org_id>/."""

from rest_framework.routers import SimpleRouter

from im.api import views

router = SimpleRouter(trailing_slash=True)
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("messages", views.MessageViewSet, basename="message")
router.register("unread", views.UnreadViewSet, basename="unread")
router.register("events", views.EventViewSet, basename="event")
router.register("attachments", views.AttachmentViewSet, basename="attachment")

urlpatterns = router.urls

# DING (im/api/ding_views.py): explicit paths, named after the basename they extend.
from django.urls import path  # noqa: E402

from im.api import ding_views  # noqa: E402

urlpatterns += [
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

# Bots, card actions and search (im/api/bot_views.py, im/api/search_views.py).
from im.api import bot_views, search_views  # noqa: E402

bots_router = SimpleRouter(trailing_slash=True)
bots_router.register("bots", bot_views.BotViewSet, basename="bot")
# messages/<pk>/card-actions/ only; "message-card" so the isolation walk uses a card message.
bots_router.register("messages", bot_views.CardActionViewSet, basename="message-card")
bots_router.register("search", search_views.SearchViewSet, basename="search")
urlpatterns += bots_router.urls
