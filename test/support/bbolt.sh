#!/usr/bin/env bash
# Builds Go's bbolt command (etcd's B+tree library's own tool) once per machine and prints its
# path: `bbolt check` walks every page of a file as etcd's bbolt reads it, for the tests of the
# etcd snapshots raftkv writes. The version is the one etcd 3.5.35 uses (etcdctl/go.mod).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1=="go.etcd.io/bbolt" {print $2}' "$here/etcdctl/go.mod")"
exec "$here/go-tool.sh" bbolt "$version" "$here" "go.etcd.io/bbolt/cmd/bbolt@$version"
