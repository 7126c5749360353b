# The benchmark's load generator: Debian's wrk, plus curl for the pre-flight checks.
# It runs inside the stack's own networks (`python -m bench`), never on a published port.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk curl \
 && rm -rf /var/lib/apt/lists/*
USER 65534:65534
