"""django-stack: Pulumi components that deploy a Django app behind a WSGI server and a proxy."""
