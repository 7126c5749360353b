# The proxy image (nginx): Debian's nginx, the rendered config, and the app's static files
# copied from the app image, where collectstatic ran at build time.
ARG BASE_IMAGE=debian:trixie-slim
ARG APP_IMAGE

FROM ${APP_IMAGE} AS app

FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx curl \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
COPY --from=app /srv/static /srv/static
COPY proxy.conf /etc/django-stack/nginx.conf
USER www-data
EXPOSE 8080
