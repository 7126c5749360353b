"""Django app registration of the guestbook."""

from django.apps import AppConfig


class GuestbookConfig(AppConfig):
    """App config; the name is the import path used in INSTALLED_APPS."""

    name = "guestbook"
    verbose_name = "Guestbook"
