"""URL routes of the sample project: everything lives in the guestbook app.

Uploaded files are served by Django only in debug (`runserver` on a laptop); `static()` adds
nothing otherwise, and a deployment's reverse proxy serves them.
"""

from django.conf import settings
from django.conf.urls.static import static
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("guestbook.urls")),
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]
