// decide() on hand-made situations, one per rule in docs/operator.md: the step a person would
// expect, and the reason it gives.
import { decide } from '../../operator/reconcile/decide.js';
import type { Observed, Policy } from '../../operator/reconcile/model.js';

const policy: Policy = { replaceAfterMs: 60_000, catchUpEntries: 100, pollMs: 2000 };
const NOW = 1_800_000_000_000;
const id = (k: number) => k.toString(16).padStart(16, '0');

/** A healthy cluster of `n` voters (ordinals 0..n-1), leader `leader`, everything on revision r1. */
function cluster(n: number, leader = 0): Observed {
  const ks = Array.from({ length: n }, (_, k) => k);
  return {
    now: NOW,
    desired: { replicas: n, revision: 'r1' },
    statefulSetReplicas: n,
    bootstrapReplicas: undefined,
    pods: ks.map((k) => ({
      ordinal: k,
      name: `kv-${k}`,
      revision: 'r1',
      phase: 'Running',
      ready: true,
      terminating: false,
      createdAt: NOW - 600_000,
    })),
    pvcs: ks.map((k) => ({ ordinal: k, name: `data-kv-${k}`, terminating: false, createdAt: NOW - 600_000 })),
    members: ks.map((k) => ({
      id: id(k),
      name: `kv-${k}`,
      peerURL: `http://kv-${k}`,
      ordinal: k,
      isLearner: false,
    })),
    health: ks.map((k) => ({
      id: id(k),
      healthy: true,
      raftIndex: 500,
      lastSeen: NOW,
      unhealthySince: undefined,
    })),
    leaderId: id(leader),
    leaderIndex: 500,
    pending: undefined,
    formedBefore: true,
    recoveryRequest: undefined,
    lastRecovery: undefined,
  };
}

function down(o: Observed, k: number, forMs: number): Observed {
  o.health = o.health.map((h) =>
    h.id === id(k)
      ? { ...h, healthy: false, raftIndex: 0, lastSeen: NOW - forMs, unhealthySince: NOW - forMs }
      : h,
  );
  o.pods = o.pods.map((p) => (p.ordinal === k ? { ...p, ready: false } : p));
  return o;
}

test('a healthy cluster at its size is idle and Available', () => {
  const d = decide(cluster(3), policy);
  expect(d.step).toEqual({ kind: 'idle' });
  expect(d.assessment.conditions.find((c) => c.type === 'Available')?.status).toBe('True');
  expect(d.assessment.quorum).toEqual({ voters: 3, size: 2, healthy: 3, failureTolerance: 1 });
});

test('scale up starts by adding the next ordinal as a learner, and records the operation', () => {
  const o = cluster(3);
  o.desired.replicas = 5;
  const d = decide(o, policy);
  expect(d.step).toEqual({ kind: 'addLearner', ordinal: 3 });
  expect(d.pending).toEqual({ kind: 'scaleUp', ordinal: 3, startedAt: NOW });
});

test('scale down moves leadership off the highest ordinal before removing it', () => {
  const o = cluster(5, 4);
  o.desired.replicas = 3;
  expect(decide(o, policy).step).toEqual({ kind: 'transferLeadership', from: id(4), to: id(0) });
  o.leaderId = id(0);
  expect(decide(o, policy).step).toEqual({ kind: 'removeMember', id: id(4), ordinal: 4 });
});

test('a voter down past the grace period is removed for replacement; within it, the operator waits', () => {
  expect(decide(down(cluster(3), 1, 30_000), policy).step.kind).toBe('wait');
  const d = decide(down(cluster(3), 1, 90_000), policy);
  expect(d.step).toEqual({ kind: 'removeMember', id: id(1), ordinal: 1 });
  expect(d.pending?.kind).toBe('replace');
});

test('with one of three voters down, removing a healthy one is refused and QuorumAtRisk says so', () => {
  const o = down(cluster(3), 1, 30_000);
  o.desired.replicas = 1;
  const d = decide(o, policy);
  expect(d.step.kind).toBe('wait');
  expect(d.reason).toMatch(/removing member 2 now would leave no healthy majority/);
  expect(d.assessment.conditions.find((c) => c.type === 'QuorumAtRisk')?.status).toBe('True');
  // The failed member itself may go: the two healthy voters left are a majority of two.
  expect(decide(down(cluster(3), 2, 90_000), policy).step).toEqual({
    kind: 'removeMember',
    id: id(2),
    ordinal: 2,
  });
});

test('quorum lost: no membership change, a message naming the way out, and one restart per request', () => {
  const o = down(down(cluster(3), 1, 600_000), 2, 600_000);
  const d = decide(o, policy);
  expect(d.step.kind).toBe('wait');
  expect(d.reason).toMatch(/quorum lost: 1 of 3 voters healthy \(need 2\).*raftkv\.io\/recover/);
  expect(d.assessment.phase).toBe('QuorumLost');
  o.recoveryRequest = 'r-1';
  expect(decide(o, policy).step).toEqual({ kind: 'restartPods', ordinals: [1, 2], request: 'r-1' });
  o.lastRecovery = 'r-1';
  expect(decide(o, policy).step.kind).toBe('wait');
});

test('an upgrade restarts followers first (highest ordinal first) and the leader last, after a handover', () => {
  const o = cluster(3, 2);
  o.desired.revision = 'r2';
  expect(decide(o, policy).step).toEqual({ kind: 'deletePod', ordinal: 1 });
  o.pods = o.pods.map((p) => (p.ordinal === 2 ? p : { ...p, revision: 'r2' }));
  expect(decide(o, policy).step).toEqual({ kind: 'transferLeadership', from: id(2), to: id(0) });
});

test('an even replica count is reported, not acted on', () => {
  const o = cluster(3);
  o.desired.replicas = 4;
  const d = decide(o, policy);
  expect(d.step.kind).toBe('wait');
  expect(d.reason).toMatch(/spec.replicas 4 is not one of 1, 3, 5, 7, 9/);
  expect(d.assessment.phase).toBe('Invalid');
});
