#!/usr/bin/env bash
# Stops what up.sh started: first the API clients together (pod runner, scheduler,
# controller-manager), then kube-apiserver, then the store; SIGTERM, SIGKILL after 10 s.
# Removes the store's data; keeps certificates and logs.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
stop_group() {
  local name pid t
  local -a pids=() names=()
  t=$(date +%s%N)
  for name in "$@"; do
    [[ -f "$STATE/$name.pid" ]] || continue
    pid=$(cat "$STATE/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      pids+=("$pid")
      names+=("$name")
    fi
    rm -f "$STATE/$name.pid"
  done
  for i in "${!pids[@]}"; do
    for _ in $(seq 200); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "e2e-down: ${names[$i]} (${pids[$i]}) ignored SIGTERM, killing" >&2
      kill -KILL "${pids[$i]}" 2>/dev/null
    fi
  done
  if [[ -n "${RAFTKV_E2E_VERBOSE:-}" && ${#names[@]} -gt 0 ]]; then
    echo "e2e-down: ${names[*]} stopped in $(((($(date +%s%N) - t) / 1000000)))ms" >&2
  fi
}
stop_group pod-runner kube-scheduler kube-controller-manager
stop_group kube-apiserver
stop_group etcd "${STORE_MEMBERS[@]}"
rm -rf "$STATE/etcd" "$STATE/raftkv"
echo "e2e-down: stopped (logs kept in $STATE/logs)" >&2
