"""Project package of the sample guestbook site: settings, URL routes and the WSGI entry point."""
