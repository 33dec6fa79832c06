// Names, labels and addresses every piece of the operator agrees on.
import { API_VERSION, KIND, type KVCluster } from '../api/index.js';

export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;
/** Health and metrics only, plain HTTP (--listen-metrics-urls): probes and Prometheus need no certificate. */
export const METRICS_PORT = 2381;
/** Where a TLS cluster's Secret (tls.crt, tls.key, ca.crt) is mounted in the member pods. */
export const TLS_DIR = '/etc/raftkv/tls';
export const JWT_DIR = '/etc/raftkv/jwt';
export const DATA_DIR = '/var/lib/raftkv';

export const podName = (kvc: KVCluster, ordinal: number): string => `${kvc.metadata.name}-${ordinal}`;
export const peersServiceName = (kvc: KVCluster): string => `${kvc.metadata.name}-peers`;
export const pvcName = (kvc: KVCluster, ordinal: number): string => `data-${podName(kvc, ordinal)}`;

/** Member `i` of cluster `c`: c-i.c-peers.<ns>.svc, stable across pod restarts. */
function host(kvc: KVCluster, pod: string): string {
  return `${pod}.${peersServiceName(kvc)}.${kvc.metadata.namespace}.svc`;
}
/** A TLS cluster's client and peer URLs are https, as etcd's are. */
export const scheme = (kvc: KVCluster): 'http' | 'https' => (kvc.spec.tls ? 'https' : 'http');
export const peerURL = (kvc: KVCluster, ordinal: number): string =>
  `${scheme(kvc)}://${host(kvc, podName(kvc, ordinal))}:${PEER_PORT}`;
/** The same with the pod name left for the runtime to fill in ($(POD_NAME) in container args). */
export const templatedURL = (kvc: KVCluster, port: number): string =>
  `${scheme(kvc)}://${host(kvc, '$(POD_NAME)')}:${port}`;

export function selectorLabels(kvc: KVCluster): Record<string, string> {
  return { 'app.kubernetes.io/name': 'raftkv', 'app.kubernetes.io/instance': kvc.metadata.name };
}

export function labels(kvc: KVCluster): Record<string, string> {
  return { ...selectorLabels(kvc), 'app.kubernetes.io/managed-by': 'raftkv-operator' };
}

export function ownerReference(kvc: KVCluster) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: kvc.metadata.name,
    uid: kvc.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function metadata(kvc: KVCluster, name: string) {
  return {
    name,
    namespace: kvc.metadata.namespace,
    labels: labels(kvc),
    ownerReferences: [ownerReference(kvc)],
  };
}
