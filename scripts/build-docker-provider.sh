#!/usr/bin/env bash
# Builds a `docker` resource plugin for the Pulumi engine from Go modules that the Go module
# proxy serves: pulumi-terraform-bridge over kreuzwerker's Terraform docker provider, with the
# token and property mapping of scripts/docker-provider/ (our own code). pulumi-docker's own
# provider module is refused by the proxy (issue 11), hence this. SPIKE: not called by
# setup-host.sh or test.sh yet (docs/engine-spike.md says what works and what does not; the
# program's docker.Image is a native resource of pulumi-docker, which this plugin lacks).
#
#   scripts/build-docker-provider.sh       # prints the path of the plugin binary
#
# Cached by version under $DJANGO_STACK_CACHE (default ~/.cache/django-stack), as
# install-pulumi.sh does: only the first run on a machine pays for the build (20 min on 2
# cores that other jobs shared, 2.1 GB of module cache and 2.9 GB of build cache); later
# runs take a second.
# Install it for the engine with
#   pulumi plugin install resource docker "$PLUGIN_VERSION" --file "$(scripts/build-docker-provider.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[docker-provider] %s\n' "$*" >&2; }

# The version the Python SDK asks the engine for (requirements.txt's pulumi-docker).
PLUGIN_VERSION=$(sed -n 's/^pulumi-docker==\([0-9.]*\).*/\1/p' requirements.txt)
# The bridge release pulumi-docker's own provider used last (served, though `go list -m
# -versions` stops at v3.120.0), and the fork of terraform-plugin-sdk that release replaces
# hashicorp's with (a replace in a dependency is ignored, so ours repeats it).
BRIDGE_VERSION=v3.137.0
PLUGIN_SDK_FORK=v2.0.0-20260318212141-5525259d096b
# kreuzwerker/terraform-provider-docker has no tags the proxy serves: the newest pseudo-version.
TF_DOCKER_VERSION=v0.0.0-20260916201441-96d331c98ff4

cache=${DJANGO_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/django-stack}
key="v$PLUGIN_VERSION-bridge-$BRIDGE_VERSION-tf-$TF_DOCKER_VERSION"
bin_dir="$cache/pulumi-resource-docker-$key"
binary="$bin_dir/pulumi-resource-docker"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
command -v go >/dev/null 2>&1 || { log "no Go toolchain to build the plugin"; exit 1; }

sources=$PWD/scripts/docker-provider
work="$cache/build/pulumi-resource-docker-$key"
build_log="$cache/build-pulumi-resource-docker-$key.log"
log "building the docker plugin $PLUGIN_VERSION from Go modules (first run on this machine only)"
started=$SECONDS
rm -rf "$work" && mkdir -p "$work"
(
  export GOFLAGS=-mod=mod CGO_ENABLED=0
  # The provider's constructor is in an internal/ package, which Go lets no other module
  # import: a writable copy of the module (the module cache is read-only) gets a small
  # exporting package of ours, and a replace points at the copy.
  upstream=$(go mod download -json "github.com/kreuzwerker/terraform-provider-docker@$TF_DOCKER_VERSION" \
    | sed -n 's/.*"Dir": "\(.*\)",*$/\1/p')
  [ -d "$upstream" ] || { echo "the proxy did not give the Terraform docker provider"; exit 1; }
  cp -r "$upstream" "$work/upstream" && chmod -R u+w "$work/upstream"
  mkdir -p "$work/upstream/bridgeshim"
  cp "$sources/bridgeshim/export.go.in" "$work/upstream/bridgeshim/export.go"

  mkdir -p "$work/module"
  cp -r "$sources/providerinfo" "$sources/cmd" "$work/module/"
  cd "$work/module"
  cat >go.mod <<MOD
module local/pulumi-docker-bridge

go 1.25.11

require (
	github.com/pulumi/pulumi-terraform-bridge/v3 $BRIDGE_VERSION
	github.com/terraform-providers/terraform-provider-docker v0.0.0
)

replace github.com/terraform-providers/terraform-provider-docker => ../upstream

replace github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 $PLUGIN_SDK_FORK
MOD
  # The plugin embeds the Pulumi schema that tfgen makes from the provider; a placeholder
  # lets `go mod tidy` see the package before it exists.
  echo '{}' >cmd/pulumi-resource-docker/schema.json
  go mod tidy
  # no_compose: the compose resource (plugin framework half of the provider) is not bridged.
  go build -trimpath -tags no_compose -ldflags "-X local/pulumi-docker-bridge/providerinfo.Version=$PLUGIN_VERSION" \
    -o "$work/pulumi-tfgen-docker" ./cmd/pulumi-tfgen-docker
  "$work/pulumi-tfgen-docker" schema --out cmd/pulumi-resource-docker --skip-docs --skip-examples
  go build -trimpath -tags no_compose \
    -ldflags "-s -w -X local/pulumi-docker-bridge/providerinfo.Version=$PLUGIN_VERSION" \
    -o "$work/pulumi-resource-docker" ./cmd/pulumi-resource-docker
) >"$build_log" 2>&1 || {
  tail -20 "$build_log" >&2
  log "building the docker plugin failed; the whole log: $build_log"
  exit 1
}
mkdir -p "$bin_dir"
mv "$work/pulumi-resource-docker" "$binary"
cp "$work/module/cmd/pulumi-resource-docker/schema.json" "$bin_dir/schema.json"
rm -rf "$work"
log "built $binary in $((SECONDS - started))s"
echo "$binary"
