#!/usr/bin/env bash
# Stops what up.sh started (reverse order, SIGTERM then SIGKILL after 10 s) and removes etcd data.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  name=${COMPONENTS[$i]}
  pidfile="$STATE/$name.pid"
  [[ -f "$pidfile" ]] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "e2e-down: $name ($pid) ignored SIGTERM, killing" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$pidfile"
done
rm -rf "$STATE/etcd"
echo "e2e-down: stopped (logs kept in $STATE/logs)" >&2
