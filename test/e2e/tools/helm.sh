#!/usr/bin/env bash
# Builds helm (pinned below) with `go install` once per machine into
# ${RAFTKV_CACHE:-$HOME/.cache/raftkv}/helm-<version>/ and prints the binary's path.
set -euo pipefail
version=v3.19.5
cache="${RAFTKV_CACHE:-$HOME/.cache/raftkv}"
bin="$cache/helm-$version"
if [[ ! -x "$bin/helm" ]]; then
  export PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || { echo "go not found (expected /usr/local/go/bin/go)" >&2; exit 1; }
  echo "building helm $version into $bin (cold: ~3 min on 2 cores)" >&2
  GOCACHE="$cache/gocache" GOMODCACHE="$cache/gomod" CGO_ENABLED=0 GOBIN="$bin" \
    go install -trimpath -ldflags="-s -w" "helm.sh/helm/v3/cmd/helm@$version" >&2
fi
echo "$bin/helm"
