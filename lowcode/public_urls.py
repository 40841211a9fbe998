"""Public form links for people outside the organisation, mounted under /f/."""

from django.urls import URLPattern, URLResolver, path

from lowcode import public_views

app_name = "lowcode_public"

urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:token>/", public_views.public_fill, name="fill"),
    path("<str:token>/thanks/", public_views.public_thanks, name="thanks"),
]
