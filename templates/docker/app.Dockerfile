# The app image: the Django project in a virtualenv, run by Gunicorn, uWSGI or mod_wsgi.
# Rendered context from components/render/build_context.py. Two stages: the compiler and
# headers needed to build wheels (uWSGI is C) stay in the build stage.
ARG BASE_IMAGE=debian:trixie-slim

FROM ${BASE_IMAGE} AS build
# Debian packages the project asks for (systemPackages), in both stages: what its wheels need
# to build here (headers, a compiler's libraries) and to run in the final image. A name apt
# does not know fails the build with apt's own message.
ARG SYSTEM_PACKAGES=""
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-dev gcc libc6-dev ca-certificates ${SYSTEM_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
# An optional extra CA bundle (builds behind an intercepting proxy) is trusted in this stage
# only; the final stage never copies it.
COPY extra-ca.crt /tmp/extra-ca.crt
RUN if [ -s /tmp/extra-ca.crt ]; then cat /tmp/extra-ca.crt >> /etc/ssl/certs/ca-certificates.crt; fi \
 && python3 -m venv /opt/venv
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Server requirements first, then the project's: a change to the app rebuilds neither.
COPY server-requirements.txt /tmp/server-requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/server-requirements.txt
# The project's dependencies as it declares them (requirements.txt and its includes,
# pyproject.toml, or uv.lock: components/dependencies.py), from the declaration files only.
COPY dependencies/ /tmp/dependencies/
RUN cd /tmp/dependencies/project && ../install.sh /opt/venv

FROM ${BASE_IMAGE}
# Debian packages of the chosen app server, if it comes from Debian (mod_wsgi), and the
# project's own (systemPackages).
ARG SERVER_PACKAGES=""
ARG SYSTEM_PACKAGES=""
# The base's own Python, and its shared library (uWSGI links to it), named after the version
# that Python reports: no version is written here, so any Debian release builds.
# Each replica and the migration job runs as a uid of its own (components/docker/identity.py),
# not known here, all in group 10001 ("app"): the directories they write (the volumes' mount
# points, whose contents and ownership Docker copies into a new volume) belong to that group,
# group-writable, and setgid so that what is made in them stays in it. The SQLite database is
# made here, empty (SQLite takes an empty file for an empty database), and group-writable:
# SQLite would make it 0644 whatever the umask, for its first writer alone, and gives its
# journal the database file's mode (https://www.sqlite.org/compile.html#default_file_permissions).
# The proxy reads the media files as "other". Everything else in the image is root's,
# world-readable, and read-only at run time.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && libpython=$(python3 -c 'import sys; print("libpython%d.%d" % sys.version_info[:2])') \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "$libpython" ${SERVER_PACKAGES} ${SYSTEM_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
 && install -d -o root -g 10001 -m 2770 /var/lib/django-stack /srv/media/tmp \
 && install -o root -g 10001 -m 0660 /dev/null /var/lib/django-stack/db.sqlite3 \
 && install -d -o root -g 10001 -m 2775 /srv/media /srv/media/files
COPY --from=build /opt/venv /opt/venv
COPY django_stack_settings.py django_stack_health.py django_stack_precompress.py healthcheck.py \
     /opt/django-stack/
COPY app-server/ /etc/django-stack/
ARG SETTINGS_MODULE
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/opt/django-stack:/srv/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=django_stack_settings \
    DJANGO_STACK_BASE_SETTINGS=${SETTINGS_MODULE} \
    DJANGO_STATIC_ROOT=/srv/static \
    DJANGO_STATIC_URL=/static/
WORKDIR /srv/app
# The project changes most often, so it comes last, in one layer with what is derived from it
# (a layer costs a copy of the whole filesystem on some storage drivers: docs/benchmarks.md).
# Static files are collected once, at build time, with a gzip copy of each text file beside
# it (django_stack_precompress.py says why); the proxy image copies them from here. Bytecode is compiled now because the root filesystem is read-only at run time.
RUN --mount=type=bind,source=project,target=/tmp/project \
    cp -R /tmp/project/. /srv/app/ \
 && DJANGO_STACK_BUILD=1 django-admin collectstatic --noinput --verbosity 0 \
 && python3 /opt/django-stack/django_stack_precompress.py /srv/static \
 && python3 -m compileall -q /srv/app /opt/django-stack
# A default only: the stack's containers run as their own uid (components/docker/identity.py).
USER 10001:10001
EXPOSE 8000
