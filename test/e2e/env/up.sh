#!/usr/bin/env bash
# Starts the store (3 raftkv members, or etcd) + kube-apiserver + kube-controller-manager +
# kube-scheduler (+ the pod runner when it is built) on loopback, with generated certificates
# and a kubeconfig under $STATE.
# Prints the kubeconfig path. Stop with down.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
t0=$(date +%s%N)
bin="$("$E2E_ROOT/test/e2e/tools/build.sh")"
export PATH="$bin:$PATH"
[[ $STORE == raftkv ]] || command -v etcd >/dev/null || { echo "etcd not found: run make e2e-env" >&2; exit 1; }

running() { [[ -f "$STATE/$1.pid" ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }
if running kube-apiserver; then
  echo "already up (state $STATE); run down.sh first" >&2
  echo "$STATE/kubeconfig"
  exit 0
fi
mkdir -p "$STATE/pki" "$STATE/logs"

# --- certificates (kept across restarts; etcd data is not) ---
pki="$STATE/pki"
if [[ ! -f "$pki/admin.crt" ]]; then
  (
    cd "$pki"
    openssl genrsa -out ca.key 2048 2>/dev/null
    openssl req -x509 -new -key ca.key -subj "/CN=raftkv-e2e-ca" -days 3650 -out ca.crt 2>/dev/null
    cat > apiserver.ext <<EXT
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$BRIDGE_IP,IP:10.96.0.1
extendedKeyUsage=serverAuth
EXT
    openssl genrsa -out apiserver.key 2048 2>/dev/null
    openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    echo "extendedKeyUsage=clientAuth" > client.ext
    openssl genrsa -out admin.key 2048 2>/dev/null
    openssl req -new -key admin.key -subj "/O=system:masters/CN=raftkv-e2e-admin" -out admin.csr 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
fi
b64() { base64 -w0 < "$1"; }
cat > "$STATE/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: raftkv-e2e
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: raftkv-e2e
  context: {cluster: raftkv-e2e, user: admin}
current-context: raftkv-e2e
KC
export KUBECONFIG="$STATE/kubeconfig"

start() { # name, command...
  local name=$1
  shift
  setsid "$@" > "$STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/$name.pid"
}
fail() {
  echo "e2e-up: $1; last log lines:" >&2
  tail -n 30 "$STATE/logs/$2.log" >&2 || true
  "$(dirname "${BASH_SOURCE[0]}")/down.sh" >&2 || true
  exit 1
}
wait_for() { # name, seconds, test command...
  local name=$1 secs=$2
  shift 2
  local deadline=$(($(date +%s) + secs))
  until "$@" > /dev/null 2>&1; do
    running "$name" || fail "$name exited" "$name"
    (($(date +%s) < deadline)) || fail "$name not ready after ${secs}s" "$name"
    sleep 0.2
  done
}

health() { # url: 200 from etcd's /health shape (raftkv answers 503 without a leader)
  node -e "fetch('$1/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
}
rm -rf "$STATE/etcd" "$STATE/raftkv"
servers=()
gates=()
if [[ $STORE == raftkv ]]; then
  # The product itself stores Kubernetes' data: every e2e run is also kube-apiserver, the
  # controller-manager and the scheduler as raftkv clients.
  main="$E2E_ROOT/dist/node/main.js"
  [[ -f $main ]] || { echo "$main not found: run make build" >&2; exit 1; }
  initial=()
  for i in "${!STORE_MEMBERS[@]}"; do
    initial+=("${STORE_MEMBERS[$i]}=http://127.0.0.1:$((ETCD_PEER_PORT + i))")
    servers+=("http://127.0.0.1:$((ETCD_PORT + i))")
  done
  for i in "${!STORE_MEMBERS[@]}"; do
    name=${STORE_MEMBERS[$i]}
    start "$name" node "$main" --name "$name" --data-dir "$STATE/raftkv/$name" \
      --listen-client-urls "${servers[$i]}" --advertise-client-urls "${servers[$i]}" \
      --listen-peer-urls "http://127.0.0.1:$((ETCD_PEER_PORT + i))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PEER_PORT + i))" \
      --initial-cluster "$(IFS=,; echo "${initial[*]}")" --experimental-watch-progress-notify-interval 5s
  done
  for i in "${!STORE_MEMBERS[@]}"; do wait_for "${STORE_MEMBERS[$i]}" 30 health "${servers[$i]}"; done
  # Lists served from the watch cache (on by default from Kubernetes 1.31) lean on watch
  # progress requests, which Debian's etcd 3.4.23 does not answer and raftkv does.
  gates=(--feature-gates=ConsistentListFromCache=true)
else
  servers=("http://127.0.0.1:$ETCD_PORT")
  start etcd etcd --name e2e --data-dir "$STATE/etcd" \
    --listen-client-urls "${servers[0]}" --advertise-client-urls "${servers[0]}" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" --experimental-watch-progress-notify-interval 5s
  wait_for etcd 20 health "${servers[0]}"
fi

start kube-apiserver kube-apiserver \
  --etcd-servers "$(IFS=,; echo "${servers[*]}")" --etcd-compaction-interval 30s \
  --bind-address 127.0.0.1 --secure-port "$API_PORT" --advertise-address "$BRIDGE_IP" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --authorization-mode RBAC --allow-privileged=true \
  --enable-priority-and-fairness=false --profiling=false "${gates[@]}"
wait_for kube-apiserver 60 kubectl get --raw /readyz

start kube-controller-manager kube-controller-manager \
  --kubeconfig "$KUBECONFIG" --leader-elect=false --secure-port 0 \
  --enable-hostpath-provisioner \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --use-service-account-credentials=false --profiling=false
start kube-scheduler kube-scheduler \
  --kubeconfig "$KUBECONFIG" --leader-elect=false --secure-port 0 --profiling=false

# Default StorageClass served by the controller-manager's hostPath provisioner (dirs under /tmp/hostpath_pv).
kubectl apply -f - > /dev/null <<SC
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: hostpath
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
SC

runner="$E2E_ROOT/dist/test/e2e/runner/main.js"
if [[ "${RAFTKV_E2E_RUNNER:-1}" != 0 && -f "$runner" ]]; then
  start pod-runner node "$runner" --kubeconfig "$KUBECONFIG" --state "$STATE/runner"
  wait_for pod-runner 30 bash -c "kubectl get node raftkv-e2e -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
fi
# The default ServiceAccount must exist before pods can be created in a namespace.
wait_for kube-controller-manager 30 kubectl get serviceaccount default -n default
running kube-scheduler || fail "kube-scheduler exited" kube-scheduler
echo "e2e-up: $(kubectl version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -1) up in $(((($(date +%s%N) - t0) / 1000000)))ms; export KUBECONFIG=$KUBECONFIG" >&2
echo "$STATE/kubeconfig"
