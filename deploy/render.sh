#!/usr/bin/env bash
# The plain manifests in deploy/ are the chart rendered with its defaults (operator) and with
# monitoring switched on (monitoring): one source, two ways to install. `make manifests` writes
# them; `deploy/render.sh --check` (part of `make test`) fails if they differ from the chart.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
helm="$(test/e2e/tools/helm.sh)"
chart=charts/raftkv-operator
render() { "$helm" template raftkv-operator "$chart" --namespace raftkv-system --kube-version 1.30.0 "$@"; }

operator() {
  echo '# Generated from charts/raftkv-operator by `make manifests`; do not edit.'
  echo '# The operator: namespace, service account, RBAC, two replicas electing a leader through a Lease,'
  echo '# and its metrics Service. Apply after deploy/crd/kvcluster.yaml.'
  printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: raftkv-system\n'
  render
}
monitoring() {
  echo '# Generated from charts/raftkv-operator by `make manifests`; do not edit.'
  echo '# For clusters running prometheus-operator: ServiceMonitors, alert rules and the Grafana dashboard.'
  render --set metrics.serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true \
    --show-only templates/servicemonitor.yaml --show-only templates/prometheusrule.yaml \
    --show-only templates/dashboard.yaml
}

"$helm" lint "$chart" --strict --kube-version 1.30.0 >/dev/null
if [[ "${1:-}" == --check ]]; then
  diff -u deploy/operator/operator.yaml <(operator) && diff -u deploy/monitoring/monitoring.yaml <(monitoring) ||
    { echo "deploy/ differs from the chart: run make manifests" >&2; exit 1; }
  echo "deploy/ matches charts/raftkv-operator; helm lint passes"
else
  mkdir -p deploy/monitoring
  operator >deploy/operator/operator.yaml
  monitoring >deploy/monitoring/monitoring.yaml
  echo "wrote deploy/operator/operator.yaml, deploy/monitoring/monitoring.yaml"
fi
