"""Routes of the guestbook: the page, the JSON read-backs, the waiting page, the health checks."""

from django.urls import URLPattern, path

from guestbook import views

urlpatterns: list[URLPattern] = [
    path("", views.index, name="index"),
    path("entries.json", views.entries_json, name="entries-json"),
    path("request.json", views.request_json, name="request-json"),
    path("wait/", views.wait, name="wait"),
    path("health/", views.health, name="health"),
    path("health/db/", views.health_db, name="health-db"),
]
