#!/usr/bin/env bash
# Builds the project's `docker` resource plugin for the Pulumi engine (scripts/docker-provider/,
# our code): pulumi-terraform-bridge over kreuzwerker's Terraform docker provider with the token
# and property mapping of providerinfo/, plus a native docker:index/image:Image (image/), which
# in pulumi-docker v4/v5 is not a bridged resource. pulumi-docker's own provider module is
# refused by the Go module proxy (issue 11), hence this. docs/engine-spike.md has the versions,
# what was checked under the real CLI, and the costs.
#
#   scripts/build-docker-provider.sh                      # prints the path of the plugin binary
#   scripts/build-docker-provider.sh --if-built           # the path if built already, else exit 1
#   scripts/build-docker-provider.sh --regenerate-schema  # after a version change: see below
#
# A build is `go build -mod=readonly` of the plugin binary alone: go.mod/go.sum pin every
# module and the bridged schema is committed (cmd/pulumi-resource-docker/schema.json), so
# neither `go mod tidy` nor tfgen (all of Pulumi's code generators, a 165 MB binary) runs.
# --regenerate-schema is for a change of the bridge, the Terraform provider or the mapping:
# it runs `go mod tidy` and tfgen (built against the bridge's own pkg/v3, see below) and
# rewrites go.mod, go.sum and schema.json in the source tree (commit them, then compare with
# the Python SDK as docs/engine-spike.md does).
#
# Cached under $DJANGO_STACK_CACHE (default ~/.cache/django-stack) by the version it answers as
# and a digest of its sources, as install-pulumi.sh does: only the first run after a change
# pays for the build. Install it for the engine with
#   pulumi plugin install resource docker "$PLUGIN_VERSION" --file "$(scripts/build-docker-provider.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[docker-provider] %s\n' "$*" >&2; }

# The version the Python SDK asks the engine for (requirements.txt's pulumi-docker).
PLUGIN_VERSION=$(sed -n 's/^pulumi-docker==\([0-9.]*\).*/\1/p' requirements.txt)
sources=$PWD/scripts/docker-provider
# Build flags as scripts/install-pulumi.sh builds the CLI (-trimpath, no cgo, the same tags),
# so the packages the two share (pkg/v3 and sdk/v3 at the CLI's version, gRPC, protobuf, ...)
# compile to the same Go build cache entries; no_compose leaves out the provider's compose
# resource (its plugin-framework half, not bridged).
TAGS=osusergo,grpcnotrace,no_compose
LDFLAGS="-X local/pulumi-docker-bridge/providerinfo.Version=$PLUGIN_VERSION"

sources_digest() {
  (cd "$sources" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name '*.json' \) \
    | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-12)
}

if [ "${1:-}" = "--regenerate-schema" ]; then
  command -v go >/dev/null 2>&1 || { log "no Go toolchain"; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  export CGO_ENABLED=0 GOFLAGS=-mod=mod
  # tfgen imports the bridge's tf2pulumi/convert, which does not compile against pkg/v3
  # v3.274.1 (plugin.NewContext changed; the plugin itself does not import it): tfgen is built
  # in a copy of the module with pkg/v3 and sdk/v3 at the bridge's own v3.256.0.
  cp -r "$sources" "$work/src"
  (
    cd "$work/src"
    go get github.com/pulumi/pulumi/pkg/v3@v3.256.0 github.com/pulumi/pulumi/sdk/v3@v3.256.0
    go mod tidy
    go build -trimpath -tags "$TAGS" -ldflags "$LDFLAGS" -o "$work/pulumi-tfgen-docker" ./cmd/pulumi-tfgen-docker
  )
  mkdir -p "$work/out"
  "$work/pulumi-tfgen-docker" schema --out "$work/out" --skip-docs --skip-examples
  cp "$work/out/schema.json" "$sources/cmd/pulumi-resource-docker/schema.json"
  # The plugin's own module: resolve the (possibly changed) versions and write go.sum anew.
  (cd "$sources" && go mod tidy)
  log "regenerated go.mod, go.sum and cmd/pulumi-resource-docker/schema.json in $sources"
  exit 0
fi

cache=${DJANGO_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/django-stack}
key="v$PLUGIN_VERSION-src-$(sources_digest)"
bin_dir="$cache/pulumi-resource-docker-$key"
binary="$bin_dir/pulumi-resource-docker"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if [ "${1:-}" = "--if-built" ]; then
  log "not built yet for these sources ($binary): run scripts/build-docker-provider.sh"
  exit 1
fi
command -v go >/dev/null 2>&1 || { log "no Go toolchain to build the plugin"; exit 1; }

work="$cache/build/pulumi-resource-docker-$key"
build_log="$cache/build-pulumi-resource-docker-$key.log"
log "building the docker plugin $PLUGIN_VERSION from Go modules (first run for these sources)"
started=$SECONDS
rm -rf "$work" && mkdir -p "$work"
(
  cd "$sources"
  # -mod=readonly: exactly go.sum's modules, nothing resolved anew; only the modules of the
  # packages the plugin imports are downloaded.
  CGO_ENABLED=0 go build -mod=readonly -trimpath -tags "$TAGS" -ldflags "-s -w $LDFLAGS" \
    -o "$work/pulumi-resource-docker" ./cmd/pulumi-resource-docker
) >"$build_log" 2>&1 || {
  tail -20 "$build_log" >&2
  log "building the docker plugin failed; the whole log: $build_log"
  exit 1
}
mkdir -p "$bin_dir"
mv "$work/pulumi-resource-docker" "$binary"
rm -rf "$work"
log "built $binary in $((SECONDS - started))s"
echo "$binary"
