#!/usr/bin/env bash
# Builds etcdctl at the version pinned in go.mod once per machine and prints the binary's path.
# Debian's etcdctl is 3.4; etcd users today mostly run 3.5, which names endpoints differently on
# the wire.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1=="require" && $2=="go.etcd.io/etcd/etcdctl/v3" {print $3}' "$here/go.mod")"
exec "$here/../go-tool.sh" etcdctl "$version" "$here" go.etcd.io/etcd/etcdctl/v3
