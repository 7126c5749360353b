# The proxy image (Apache httpd): Debian's apache2, the rendered config, and the app's static
# files copied from the app image, where collectstatic ran at build time.
ARG BASE_IMAGE=debian:trixie-slim
ARG APP_IMAGE

FROM ${APP_IMAGE} AS app

FROM ${BASE_IMAGE}
# mod_qos (the per-client limits) from the release's own packages, or Debian 12's backports.
COPY install-mod-qos.sh /tmp/install-mod-qos.sh
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends apache2 curl \
 && sh /tmp/install-mod-qos.sh \
 && rm -rf /var/lib/apt/lists/* /tmp/install-mod-qos.sh
COPY --from=app /srv/static /srv/static
COPY proxy.conf /etc/django-stack/httpd.conf
USER www-data
EXPOSE 8080
