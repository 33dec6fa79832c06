// The members' StatefulSet. The operator owns its size (one member at a time) and rolls its pods
// itself (updateStrategy OnDelete), so the builder takes the size and the bootstrap state from
// the reconciler rather than from the spec.
import { createHash } from 'node:crypto';
import type { V1StatefulSet, V1Volume } from '@kubernetes/client-node';
import type { KVCluster } from '../api/index.js';
import {
  CLIENT_PORT,
  DATA_DIR,
  METRICS_PORT,
  PEER_PORT,
  TLS_DIR,
  JWT_DIR,
  labels,
  metadata,
  peerURL,
  peersServiceName,
  podName,
  scheme,
  selectorLabels,
  templatedURL,
} from './naming.js';

export const REVISION_ANNOTATION = 'raftkv.io/revision';

export interface StatefulSetShape {
  replicas: number;
  /** `new` while the founders form the cluster; `existing` from then on, so empty pods join. */
  initialClusterState: 'new' | 'existing';
  /** The ordinals listed in --initial-cluster: the founders, or every member a joiner may need to reach. */
  clusterOrdinals: number[];
  /**
   * While the operator forces a new cluster: the ordinal whose member starts with
   * --force-new-cluster (one template serves every pod, so the member compares its own name).
   */
  forceNewClusterOrdinal?: number;
}

export function image(kvc: KVCluster): string {
  return kvc.spec.image ?? `raftkv:${kvc.spec.version ?? '0.1.0'}`;
}

/** Sorted keys, so the same spec always hashes the same. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/**
 * What a pod must be restarted for: image, resources, pod overrides, tuning, the TLS Secret. Not
 * replicas or the bootstrap bookkeeping, which change the template without making any running pod
 * outdated.
 */
export function revision(kvc: KVCluster): string {
  const { resources, podTemplate, raft, tls } = kvc.spec;
  const jwt = kvc.spec.auth?.jwt;
  const relevant = canonical({
    image: image(kvc),
    resources,
    podTemplate,
    raft,
    ...(tls ? { tls } : {}),
    ...(jwt ? { jwt } : {}),
  });
  return createHash('sha256').update(JSON.stringify(relevant)).digest('hex').slice(0, 12);
}

function args(kvc: KVCluster, shape: StatefulSetShape): string[] {
  const { raft } = kvc.spec;
  const cluster = shape.clusterOrdinals.map((i) => `${podName(kvc, i)}=${peerURL(kvc, i)}`).join(',');
  return [
    '--name=$(POD_NAME)',
    `--data-dir=${DATA_DIR}`,
    `--listen-client-urls=${scheme(kvc)}://0.0.0.0:${CLIENT_PORT}`,
    `--advertise-client-urls=${templatedURL(kvc, CLIENT_PORT)}`,
    `--listen-peer-urls=${scheme(kvc)}://0.0.0.0:${PEER_PORT}`,
    `--listen-metrics-urls=http://0.0.0.0:${METRICS_PORT}`,
    `--initial-advertise-peer-urls=${templatedURL(kvc, PEER_PORT)}`,
    `--initial-cluster=${cluster}`,
    `--initial-cluster-state=${shape.initialClusterState}`,
    // The uid keeps a re-created cluster of the same name from accepting the old one's members.
    `--initial-cluster-token=${kvc.metadata.namespace}/${kvc.metadata.name}/${kvc.metadata.uid}`,
    `--heartbeat-interval=${raft.heartbeatIntervalMs}`,
    `--election-timeout=${raft.electionTimeoutMs}`,
    `--snapshot-count=${raft.snapshotCount}`,
    `--quota-backend-bytes=${raft.quotaBackendBytes}`,
    ...(raft.autoCompaction
      ? [
          `--auto-compaction-mode=${raft.autoCompaction.mode}`,
          `--auto-compaction-retention=${raft.autoCompaction.retention}`,
        ]
      : []),
    ...(kvc.spec.tls ? tlsArgs() : []),
    ...jwtArgs(kvc),
    ...(shape.forceNewClusterOrdinal === undefined
      ? []
      : [`--force-new-cluster-member=${podName(kvc, shape.forceNewClusterOrdinal)}`]),
  ];
}

/** etcd's JWT tokens signed with the Secret's key; the public key is derived from it. */
function jwtArgs(kvc: KVCluster): string[] {
  const jwt = kvc.spec.auth?.jwt;
  if (!jwt) return [];
  return [`--auth-token=jwt,sign-method=${jwt.signMethod},priv-key=${JWT_DIR}/jwt.key,ttl=${jwt.ttl}`];
}

/** Mutual TLS on both ports with the one member certificate from the Secret. */
function tlsArgs(): string[] {
  const [cert, key, ca] = ['tls.crt', 'tls.key', 'ca.crt'].map((f) => `${TLS_DIR}/${f}`);
  return [
    ...[`--cert-file=${cert}`, `--key-file=${key}`, `--trusted-ca-file=${ca}`, '--client-cert-auth'],
    ...[`--peer-cert-file=${cert}`, `--peer-key-file=${key}`, `--peer-trusted-ca-file=${ca}`],
    '--peer-client-cert-auth',
  ];
}

/** The Secrets the members read files from: TLS material, and the JWT key (only jwt.key, which must be there). */
function secretVolumes(kvc: KVCluster): { volumes?: V1Volume[] } {
  const { tls } = kvc.spec;
  const jwt = kvc.spec.auth?.jwt;
  const volumes: V1Volume[] = [
    ...(tls ? [{ name: 'tls', secret: { secretName: tls.secretName } }] : []),
    ...(jwt
      ? [
          {
            name: 'jwt',
            secret: { secretName: jwt.secretName, items: [{ key: 'jwt.key', path: 'jwt.key' }] },
          },
        ]
      : []),
  ];
  return volumes.length > 0 ? { volumes } : {};
}

export function statefulSet(kvc: KVCluster, shape: StatefulSetShape): V1StatefulSet {
  const o = kvc.spec.podTemplate ?? {};
  const probe = (path: string, failureThreshold: number) => ({
    httpGet: { path, port: METRICS_PORT },
    periodSeconds: 2,
    timeoutSeconds: 2,
    failureThreshold,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: metadata(kvc, kvc.metadata.name),
    spec: {
      replicas: shape.replicas,
      serviceName: peersServiceName(kvc),
      // Founders need each other to become ready: start them together, not one by one.
      podManagementPolicy: 'Parallel',
      // The operator deletes pods itself, leader last and never below quorum.
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: selectorLabels(kvc) },
      template: {
        metadata: {
          labels: { ...o.labels, ...labels(kvc) },
          annotations: { ...o.annotations, [REVISION_ANNOTATION]: revision(kvc) },
        },
        spec: {
          terminationGracePeriodSeconds: 30,
          // The image runs as the unprivileged `node` user (uid 1000); fsGroup lets it write the volume.
          securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
          affinity: o.affinity,
          tolerations: o.tolerations,
          nodeSelector: o.nodeSelector,
          topologySpreadConstraints: o.topologySpreadConstraints,
          containers: [
            {
              name: 'raftkv',
              image: image(kvc),
              args: args(kvc, shape),
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
              ports: [
                { name: 'client', containerPort: CLIENT_PORT },
                { name: 'peer', containerPort: PEER_PORT },
                { name: 'metrics', containerPort: METRICS_PORT },
              ],
              readinessProbe: probe('/readyz', 3),
              livenessProbe: { ...probe('/livez', 10), initialDelaySeconds: 10 },
              resources: kvc.spec.resources,
              volumeMounts: [
                { name: 'data', mountPath: DATA_DIR },
                ...(kvc.spec.tls ? [{ name: 'tls', mountPath: TLS_DIR, readOnly: true }] : []),
                ...(kvc.spec.auth?.jwt ? [{ name: 'jwt', mountPath: JWT_DIR, readOnly: true }] : []),
              ],
            },
          ],
          ...secretVolumes(kvc),
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data', labels: selectorLabels(kvc) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: kvc.spec.storage.storageClassName,
            resources: { requests: { storage: kvc.spec.storage.size } },
          },
        },
      ],
    },
  } as V1StatefulSet;
}
