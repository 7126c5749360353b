# The database image: the base's own PostgreSQL (Debian's `postgresql` depends on the
# release's own major version), initialised on first start from the environment. Its
# version-numbered bin directory is linked into /usr/local/bin, so no version is written here.
ARG BASE_IMAGE=debian:trixie-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/* \
 && set -- /usr/lib/postgresql/*/bin \
 && if [ "$#" -ne 1 ] || [ ! -x "$1/postgres" ]; then \
      echo "expected one PostgreSQL server, found: $*" >&2; exit 1; \
    fi \
 && ln -s "$1"/* /usr/local/bin/ \
 && install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
