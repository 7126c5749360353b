"""WSGI entry point (`config.wsgi:application`) that gunicorn and uWSGI load."""

import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

# setdefault so the deployment's DJANGO_SETTINGS_MODULE (the production overlay) wins.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application: WSGIHandler = get_wsgi_application()
