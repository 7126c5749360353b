# The benchmark's load generator: Debian's wrk, curl for the pre-flight checks, and python3
# for the slow readers (bench/slow_reader.py, standard library only, fed on stdin).
# It runs inside the stack's own networks (`python -m bench`), never on a published port.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk curl python3 \
 && rm -rf /var/lib/apt/lists/*
USER 65534:65534
