// The KVCluster resource, defined once: TypeBox builds both the OpenAPI schema the CRD carries
// (the API server validates and defaults with it) and the TypeScript types the operator uses.
// Fields with a default are required in the schema: the API server fills them in before it
// validates, so every object the operator reads has them.
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export const GROUP = 'raftkv.io';
export const VERSION = 'v1alpha1';
export const KIND = 'KVCluster';
export const PLURAL = 'kvclusters';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Parts of a pod spec passed through as they are (the API server validates them on the pod). */
const Passthrough = (description: string) =>
  Type.Unsafe<Record<string, unknown>>({
    type: 'object',
    'x-kubernetes-preserve-unknown-fields': true,
    description,
  });
const PassthroughList = (description: string) =>
  Type.Unsafe<Record<string, unknown>[]>({
    type: 'array',
    items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    description,
  });
const StringMap = (description: string) =>
  Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string' },
    description,
  });

/** A string enum as Kubernetes wants it (TypeBox's unions of literals become anyOf/const, which CRDs reject). */
const Enum = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: 'string', enum: values });

/**
 * An object whose default is itself with every field defaulted: the API server checks a default
 * against the schema, so `{}` would miss the required fields.
 */
function defaulted<T extends TObject>(schema: T): T {
  return Object.assign(schema, { default: Value.Default(schema, {}) });
}

const Quantity = Type.String({
  pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$',
  description: 'A Kubernetes quantity, e.g. 1Gi',
});

export const ReplicasRule = {
  rule: 'self % 2 == 1',
  message: 'replicas must be odd (1, 3, 5, 7 or 9) so that a majority survives any partition',
};

export const TlsFixedRule = {
  rule: 'has(self.tls) == has(oldSelf.tls)',
  message:
    'tls is chosen when the cluster is created: turning it on or off would change every peer URL at once',
};

export const SpecSchema = Type.Object(
  {
    replicas: Type.Integer({
      minimum: 1,
      maximum: 9,
      default: 3,
      description: 'Number of voting members: odd, 1 to 9. Changed one member at a time.',
      'x-kubernetes-validations': [ReplicasRule],
    }),
    version: Type.Optional(
      Type.String({ description: 'raftkv version; the image is raftkv:<version> unless image is set' }),
    ),
    image: Type.Optional(Type.String({ description: 'Member image; wins over version' })),
    storage: defaulted(
      Type.Object(
        {
          size: Type.String({ ...Quantity, default: '1Gi' }),
          storageClassName: Type.Optional(Type.String()),
        },
        { description: 'Each member’s data volume' },
      ),
    ),
    resources: Type.Optional(Passthrough('Resource requests and limits of the member container')),
    podTemplate: Type.Optional(
      Type.Object(
        {
          affinity: Type.Optional(Passthrough('Pod affinity')),
          tolerations: Type.Optional(PassthroughList('Pod tolerations')),
          nodeSelector: Type.Optional(StringMap('Pod node selector')),
          topologySpreadConstraints: Type.Optional(PassthroughList('Pod topology spread constraints')),
          annotations: Type.Optional(StringMap('Extra pod annotations')),
          labels: Type.Optional(StringMap('Extra pod labels')),
        },
        { description: 'Overrides for the member pods' },
      ),
    ),
    raft: defaulted(
      Type.Object(
        {
          heartbeatIntervalMs: Type.Integer({ minimum: 10, maximum: 5000, default: 100 }),
          electionTimeoutMs: Type.Integer({ minimum: 50, maximum: 50000, default: 1000 }),
          snapshotCount: Type.Integer({ minimum: 100, default: 10000 }),
          quotaBackendBytes: Type.Integer({ minimum: 16 * 1024 * 1024, default: 2 * 1024 ** 3 }),
          // Optional, so clusters without it keep their pod template (and are not rolled) when the operator is upgraded.
          autoCompaction: Type.Optional(
            Type.Object(
              {
                mode: Type.String({
                  pattern: '^(periodic|revision)$',
                  default: 'periodic',
                  description:
                    'periodic: keep the retention’s time of history; revision: keep that many revisions',
                }),
                retention: Type.String({
                  pattern: '^([0-9]+|[0-9]+(ms|s|m|h))$',
                  maxLength: 32,
                  description:
                    'A duration (30m, 1h; a bare number counts hours) in periodic mode, a number of revisions in ' +
                    'revision mode; 0 turns it off',
                }),
              },
              {
                description:
                  'etcd’s --auto-compaction-mode and --auto-compaction-retention: the leader compacts older history',
                'x-kubernetes-validations': [
                  {
                    rule: "self.mode != 'revision' || self.retention.matches('^[0-9]+$')",
                    message: 'in revision mode the retention is a number of revisions',
                  },
                ],
              },
            ),
          ),
        },
        {
          description: 'Raft and backend tuning (etcd’s flags of the same names)',
          'x-kubernetes-validations': [
            {
              rule: 'self.electionTimeoutMs >= 5 * self.heartbeatIntervalMs',
              message:
                'electionTimeoutMs must be at least 5 heartbeats, or followers start elections under normal load',
            },
          ],
        },
      ),
    ),
    pdb: defaulted(
      Type.Object(
        { enabled: Type.Boolean({ default: true }) },
        { description: 'A PodDisruptionBudget allowing at most replicas - quorum disruptions' },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          secretName: Type.String({
            minLength: 1,
            description:
              'A Secret in the cluster’s namespace with tls.crt, tls.key and ca.crt (what cert-manager writes): ' +
              'the members’ certificate, for server and client use, with <cluster>-<i>.<cluster>-peers.<namespace>.svc ' +
              '(or *.<cluster>-peers.<namespace>.svc) and the client Service’s names among its DNS names',
          }),
        },
        {
          description:
            'Mutual TLS on the client and peer ports, signed by ca.crt; health and metrics stay on the plain metrics port (2381)',
        },
      ),
    ),
    auth: Type.Optional(
      Type.Object(
        {
          secretName: Type.String({
            minLength: 1,
            description:
              'A Secret in the cluster’s namespace with username and password (a kubernetes.io/basic-auth Secret) ' +
              'of a user with the root role',
          }),
          jwt: Type.Optional(
            Type.Object(
              {
                secretName: Type.String({
                  minLength: 1,
                  description:
                    'A Secret in the cluster’s namespace with jwt.key: the PEM private key that signs tokens ' +
                    '(for HS256/384/512, the shared secret)',
                }),
                signMethod: Type.String({
                  pattern: '^(RS|PS|ES|HS)(256|384|512)$',
                  default: 'RS256',
                  description: 'etcd’s sign-method: RS, PS, ES or HS with 256, 384 or 512',
                }),
                ttl: Type.String({
                  pattern: '^[0-9]+(ms|s|m|h)$',
                  default: '5m',
                  description: 'How long a token is valid after it is made',
                }),
              },
              {
                description:
                  'etcd’s JWT tokens (--auth-token jwt) instead of simple ones: any member verifies them, so they ' +
                  'outlive member restarts and rolling upgrades',
              },
            ),
          ),
        },
        {
          description:
            'The operator’s credentials for a cluster whose auth is (or will be) enabled: membership changes and ' +
            'leadership transfers need the root role then. Not needed while auth is off',
        },
      ),
    ),
  },
  {
    'x-kubernetes-validations': [TlsFixedRule],
  },
);

const Time = Type.String({ format: 'date-time' });

export const StatusSchema = Type.Object({
  phase: Type.Optional(Type.String()),
  observedGeneration: Type.Optional(Type.Integer()),
  replicas: Type.Optional(Type.Integer()),
  readyReplicas: Type.Optional(Type.Integer()),
  selector: Type.Optional(Type.String()),
  members: Type.Optional(
    Type.Array(
      Type.Object({
        name: Type.String(),
        id: Type.String(),
        role: Enum(['leader', 'follower', 'learner'] as const),
        healthy: Type.Boolean(),
        raftIndex: Type.Integer(),
        lastSeen: Type.Optional(Time),
      }),
    ),
  ),
  leader: Type.Optional(Type.String()),
  quorum: Type.Optional(
    Type.Object({
      voters: Type.Integer(),
      size: Type.Integer(),
      healthy: Type.Integer(),
      failureTolerance: Type.Integer(),
    }),
  ),
  conditions: Type.Optional(
    Type.Array(
      Type.Object({
        type: Type.String(),
        status: Enum(['True', 'False', 'Unknown'] as const),
        reason: Type.String(),
        message: Type.String(),
        lastTransitionTime: Time,
        observedGeneration: Type.Optional(Type.Integer()),
      }),
    ),
  ),
  pendingOperation: Type.Optional(
    Type.Object({
      kind: Enum(['scaleUp', 'scaleDown', 'replace', 'upgrade', 'forceNewCluster'] as const),
      ordinal: Type.Integer(),
      startedAt: Time,
    }),
  ),
  bootstrapReplicas: Type.Optional(Type.Integer()),
  lastRecovery: Type.Optional(Type.String()),
  lastForceNewCluster: Type.Optional(Type.String()),
});

export type KVClusterSpec = Static<typeof SpecSchema>;
export type KVClusterStatus = Static<typeof StatusSchema>;

export interface KVCluster {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    resourceVersion?: string;
  };
  spec: KVClusterSpec;
  status?: KVClusterStatus;
}

/** A plain JSON copy: TypeBox marks its schemas with symbol keys the API server must not see. */
export function plainSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}
