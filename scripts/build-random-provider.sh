#!/usr/bin/env bash
# Builds a `random` resource plugin for the Pulumi engine from Go modules that the Go module
# proxy serves: pulumi-terraform-bridge's plugin-framework half (pkg/pf, inside the v3 module)
# over hashicorp's Terraform random provider, with the token mapping of scripts/random-provider/
# (our own code). pulumi-random's own provider module is refused by the proxy (issue 11), hence
# this. SPIKE: not called by setup-host.sh or test.sh yet (docs/engine-spike-random.md).
#
#   scripts/build-random-provider.sh       # prints the path of the plugin binary
#
# Cached by version under $DJANGO_STACK_CACHE (default ~/.cache/django-stack), as
# install-pulumi.sh does: only the first run on a machine pays for the build; later runs take
# a second. Install it for the engine with
#   pulumi plugin install resource random "$PLUGIN_VERSION" --file "$(scripts/build-random-provider.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[random-provider] %s\n' "$*" >&2; }

# The version the Python SDK asks the engine for (requirements.txt's pulumi-random).
PLUGIN_VERSION=$(sed -n 's/^pulumi-random==\([0-9.]*\).*/\1/p' requirements.txt)
# The bridge release pulumi-random's own provider uses (also build-docker-provider.sh's, so
# the two share the Go build cache), and the fork of terraform-plugin-sdk that release
# replaces hashicorp's with (a replace in a dependency is ignored, so ours repeats it).
BRIDGE_VERSION=v3.137.0
PLUGIN_SDK_FORK=v2.0.0-20260318212141-5525259d096b
# The Terraform random provider has no tags the proxy serves: a pseudo-version, under the
# module path its go.mod declares (the hashicorp/ path is refused).
TF_RANDOM_MODULE=github.com/terraform-providers/terraform-provider-random
TF_RANDOM_VERSION=v1.3.2-0.20260513075824-f8d869dc98d9

cache=${DJANGO_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/django-stack}
key="v$PLUGIN_VERSION-bridge-$BRIDGE_VERSION-tf-$TF_RANDOM_VERSION"
bin_dir="$cache/pulumi-resource-random-$key"
binary="$bin_dir/pulumi-resource-random"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
command -v go >/dev/null 2>&1 || { log "no Go toolchain to build the plugin"; exit 1; }

sources=$PWD/scripts/random-provider
work="$cache/build/pulumi-resource-random-$key"
build_log="$cache/build-pulumi-resource-random-$key.log"
log "building the random plugin $PLUGIN_VERSION from Go modules (first run on this machine only)"
started=$SECONDS
rm -rf "$work" && mkdir -p "$work"
(
  export GOFLAGS=-mod=mod CGO_ENABLED=0
  # The provider's constructor is in an internal/ package: Go lets only packages under the
  # provider's own import path import it, so our exporting package gets such a path, as a
  # module of its own that a replace points at (no copy of the provider needed).
  mkdir -p "$work/bridgeshim"
  cp "$sources/bridgeshim/shim.go" "$work/bridgeshim/"
  cat >"$work/bridgeshim/go.mod" <<MOD
module $TF_RANDOM_MODULE/bridgeshim

go 1.25.11

require $TF_RANDOM_MODULE $TF_RANDOM_VERSION
MOD

  mkdir -p "$work/module"
  cp -r "$sources/providerinfo" "$sources/cmd" "$work/module/"
  cd "$work/module"
  cat >go.mod <<MOD
module local/pulumi-random-bridge

go 1.25.11

require (
	github.com/pulumi/pulumi-terraform-bridge/v3 $BRIDGE_VERSION
	$TF_RANDOM_MODULE $TF_RANDOM_VERSION
	$TF_RANDOM_MODULE/bridgeshim v0.0.0
)

replace $TF_RANDOM_MODULE/bridgeshim => ../bridgeshim

replace github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 $PLUGIN_SDK_FORK
MOD
  # The plugin embeds the schema and bridge metadata that tfgen makes from the provider;
  # placeholders let `go mod tidy` see the package before they exist.
  echo '{}' >cmd/pulumi-resource-random/schema.json
  echo '{}' >cmd/pulumi-resource-random/bridge-metadata.json
  go mod tidy
  go build -trimpath -ldflags "-X local/pulumi-random-bridge/providerinfo.Version=$PLUGIN_VERSION" \
    -o "$work/pulumi-tfgen-random" ./cmd/pulumi-tfgen-random
  "$work/pulumi-tfgen-random" schema --out cmd/pulumi-resource-random --skip-docs --skip-examples
  go build -trimpath \
    -ldflags "-s -w -X local/pulumi-random-bridge/providerinfo.Version=$PLUGIN_VERSION" \
    -o "$work/pulumi-resource-random" ./cmd/pulumi-resource-random
) >"$build_log" 2>&1 || {
  tail -20 "$build_log" >&2
  log "building the random plugin failed; the whole log: $build_log"
  exit 1
}
mkdir -p "$bin_dir"
mv "$work/pulumi-resource-random" "$binary"
cp "$work/module/cmd/pulumi-resource-random/schema.json" "$bin_dir/schema.json"
rm -rf "$work"
log "built $binary in $((SECONDS - started))s"
echo "$binary"
