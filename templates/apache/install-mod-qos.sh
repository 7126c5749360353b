#!/bin/sh
# Installs mod_qos (Debian's libapache2-mod-qos), which gives Apache its per-client request
# and connection limits (templates/apache/httpd.conf). Run as root where apache2 is: the
# proxy image's build, the VM proxy host's base step, scripts/setup-host.sh --test. Safe to
# run again.
#
# Debian 12's own package (11.63) no longer loads into Debian 12's current Apache, which is
# built against PCRE2 ("undefined symbol: pcre_free"); bookworm-backports has one that does
# (11.74). So on Debian 12 it comes from there, from the mirror the host already uses. Debian
# 13's own works.
set -eu
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
installed=$(dpkg-query -W -f='${Version}' libapache2-mod-qos 2>/dev/null || true)
case "${VERSION_CODENAME:-}:$installed" in
  bookworm:*bpo12*) exit 0 ;;
  bookworm:*) ;;
  *:?*) exit 0 ;;
esac
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
  if ! apt-cache policy libapache2-mod-qos 2>/dev/null | grep -q 'bpo12' \
    && [ ! -s /etc/apt/sources.list.d/django-stack-backports.list ]; then
    # `|| true`: no match is not an error (the default mirror is), also under pipefail.
    mirror=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
      | grep -v security | head -n 1 | tr -d ' ' || true)
    echo "deb ${mirror:-http://deb.debian.org/debian} bookworm-backports main" \
      > /etc/apt/sources.list.d/django-stack-backports.list
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -t bookworm-backports libapache2-mod-qos >/dev/null
else
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends libapache2-mod-qos >/dev/null
fi
