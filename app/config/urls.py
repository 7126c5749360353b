"""URL routes of the sample project: everything lives in the guestbook app."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("guestbook.urls")),
]
