# The proxy image (Apache httpd): Debian's apache2, the rendered config, and the app's static
# files copied from the app image, where collectstatic ran at build time.
ARG BASE_IMAGE=debian:trixie-slim
ARG APP_IMAGE

FROM ${APP_IMAGE} AS app

FROM ${BASE_IMAGE}
# mod_qos (the per-client limits) from the release's own packages, or Debian 12's backports.
COPY install-mod-qos.sh /tmp/install-mod-qos.sh
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends apache2 curl openssl \
 && sh /tmp/install-mod-qos.sh \
 && rm -rf /var/lib/apt/lists/* /tmp/install-mod-qos.sh
COPY --from=app /srv/static /srv/static
COPY proxy.conf /etc/django-stack/httpd.conf
# The mount point of the stack's TLS volume (components/docker/proxy_certificate.py): Docker
# copies this directory's owner and mode into the volume when it is first mounted, so the
# certificate job, which runs as the proxy's uid with group www-data, may write there (setgid:
# what it writes keeps the group); the proxy mounts it read-only. openssl is the job's tool
# (the fingerprint of the certificate the proxy serves).
RUN install -d -o root -g www-data -m 2770 /etc/django-stack/tls
USER www-data
EXPOSE 8080
