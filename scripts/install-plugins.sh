#!/usr/bin/env bash
# Installs the provider plugins the project builds itself into the Pulumi home the engine uses
# ($PULUMI_HOME, default ~/.pulumi), for the offline CLI (scripts/install-pulumi.sh's build),
# which cannot fetch the official ones: the command and random plugins
# (scripts/build-own-plugins.sh), and with `docker` also the docker plugin
# (scripts/build-docker-provider.sh, about 2 minutes the first time after the CLI's build on 2
# cores, whose Go packages it shares).
#
#   scripts/install-plugins.sh CLI_DIR [docker]
#
# Each is built once per source change (cached under ~/.cache/django-stack) and installed at
# the version the Python SDK asks for (requirements.txt); a plugin already installed from the
# same binary is left as it is, another one at that version is replaced (--reinstall).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[plugins] %s\n' "$*" >&2; }

cli="$1/pulumi"
[ -x "$cli" ] || { log "no pulumi CLI in $1"; exit 1; }
home=${PULUMI_HOME:-$HOME/.pulumi}
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

install_one() { # NAME BINARY
  local name=$1 binary=$2 version
  version=$(sed -n "s/^pulumi-$name==\([0-9.]*\).*/\1/p" requirements.txt)
  if cmp -s "$binary" "$home/plugins/resource-$name-v$version/pulumi-resource-$name"; then
    return
  fi
  log "installing the $name plugin $version into $home"
  PULUMI_HOME=$home "$cli" plugin install --reinstall resource "$name" "$version" --file "$binary" >&2
}

install_one command "$(scripts/build-own-plugins.sh command)"
install_one random "$(scripts/build-own-plugins.sh random)"
if [ "${2:-}" = docker ]; then
  install_one docker "$(scripts/build-docker-provider.sh)"
fi
