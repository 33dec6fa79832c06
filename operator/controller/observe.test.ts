// How the operator reads a cluster (observe.ts) and writes it back for people (status.ts), on
// plain objects: identities matched by id, unhealthy time surviving operator restarts, the
// leader most members agree on, and condition times kept while nothing changes.
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { withDefaults, type KVCluster } from '../api/index.js';
import type { MemberStatus } from '../members/client.js';
import { decide } from '../reconcile/decide.js';
import { peerURL } from '../resources/index.js';
import { ordinalOfPod, toObserved, type ClusterReading } from './observe.js';
import { buildStatus } from './status.js';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const kvc: KVCluster = withDefaults({
  apiVersion: 'raftkv.io/v1alpha1',
  kind: 'KVCluster',
  metadata: { name: 'kv', namespace: 'db', uid: 'u1', generation: 2 },
  spec: { replicas: 3 },
} as KVCluster);
const id = (k: number) => `00000000000000a${k}`;
const pod = (k: number, extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
  metadata: { name: `kv-${k}`, creationTimestamp: new Date(NOW - 60_000), ...extra },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});
const pvc = (
  k: number,
  extra: Partial<V1PersistentVolumeClaim['metadata']> = {},
): V1PersistentVolumeClaim => ({
  metadata: { name: `data-kv-${k}`, creationTimestamp: new Date(NOW - 60_000), ...extra },
});
const status = (k: number, leader: number | undefined, raftIndex = 100): MemberStatus => ({
  id: id(k),
  leader: leader === undefined ? undefined : id(leader),
  raftIndex,
  raftTerm: 3,
  isLearner: false,
});

function reading(statuses: [number, MemberStatus | Error][], base: KVCluster = kvc): ClusterReading {
  return {
    kvc: base,
    statefulSet: {
      spec: { replicas: 3, selector: {}, serviceName: 'kv-peers', template: {} },
      status: { replicas: 3 },
    },
    pods: [pod(0), pod(1), pod(2)],
    pvcs: [pvc(0), pvc(1), pvc(2)],
    endpoints: new Map(statuses.map(([k]) => [`kv-${k}`, `http://10.0.0.${k}:2379`])),
    statuses: new Map(statuses.map(([k, s]) => [`kv-${k}`, s])),
    members: [0, 1, 2].map((k) => ({
      id: id(k),
      name: `kv-${k}`,
      peerURLs: [peerURL(base, k)],
      isLearner: false,
    })),
  };
}

test('pod names map to ordinals only in the exact <cluster>-<n> form', () => {
  expect([ordinalOfPod(kvc, 'kv-0'), ordinalOfPod(kvc, 'kv-10')]).toEqual([0, 10]);
  for (const name of ['kv-01', 'kv-x', 'kvx-1', 'kv-', 'other-1', 'kv-1-a']) {
    expect([name, ordinalOfPod(kvc, name)]).toEqual([name, undefined]);
  }
});

test('members map to ordinals by peer URL; the leader is the one most members name', () => {
  const o = toObserved(
    reading([
      [0, status(0, 1, 90)],
      [1, status(1, 1, 120)],
      [2, status(2, 2, 80)],
    ]),
    NOW,
  );
  expect(o.members!.map((m) => m.ordinal)).toEqual([0, 1, 2]);
  expect(o.leaderId).toBe(id(1));
  expect(o.leaderIndex).toBe(120);
  expect(o.health.map((h) => h.healthy)).toEqual([true, true, true]);
});

test('a pod answering with another id is not that member; unhealthy time survives an operator restart', () => {
  const since = NOW - 90_000;
  const base: KVCluster = {
    ...kvc,
    status: {
      members: [
        {
          name: 'kv-2',
          id: id(2),
          role: 'follower',
          healthy: false,
          raftIndex: 5,
          lastSeen: new Date(since).toISOString(),
        },
      ],
    },
  };
  const impostor = { ...status(2, 0), id: 'ffffffffffffffff' };
  const o = toObserved(
    reading(
      [
        [0, status(0, 0)],
        [1, new Error('connect ECONNREFUSED')],
        [2, impostor],
      ],
      base,
    ),
    NOW,
  );
  const h = (k: number) => o.health.find((x) => x.id === id(k))!;
  expect(h(1)).toMatchObject({ healthy: false, raftIndex: 0, unhealthySince: NOW });
  expect(h(2)).toMatchObject({ healthy: false, raftIndex: 0, unhealthySince: since });
  expect(o.formedBefore).toBe(true);
});

test('terminating pods and claims are seen as terminating; foreign names are ignored', () => {
  const r = reading([[0, status(0, 0)]]);
  r.pods = [pod(0, { deletionTimestamp: new Date(NOW) }), { metadata: { name: 'other-0' } }];
  r.pvcs = [pvc(1, { deletionTimestamp: new Date(NOW) }), pvc(7), { metadata: { name: 'data-kvx-1' } }];
  const o = toObserved(r, NOW);
  expect(o.pods.map((p) => [p.ordinal, p.terminating])).toEqual([[0, true]]);
  expect(o.pvcs.map((p) => [p.ordinal, p.terminating])).toEqual([
    [1, true],
    [7, false],
  ]);
});

test('status: roles, numeric order, and condition times kept while their status holds', () => {
  const r = reading([
    [0, status(0, 0)],
    [1, status(1, 0)],
    [2, status(2, 0)],
  ]);
  const o = toObserved(r, NOW);
  const first = buildStatus(r, o, decide(o, { replaceAfterMs: 60_000, catchUpEntries: 100, pollMs: 1000 }));
  expect(first.members!.map((m) => [m.name, m.role])).toEqual([
    ['kv-0', 'leader'],
    ['kv-1', 'follower'],
    ['kv-2', 'follower'],
  ]);
  expect(first.leader).toBe('kv-0');
  expect(first.quorum).toEqual({ voters: 3, size: 2, healthy: 3, failureTolerance: 1 });
  const available = first.conditions!.find((c) => c.type === 'Available')!;
  expect(available).toMatchObject({
    status: 'True',
    lastTransitionTime: new Date(NOW).toISOString(),
    observedGeneration: 2,
  });

  const later = NOW + 30_000;
  const r2 = {
    ...reading(
      [
        [0, status(0, 0)],
        [1, status(1, 0)],
        [2, status(2, 0)],
      ],
      { ...kvc, status: first },
    ),
  };
  const o2 = toObserved(r2, later);
  const second = buildStatus(
    r2,
    o2,
    decide(o2, { replaceAfterMs: 60_000, catchUpEntries: 100, pollMs: 1000 }),
  );
  expect(second.conditions!.find((c) => c.type === 'Available')!.lastTransitionTime).toBe(
    available.lastTransitionTime,
  );
  expect(second.members![0]!.lastSeen).toBe(new Date(later).toISOString());
});
