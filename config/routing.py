from django.urls import path

from core.realtime import EventsConsumer

websocket_urlpatterns = [path("ws/", EventsConsumer.as_asgi())]
