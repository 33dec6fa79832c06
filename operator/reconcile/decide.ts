// The operator's decisions: from one Observed to the one next safe step. Pure and deterministic.
// Order of concerns: a valid spec, a StatefulSet, quorum, then the operation under way (finished
// before anything new starts), then healing, scaling, upgrading, and tidying up.
import { assess } from './assess.js';
import type { Decision, Observed, PendingOperation, Policy, Step } from './model.js';
import { ClusterView, createdSince, validReplicas } from './view.js';

interface Choice {
  step: Step;
  pending: PendingOperation | undefined;
  reason: string;
}

const wait = (reason: string, policy: Policy, pending?: PendingOperation): Choice => ({
  step: { kind: 'wait', reason, requeueAfterMs: policy.pollMs },
  pending,
  reason,
});

export function decide(o: Observed, policy: Policy): Decision {
  const c = choose(o, policy);
  return { ...c, assessment: assess(o, c.step, c.pending) };
}

function choose(o: Observed, policy: Policy): Choice {
  if (!validReplicas(o.desired.replicas)) {
    return wait(
      `spec.replicas ${o.desired.replicas} is not one of 1, 3, 5, 7, 9; nothing changes until it is`,
      policy,
      o.pending,
    );
  }
  if (o.statefulSetReplicas === undefined) {
    return {
      step: { kind: 'bootstrap', replicas: o.desired.replicas },
      pending: undefined,
      reason: 'new cluster',
    };
  }
  if (o.pending?.kind === 'forceNewCluster')
    return continueForce(new ClusterView(o, policy), o.pending, policy);
  const v = new ClusterView(o, policy);
  const force = o.forceRequest !== undefined && o.forceRequest !== o.lastForce ? o.forceRequest : undefined;
  if (v.quorumLost) return force !== undefined ? startForce(v, force) : quorumLost(v, policy);
  if (force !== undefined) {
    return declineForce(force, 'quorum is not lost; it acts only while it is', o.pending);
  }
  if (o.pending) {
    const next = continuePending(v, o.pending, policy);
    if (next) return next;
  }
  return (
    heal(v, policy) ??
    learners(v, policy) ??
    scale(v, policy) ??
    upgrade(v, policy) ??
    tidy(v) ??
    settle(v, policy)
  );
}

function quorumLost(v: ClusterView, policy: Policy): Choice {
  const { o } = v;
  const request = o.recoveryRequest;
  if (request !== undefined && request !== o.lastRecovery) {
    const stuck = o.pods
      .filter((p) => !p.terminating)
      .filter((p) => {
        const m = v.member(p.ordinal);
        return m === undefined ? !p.ready : !v.healthy(m.id);
      })
      .map((p) => p.ordinal);
    return {
      step: { kind: 'restartPods', ordinals: stuck, request },
      pending: o.pending,
      reason: `recovery request ${request}: restarting the unhealthy members, their data kept`,
    };
  }
  if (o.members === undefined) {
    return wait(
      'no member answers yet: waiting for the members to start and elect a leader',
      policy,
      o.pending,
    );
  }
  return wait(
    `quorum lost: ${v.healthyVoters} of ${v.voters.length} voters healthy (need ${v.quorum}). The operator will not ` +
      'change membership; fix the members, or annotate the KVCluster raftkv.io/recover=<any new id> to restart the unhealthy pods (their data is kept), ' +
      "or, if most voters lost their data for good, raftkv.io/force-new-cluster=<pod> to keep that pod's data as a new one-member cluster",
    policy,
    o.pending,
  );
}

// --- force a new cluster (etcd's --force-new-cluster, on one pod) -----------------------------

const declineForce = (request: string, why: string, pending?: PendingOperation): Choice => ({
  step: { kind: 'declineForce', request },
  pending,
  reason: why,
});

/**
 * A majority of the voters is lost for good and the request names the pod whose data survives: it
 * becomes the only member. Only a voter's data holds every acknowledged write, so the request
 * must name one (the member refuses a learner's data too).
 */
function startForce(v: ClusterView, request: string): Choice {
  const pod = v.o.pods.find((p) => p.name === request);
  if (!pod || pod.ordinal >= (v.o.statefulSetReplicas ?? 0)) {
    return declineForce(request, `no pod ${request} in the StatefulSet`, v.o.pending);
  }
  const m = v.member(pod.ordinal);
  if (v.o.members !== undefined && (!m || m.isLearner)) {
    return declineForce(request, `${request} is not a voter of the cluster`, v.o.pending);
  }
  const p = start(v.o, 'forceNewCluster', pod.ordinal);
  return {
    step: { kind: 'forceNewCluster', ordinal: pod.ordinal, request },
    pending: p,
    reason:
      `force-new-cluster request ${request}: restart member ${pod.ordinal} as the only member, with its data ` +
      `(${v.healthyVoters} of ${v.voters.length} voters healthy)`,
  };
}

/**
 * Restarts the pod with the flag until its member leads a cluster of itself alone, then takes the
 * flag out of the template before anything else (left in, a restart of that member would remove
 * the members added after it). A withdrawn request takes it out too.
 */
function continueForce(v: ClusterView, p: PendingOperation, policy: Policy): Choice {
  const { o } = v;
  const k = p.ordinal;
  const end = (reason: string): Choice => ({
    step: { kind: 'endForce', ordinal: k },
    pending: undefined,
    reason,
  });
  if (o.forceRequest !== o.lastForce)
    return end(`force-new-cluster request withdrawn; member ${k} is not forced`);
  const m = v.member(k);
  if (m && v.voters.length === 1 && v.voters[0] === m && v.healthy(m.id)) {
    return end(`force-new-cluster: member ${k} leads a cluster of its own; the others are replaced next`);
  }
  const pod = v.pod(k);
  if (pod && !pod.terminating && !createdSince(pod.createdAt, p.startedAt)) {
    return {
      step: { kind: 'deletePod', ordinal: k },
      pending: p,
      reason: `force-new-cluster: restart member ${k} with --force-new-cluster-member`,
    };
  }
  return wait(`force-new-cluster: waiting for member ${k} to start as the only member`, policy, p);
}

// --- operations under way -------------------------------------------------------------------

function continuePending(v: ClusterView, p: PendingOperation, policy: Policy): Choice | undefined {
  switch (p.kind) {
    case 'scaleUp':
      return continueScaleUp(v, p, policy);
    case 'scaleDown':
      return continueScaleDown(v, p, policy);
    case 'replace':
      return continueReplace(v, p, policy);
    case 'upgrade':
      return continueUpgrade(v, p, policy);
    case 'forceNewCluster':
      return undefined; // continued by choose() before quorum is looked at
  }
}

/** Adds `ordinal` as a learner, then its pod, waits for it to catch up, promotes it. */
function joinAsLearner(
  v: ClusterView,
  p: PendingOperation,
  policy: Policy,
  what: string,
): Choice | undefined {
  const k = p.ordinal;
  const m = v.member(k);
  if (!m) {
    return {
      step: { kind: 'addLearner', ordinal: k },
      pending: p,
      reason: `${what}: add member ${k} as a learner`,
    };
  }
  if (!m.isLearner) return undefined;
  if ((v.o.statefulSetReplicas ?? 0) <= k) {
    return {
      step: { kind: 'setReplicas', replicas: k + 1 },
      pending: p,
      reason: `${what}: start the pod of member ${k}`,
    };
  }
  if (!v.caughtUp(m)) return wait(`${what}: member ${k} is catching up with the leader`, policy, p);
  return {
    step: { kind: 'promote', id: m.id, ordinal: k },
    pending: p,
    reason: `${what}: member ${k} caught up; promote it to voter`,
  };
}

function continueScaleUp(v: ClusterView, p: PendingOperation, policy: Policy): Choice | undefined {
  const k = p.ordinal;
  // A claim left from an earlier member of this ordinal holds a removed identity's data.
  const stale = v.pvc(k);
  if (!v.member(k) && stale && !v.pod(k) && !createdSince(stale.createdAt, p.startedAt)) {
    return {
      step: { kind: 'deletePvc', ordinal: k },
      pending: p,
      reason: `scale up: delete the old volume of member ${k}`,
    };
  }
  return joinAsLearner(v, p, policy, 'scale up');
}

function continueScaleDown(v: ClusterView, p: PendingOperation, policy: Policy): Choice | undefined {
  const k = p.ordinal;
  const m = v.member(k);
  if (m) {
    if (v.isLeader(m)) return handOver(v, m, p, policy, 'scale down');
    if (!v.canRemove(m))
      return wait(`scale down: removing member ${k} now would leave no healthy majority`, policy, p);
    return {
      step: { kind: 'removeMember', id: m.id, ordinal: k },
      pending: p,
      reason: `scale down: remove member ${k}`,
    };
  }
  if ((v.o.statefulSetReplicas ?? 0) > k) {
    return {
      step: { kind: 'setReplicas', replicas: k },
      pending: p,
      reason: `scale down: stop the pod of member ${k}`,
    };
  }
  if (v.pvc(k)) {
    if (v.pod(k)) return wait(`scale down: waiting for pod ${k} to stop`, policy, p);
    return {
      step: { kind: 'deletePvc', ordinal: k },
      pending: p,
      reason: `scale down: delete the volume of member ${k}`,
    };
  }
  return undefined;
}

function continueReplace(v: ClusterView, p: PendingOperation, policy: Policy): Choice | undefined {
  const k = p.ordinal;
  const m = v.member(k);
  const pod = v.pod(k);
  const pvc = v.pvc(k);
  const fresh = pvc !== undefined && createdSince(pvc.createdAt, p.startedAt);
  if (m && !m.isLearner && !fresh) {
    if (v.isLeader(m)) return handOver(v, m, p, policy, 'replace');
    if (!v.canRemove(m))
      return wait(`replace: removing member ${k} now would leave no healthy majority`, policy, p);
    return {
      step: { kind: 'removeMember', id: m.id, ordinal: k },
      pending: p,
      reason: `replace: remove the failed member ${k}`,
    };
  }
  if (!m || m.isLearner) {
    // The old identity is gone from the membership; its data must go before the ordinal rejoins.
    if (pvc && !fresh) {
      return {
        step: { kind: 'deletePvc', ordinal: k },
        pending: p,
        reason: `replace: delete the old volume of member ${k}`,
      };
    }
    // A pod started while the old claim was still terminating holds it (pvc-protection): it goes too.
    const holdsOldClaim = v.o.pvcs.some((c) => c.ordinal === k && c.terminating);
    if (pod && !pod.terminating && (holdsOldClaim || !createdSince(pod.createdAt, p.startedAt))) {
      return {
        step: { kind: 'deletePod', ordinal: k },
        pending: p,
        reason: `replace: delete the old pod of member ${k}`,
      };
    }
    if (!m && (!pod || !pvc))
      return wait(`replace: waiting for pod ${k} to come back with an empty volume`, policy, p);
  }
  return joinAsLearner(v, p, policy, 'replace');
}

function continueUpgrade(v: ClusterView, p: PendingOperation, policy: Policy): Choice | undefined {
  const k = p.ordinal;
  const pod = v.pod(k);
  const m = v.member(k);
  if (pod && !pod.terminating && pod.revision !== v.o.desired.revision) {
    if (m && v.isLeader(m) && v.voters.length > 1) return handOver(v, m, p, policy, 'upgrade');
    if (m && !v.canTakeDown(m) && v.voters.length > 1) {
      return wait(`upgrade: restarting member ${k} now would leave no healthy majority`, policy, p);
    }
    const alone = v.voters.length === 1 ? ' (a 1-member cluster is down while its only pod restarts)' : '';
    return {
      step: { kind: 'deletePod', ordinal: k },
      pending: p,
      reason: `upgrade: restart member ${k} on the new revision${alone}`,
    };
  }
  if (!pod || pod.terminating || !m || !v.caughtUp(m)) {
    return wait(`upgrade: waiting for member ${k} to come back and catch up`, policy, p);
  }
  return undefined;
}

function handOver(
  v: ClusterView,
  m: Parameters<ClusterView['isLeader']>[0],
  p: PendingOperation,
  policy: Policy,
  what: string,
): Choice {
  const to = v.successor(m);
  if (!to)
    return wait(`${what}: member ${p.ordinal} leads and no other voter is caught up to take over`, policy, p);
  return {
    step: { kind: 'transferLeadership', from: m.id, to: to.id },
    pending: p,
    reason: `${what}: move leadership off member ${p.ordinal} first`,
  };
}

// --- starting something new -----------------------------------------------------------------

const start = (o: Observed, kind: PendingOperation['kind'], ordinal: number): PendingOperation => ({
  kind,
  ordinal,
  startedAt: o.now,
});

/** A voter failed past the grace period, or a pod in the set whose identity is not a member. */
function heal(v: ClusterView, policy: Policy): Choice | undefined {
  const { o } = v;
  const inSet = (k: number | undefined) => k !== undefined && k < (o.statefulSetReplicas ?? 0);
  for (const m of v.voters) {
    if (!inSet(m.ordinal) || v.healthy(m.id) || !v.failedFor(m)) continue;
    const p = start(o, 'replace', m.ordinal!);
    if (!v.canRemove(m))
      return wait(`member ${m.ordinal} failed, but replacing it now would leave no healthy majority`, policy);
    return continueReplace(v, p, policy);
  }
  for (const pod of o.pods) {
    if (!inSet(pod.ordinal) || pod.terminating || v.member(pod.ordinal)) continue;
    return continueReplace(v, start(o, 'replace', pod.ordinal), policy);
  }
  return undefined;
}

function scale(v: ClusterView, policy: Policy): Choice | undefined {
  const { o } = v;
  const ordinals = v.members.map((m) => m.ordinal).filter((k): k is number => k !== undefined);
  const count = ordinals.length;
  if (count < o.desired.replicas) {
    const next = Array.from({ length: 9 }, (_, i) => i).find((i) => !ordinals.includes(i))!;
    return continueScaleUp(v, start(o, 'scaleUp', next), policy);
  }
  if (count > o.desired.replicas) {
    return continueScaleDown(v, start(o, 'scaleDown', Math.max(...ordinals)), policy);
  }
  return undefined;
}

/** Pods on an old revision, one at a time: sick ones first, then followers, the leader last. */
function upgrade(v: ClusterView, policy: Policy): Choice | undefined {
  const { o } = v;
  const outdated = o.pods.filter((p) => !p.terminating && p.revision !== o.desired.revision);
  if (outdated.length === 0) return undefined;
  const rank = (ordinal: number) => {
    const m = v.member(ordinal);
    if (!m || !v.healthy(m.id)) return 0;
    return v.isLeader(m) ? 2 : 1;
  };
  const k = outdated.map((p) => p.ordinal).sort((a, b) => rank(a) - rank(b) || b - a)[0]!;
  if (rank(k) > 0 && v.voters.some((m) => !v.caughtUp(m) && m.ordinal !== k)) {
    return wait('upgrade: waiting for every member to be healthy before restarting the next one', policy);
  }
  return continueUpgrade(v, start(o, 'upgrade', k), policy);
}

/** A learner nobody is promoting (left by a crash, or added by hand): finish adding it, or remove it. */
function learners(v: ClusterView, policy: Policy): Choice | undefined {
  const { o } = v;
  const m = v.learners[0];
  if (!m) return undefined;
  if (m.ordinal !== undefined && m.ordinal < o.desired.replicas) {
    return continueScaleUp(v, start(o, 'scaleUp', m.ordinal), policy);
  }
  return {
    step: { kind: 'removeMember', id: m.id, ordinal: m.ordinal },
    pending: undefined,
    reason: 'remove a learner the spec does not ask for',
  };
}

/** Leftovers: a StatefulSet size that does not match the members, claims of removed members. */
function tidy(v: ClusterView): Choice | undefined {
  const { o } = v;
  const ordinals = v.members.map((m) => m.ordinal).filter((k): k is number => k !== undefined);
  const size = ordinals.length === 0 ? 0 : Math.max(...ordinals) + 1;
  if (size > 0 && o.statefulSetReplicas !== size) {
    return {
      step: { kind: 'setReplicas', replicas: size },
      pending: undefined,
      reason: `match the StatefulSet to the ${size} members`,
    };
  }
  const orphan = o.pvcs.find(
    (c) =>
      !c.terminating &&
      c.ordinal >= (o.statefulSetReplicas ?? 0) &&
      !v.member(c.ordinal) &&
      !v.pod(c.ordinal),
  );
  if (orphan) {
    return {
      step: { kind: 'deletePvc', ordinal: orphan.ordinal },
      pending: undefined,
      reason: `delete the volume of removed member ${orphan.ordinal}`,
    };
  }
  return undefined;
}

function settle(v: ClusterView, policy: Policy): Choice {
  const sick = v.members.filter((m) => !v.healthy(m.id));
  if (sick.length > 0) {
    const names = sick.map((m) => m.ordinal ?? m.id).join(', ');
    return wait(
      `waiting for member(s) ${names} to recover (replaced after the grace period if they do not)`,
      policy,
    );
  }
  return { step: { kind: 'idle' }, pending: undefined, reason: 'desired state reached' };
}
