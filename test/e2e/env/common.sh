# Shared settings for up.sh / down.sh (sourced).
E2E_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
RAFTKV_CACHE="${RAFTKV_CACHE:-$HOME/.cache/raftkv}"
STATE="${RAFTKV_E2E_STATE:-/tmp/raftkv-e2e}"
# Kubernetes' own store: a 3-member raftkv cluster (client ports ETCD_PORT..+2, peer ports
# ETCD_PEER_PORT..+2), or with RAFTKV_E2E_STORE=etcd Debian's etcd on ETCD_PORT alone.
STORE="${RAFTKV_E2E_STORE:-raftkv}"
ETCD_PORT="${RAFTKV_E2E_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${RAFTKV_E2E_ETCD_PEER_PORT:-23800}"
STORE_MEMBERS=(store-0 store-1 store-2)
API_PORT="${RAFTKV_E2E_API_PORT:-16443}"
# Pods live in 10.244.0.0/24 behind the bridge raftkv-br0 (10.244.0.1), made by the pod runner.
BRIDGE_IP=10.244.0.1
SERVICE_CIDR=10.96.0.0/16
# Start order; down.sh stops in reverse.
COMPONENTS=(etcd "${STORE_MEMBERS[@]}" kube-apiserver kube-controller-manager kube-scheduler pod-runner)
