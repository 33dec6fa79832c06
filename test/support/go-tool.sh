#!/usr/bin/env bash
# Builds a Go command once per machine into ${RAFTKV_CACHE:-$HOME/.cache/raftkv}/<name>-<version>/
# (its GOCACHE and GOMODCACHE there too, outside the repository) and prints the binary's path.
#   go-tool.sh <name> <version> <directory to run go in> <go install arguments...>
set -euo pipefail
name="$1" version="$2" dir="$3"
shift 3
cache="${RAFTKV_CACHE:-$HOME/.cache/raftkv}"
bin="$cache/$name-$version"
if [[ ! -x "$bin/$name" ]]; then
  export PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || { echo "go not found (expected /usr/local/go/bin/go)" >&2; exit 1; }
  echo "building $name $version into $bin (once per machine: a minute or more when cold)" >&2
  cd "$dir"
  GOCACHE="$cache/gocache" GOMODCACHE="$cache/gomod" GOFLAGS="-buildvcs=false" CGO_ENABLED=0 GOBIN="$bin.tmp" \
    go install -trimpath -ldflags="-s -w" "$@" >&2
  rm -rf "$bin" && mv "$bin.tmp" "$bin"
fi
echo "$bin/$name"
