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
