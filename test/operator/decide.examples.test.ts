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
    forceRequest: undefined,
    lastForce: undefined,
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

test('force-new-cluster: only while quorum is lost, only a voter, then the pod restarts forced until it leads alone', () => {
  const o = down(down(cluster(3), 1, 600_000), 2, 600_000);
  o.leaderId = undefined;
  o.forceRequest = 'kv-0';
  const d = decide(o, policy);
  expect(d.step).toEqual({ kind: 'forceNewCluster', ordinal: 0, request: 'kv-0' });
  expect(d.pending).toEqual({ kind: 'forceNewCluster', ordinal: 0, startedAt: NOW });
  expect(d.assessment.phase).toBe('QuorumLost');

  // Recorded: the operator crashed before the pod went, so it is deleted now.
  o.lastForce = 'kv-0';
  o.pending = d.pending;
  expect(decide(o, policy).step).toEqual({ kind: 'deletePod', ordinal: 0 });
  // Back, but not leading alone yet: wait, the operation kept.
  o.pods = o.pods.map((p) => (p.ordinal === 0 ? { ...p, createdAt: NOW + 1000 } : p));
  o.now = NOW + 5000;
  const waiting = decide(o, policy);
  expect(waiting.step.kind).toBe('wait');
  expect(waiting.reason).toMatch(/waiting for member 0 to start as the only member/);
  expect(waiting.pending).toEqual(d.pending);

  // It leads alone: the template stops forcing it before anything else, then the others are replaced.
  o.members = o.members!.filter((m) => m.ordinal === 0);
  o.health = o.health.filter((h) => h.id === id(0));
  o.leaderId = id(0);
  const done = decide(o, policy);
  expect(done.step).toEqual({ kind: 'endForce', ordinal: 0 });
  expect(done.pending).toBeUndefined();
  o.pending = undefined;
  const next = decide(o, policy);
  expect(next.step).toEqual({ kind: 'deletePvc', ordinal: 1 });
  expect(next.pending).toMatchObject({ kind: 'replace', ordinal: 1 });
});

test('force-new-cluster requests that cannot act are declined once, with why, and keep the operation under way', () => {
  const healthy = cluster(3);
  healthy.forceRequest = 'kv-0';
  healthy.pending = { kind: 'upgrade', ordinal: 2, startedAt: NOW - 1000 };
  const d = decide(healthy, policy);
  expect(d.step).toEqual({ kind: 'declineForce', request: 'kv-0' });
  expect(d.reason).toBe('quorum is not lost; it acts only while it is');
  expect(d.pending).toEqual(healthy.pending);
  healthy.lastForce = 'kv-0';
  expect(decide(healthy, policy).step.kind).not.toBe('declineForce');

  const lost = down(down(cluster(3), 1, 600_000), 2, 600_000);
  lost.forceRequest = 'kv-7';
  expect(decide(lost, policy).reason).toBe('no pod kv-7 in the StatefulSet');
  lost.members = lost.members!.map((m) => (m.ordinal === 0 ? { ...m, isLearner: true } : m));
  lost.forceRequest = 'kv-0';
  const learner = decide(lost, policy);
  expect(learner.step).toEqual({ kind: 'declineForce', request: 'kv-0' });
  expect(learner.reason).toBe('kv-0 is not a voter of the cluster');
});

test('a force request withdrawn while under way stops it: the cluster is back to waiting for its members', () => {
  const o = down(down(cluster(3), 1, 600_000), 2, 600_000);
  o.pending = { kind: 'forceNewCluster', ordinal: 0, startedAt: NOW - 1000 };
  o.lastForce = 'kv-0';
  const d = decide(o, policy);
  expect(d.step).toEqual({ kind: 'endForce', ordinal: 0 });
  expect(d.reason).toBe('force-new-cluster request withdrawn; member 0 is not forced');
  expect(d.pending).toBeUndefined();
  o.pending = undefined;
  expect(decide(o, policy).reason).toMatch(/quorum lost.*raftkv\.io\/force-new-cluster=<pod>/);
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
