// The Services and the PodDisruptionBudget of a cluster.
import type { V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import type { KVCluster } from '../api/index.js';
import {
  CLIENT_PORT,
  METRICS_PORT,
  PEER_PORT,
  metadata,
  peersServiceName,
  selectorLabels,
} from './naming.js';

/**
 * Headless: gives each member its stable DNS name, ready or not (members must find each other to
 * become ready). Monitoring scrapes members through it too (component=peers, the plain metrics
 * port), so a member without a leader still reports, and a TLS cluster needs no certificate.
 */
export function peersService(kvc: KVCluster): V1Service {
  const meta = metadata(kvc, peersServiceName(kvc));
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { ...meta, labels: { ...meta.labels, 'app.kubernetes.io/component': 'peers' } },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(kvc),
      ports: [
        { name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT },
        { name: 'peer', port: PEER_PORT, targetPort: PEER_PORT },
        { name: 'metrics', port: METRICS_PORT, targetPort: METRICS_PORT },
      ],
    },
  };
}

/** What clients use: only ready members (a leader known and caught up) get traffic. */
export function clientService(kvc: KVCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(kvc, kvc.metadata.name),
    spec: {
      selector: selectorLabels(kvc),
      ports: [{ name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT }],
    },
  };
}

/** A voluntary disruption may take down at most the members the quorum can spare: replicas − quorum. */
export function podDisruptionBudget(kvc: KVCluster): V1PodDisruptionBudget {
  const n = kvc.spec.replicas;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(kvc, kvc.metadata.name),
    spec: { maxUnavailable: n - (Math.floor(n / 2) + 1), selector: { matchLabels: selectorLabels(kvc) } },
  };
}
