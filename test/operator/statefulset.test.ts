// The members' pod template for plain and TLS clusters: URLs, flags, the Secret's volume, and
// probes on the plain metrics port.
import { withDefaults } from '../../operator/api/validate.js';
import type { KVCluster } from '../../operator/api/index.js';
import { peerURL, revision, statefulSet } from '../../operator/resources/index.js';

const cluster = (spec: Record<string, unknown>): KVCluster =>
  withDefaults({ metadata: { name: 'kv', namespace: 'ns', uid: 'u1' }, spec } as unknown as KVCluster);
const shape = { replicas: 3, initialClusterState: 'new' as const, clusterOrdinals: [0, 1, 2] };
const container = (kvc: KVCluster) => statefulSet(kvc, shape).spec!.template.spec!.containers[0]!;

test('a plain cluster listens on http, serves health and metrics on 2381, and probes there', () => {
  const c = container(cluster({}));
  expect(c.args).toEqual(
    expect.arrayContaining([
      '--listen-client-urls=http://0.0.0.0:2379',
      '--listen-metrics-urls=http://0.0.0.0:2381',
    ]),
  );
  expect(c.args!.some((a) => a.includes('cert'))).toBe(false);
  expect([c.readinessProbe!.httpGet!.port, c.livenessProbe!.httpGet!.port]).toEqual([2381, 2381]);
  expect(statefulSet(cluster({}), shape).spec!.template.spec!.volumes).toBeUndefined();
});

test('a TLS cluster uses https on both ports, mutual TLS from the mounted Secret, and plain probes', () => {
  const kvc = cluster({ tls: { secretName: 's1' } });
  const c = container(kvc);
  expect(c.args).toEqual(
    expect.arrayContaining([
      '--listen-client-urls=https://0.0.0.0:2379',
      '--listen-peer-urls=https://0.0.0.0:2380',
      '--advertise-client-urls=https://$(POD_NAME).kv-peers.ns.svc:2379',
      `--initial-cluster=kv-0=${peerURL(kvc, 0)},kv-1=${peerURL(kvc, 1)},kv-2=${peerURL(kvc, 2)}`,
      '--cert-file=/etc/raftkv/tls/tls.crt',
      '--trusted-ca-file=/etc/raftkv/tls/ca.crt',
      '--client-cert-auth',
      '--peer-key-file=/etc/raftkv/tls/tls.key',
      '--peer-client-cert-auth',
      '--listen-metrics-urls=http://0.0.0.0:2381',
    ]),
  );
  expect(peerURL(kvc, 1)).toBe('https://kv-1.kv-peers.ns.svc:2380');
  expect(c.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/raftkv/tls', readOnly: true });
  expect(statefulSet(kvc, shape).spec!.template.spec!.volumes).toEqual([
    { name: 'tls', secret: { secretName: 's1' } },
  ]);
  expect(c.readinessProbe!.httpGet!.port).toBe(2381);
});

test('a new Secret name is a new revision: the pods roll onto it', () => {
  expect(revision(cluster({ tls: { secretName: 's1' } }))).not.toBe(
    revision(cluster({ tls: { secretName: 's2' } })),
  );
});

test('spec.auth.jwt gives the members etcd’s --auth-token jwt with the Secret’s key, and a change rolls them', () => {
  const auth = (jwt: Record<string, unknown>) => ({ auth: { secretName: 'root-creds', jwt } });
  const kvc = cluster({ tls: { secretName: 's1' }, ...auth({ secretName: 'keys' }) });
  const c = container(kvc);
  expect(c.args).toContain('--auth-token=jwt,sign-method=RS256,priv-key=/etc/raftkv/jwt/jwt.key,ttl=5m');
  expect(c.volumeMounts).toContainEqual({ name: 'jwt', mountPath: '/etc/raftkv/jwt', readOnly: true });
  expect(statefulSet(kvc, shape).spec!.template.spec!.volumes).toEqual([
    { name: 'tls', secret: { secretName: 's1' } },
    { name: 'jwt', secret: { secretName: 'keys', items: [{ key: 'jwt.key', path: 'jwt.key' }] } },
  ]);
  const es = container(cluster(auth({ secretName: 'keys', signMethod: 'ES256', ttl: '10m' })));
  expect(es.args).toContain('--auth-token=jwt,sign-method=ES256,priv-key=/etc/raftkv/jwt/jwt.key,ttl=10m');
  // Simple tokens (no jwt) pass no --auth-token: the member's default.
  expect(
    container(cluster({ auth: { secretName: 'root-creds' } })).args!.some((a) =>
      a.startsWith('--auth-token'),
    ),
  ).toBe(false);
  expect(revision(cluster(auth({ secretName: 'keys' })))).not.toBe(
    revision(cluster(auth({ secretName: 'keys', signMethod: 'ES256' }))),
  );
});

test('spec.raft.autoCompaction gives the members etcd’s auto-compaction flags; without it the template is as before', () => {
  const plain = cluster({});
  expect(container(plain).args!.some((a) => a.startsWith('--auto-compaction'))).toBe(false);
  const hourly = cluster({ raft: { autoCompaction: { retention: '1h' } } });
  expect(container(hourly).args).toEqual(
    expect.arrayContaining(['--auto-compaction-mode=periodic', '--auto-compaction-retention=1h']),
  );
  // Clusters that do not use it keep their revision, so upgrading the operator rolls nothing.
  expect(revision(cluster({ raft: { snapshotCount: 10000 } }))).toBe(revision(plain));
  expect(revision(hourly)).not.toBe(revision(plain));
});

test('while the operator forces a new cluster, the template names that one pod, and the revision stays', () => {
  const kvc = cluster({});
  const forced = statefulSet(kvc, { ...shape, forceNewClusterOrdinal: 1 });
  const args = forced.spec!.template.spec!.containers[0]!.args!;
  expect(args.filter((a) => a.startsWith('--force-new-cluster'))).toEqual([
    '--force-new-cluster-member=kv-1',
  ]);
  expect(container(kvc).args!.some((a) => a.startsWith('--force-new-cluster'))).toBe(false);
  // Pods made from the template before are not outdated by it: no rolling restart follows.
  expect(forced.spec!.template.metadata!.annotations).toEqual(
    statefulSet(kvc, shape).spec!.template.metadata!.annotations,
  );
});
