"""Chat web pages, mounted under /o/<org_id>/chat/."""

from django.urls import path

from im import views

app_name = "im"

urlpatterns = [
    path("", views.chat, name="chat"),
]
