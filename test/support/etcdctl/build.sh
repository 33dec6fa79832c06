#!/usr/bin/env bash
# Builds etcdctl at the version pinned in go.mod, once per machine, into
# ${RAFTKV_CACHE:-$HOME/.cache/raftkv}/etcdctl-<version>/, and prints the binary's path. Debian's
# etcdctl is 3.4; etcd users today mostly run 3.5, which names endpoints differently on the wire.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1=="require" && $2=="go.etcd.io/etcd/etcdctl/v3" {print $3}' "$here/go.mod")"
cache="${RAFTKV_CACHE:-$HOME/.cache/raftkv}"
bin="$cache/etcdctl-$version"
if [[ ! -x "$bin/etcdctl" ]]; then
  export PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || { echo "go not found (expected /usr/local/go/bin/go)" >&2; exit 1; }
  echo "building etcdctl $version into $bin (cold: ~1 min on 2 cores)" >&2
  cd "$here"
  GOCACHE="$cache/gocache" GOMODCACHE="$cache/gomod" GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
    go build -trimpath -ldflags="-s -w" -o "$bin.tmp/" go.etcd.io/etcd/etcdctl/v3 >&2
  rm -rf "$bin" && mv "$bin.tmp" "$bin"
fi
echo "$bin/etcdctl"
