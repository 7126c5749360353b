#!/usr/bin/env bash
# Makes the Pulumi engine available: the CLI and the provider plugins this program uses.
#
#   scripts/install-pulumi.sh        # prints the directory that holds `pulumi` (put it on PATH)
#
# An official Pulumi CLI already on PATH is used as it is (it fetches its plugins itself).
# Otherwise this is the offline path: the CLI is built from Go modules through the Go module
# proxy (`go` 1.25 or newer), at the version nearest the Python SDK that the proxy serves,
# and cached by version under $DJANGO_STACK_CACHE (default ~/.cache/django-stack), so only the
# first run on a machine pays for the build (about 10 minutes on 2 cores, 2 GB of module
# cache); later runs take a second. Each provider plugin is then looked up at the version the
# Python SDK asks for: installed already (`pulumi plugin install resource NAME VERSION --file
# BINARY` installs one you have), or its Go module asked of the proxy (none of the three is
# served today). A plugin that cannot be had is named, with the proxy's answer, in
# $DJANGO_STACK_CACHE/pulumi-plugins-missing.txt, and the command still succeeds: the CLI
# alone runs what needs no plugin, and the engine names a missing plugin when it needs one.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[pulumi] %s\n' "$*" >&2; }

# The CLI the proxy serves nearest to (not older than) requirements.txt's Python SDK: 3.272.0
# is not served; the SDK talks to any newer engine.
CLI_VERSION=3.274.1
# Plugins: name, the Python SDK package that fixes its version, and the Go module asked for.
# The provider modules have no tags of their own: command's is the pseudo-version of the
# v1.2.1 release commit; the commits of docker 5.2.0 and random 4.21.4 are not known here, so
# their release numbers are asked for as they are.
PLUGINS=(
  "command pulumi-command github.com/pulumi/pulumi-command/provider@v0.0.0-20260303235922-7f3eb6f3b77c"
  "random pulumi-random github.com/pulumi/pulumi-random/provider/v4@v4.21.4"
  "docker pulumi-docker github.com/pulumi/pulumi-docker/provider/v5@v5.2.0"
)

cache=${DJANGO_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/django-stack}
missing_report="$cache/pulumi-plugins-missing.txt"
mkdir -p "$cache"

sdk_version() { # the version requirements.txt pins for a Python package
  sed -n "s/^$1==\([0-9.]*\).*/\1/p" requirements.txt
}

if official=$(command -v pulumi 2>/dev/null) && [ "$official" != "$cache/pulumi-v$CLI_VERSION/bin/pulumi" ]; then
  log "using the Pulumi CLI at $official ($("$official" version))"
  dirname "$official"
  exit 0
fi

cli_dir="$cache/pulumi-v$CLI_VERSION/bin"
cli="$cli_dir/pulumi"
if [ ! -x "$cli" ]; then
  command -v go >/dev/null 2>&1 || { log "no Pulumi CLI and no Go toolchain to build one"; exit 1; }
  log "building the Pulumi CLI v$CLI_VERSION from Go modules (first run on this machine only)"
  started=$SECONDS
  work="$cache/build/pulumi-v$CLI_VERSION"
  rm -rf "$work" && mkdir -p "$work"
  # pkg/v3's own go.mod has replace lines, so `go install pkg@v` refuses it: a wrapper module
  # that requires the CLI's package builds it with the versions pkg/v3 asks for.
  (
    cd "$work"
    export GOFLAGS=-mod=mod
    go mod init local/pulumi-build >/dev/null 2>&1
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' > tools.go
    go get "github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$CLI_VERSION"
    go mod tidy
    # As Pulumi's release builds: no cgo, and the version stamped in.
    CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$CLI_VERSION" \
      -o "$work/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  ) >"$cache/build-pulumi-v$CLI_VERSION.log" 2>&1 || {
    tail -20 "$cache/build-pulumi-v$CLI_VERSION.log" >&2
    log "building the CLI failed; the whole log: $cache/build-pulumi-v$CLI_VERSION.log"
    exit 1
  }
  mkdir -p "$cli_dir"
  mv "$work/pulumi" "$cli"
  rm -rf "$work"
  log "built $cli in $((SECONDS - started))s"
fi

export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
installed=$("$cli" plugin ls 2>/dev/null || true)
: >"$missing_report"
for entry in "${PLUGINS[@]}"; do
  read -r name package module <<<"$entry"
  version=$(sdk_version "$package")
  if grep -Eq "^$name +resource +$version( |$)" <<<"$installed"; then
    continue
  fi
  # Building a plugin module is not written yet: none is served today (see the report).
  if answer=$(cd "$cache" && GOFLAGS=-mod=mod go mod download -json "$module" 2>&1) \
    && ! grep -q '"Error"' <<<"$answer"; then
    reason="served by the Go module proxy now, but this script does not build it yet"
  else
    reason=$(sed -n 's/.*"Error": "\(.*\)",*$/\1/p' <<<"$answer" | head -1)
  fi
  # go's error names the module and version asked for.
  printf '%s %s: %s\n' "$name" "$version" "${reason:-$module: $answer}" >>"$missing_report"
done
if [ -s "$missing_report" ]; then
  log "official plugins that could not be had (listed in $missing_report; the project builds its"
  log "own instead, scripts/build-own-plugins.sh and build-docker-provider.sh, which up.sh installs):"
  sed 's/^/[pulumi]   /' "$missing_report" >&2
fi
# Also where the official installer puts the CLI, so tools (and people) that look for
# `pulumi` there find this one; an official CLI already there is left alone.
home_cli="$HOME/.pulumi/bin/pulumi"
if [ ! -e "$home_cli" ] || [ -L "$home_cli" ]; then
  mkdir -p "$(dirname "$home_cli")" && ln -sfn "$cli" "$home_cli"
fi
echo "$cli_dir"
