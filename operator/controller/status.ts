// The KVCluster's status from one reconcile: what was observed and what was decided. Pure, so the
// shape users read (kubectl get kvc, status.conditions, status.members) is tested without a cluster.
import type { KVCluster, KVClusterStatus } from '../api/index.js';
import type { Decision, Observed, PendingOperation } from '../reconcile/model.js';
import { selectorLabels } from '../resources/index.js';
import type { ClusterReading } from './observe.js';

type StatusCondition = NonNullable<KVClusterStatus['conditions']>[number];
type StatusMember = NonNullable<KVClusterStatus['members']>[number];

const iso = (ms: number): string => new Date(ms).toISOString();

export function pendingStatus(p: PendingOperation | undefined): KVClusterStatus['pendingOperation'] {
  return p ? { kind: p.kind, ordinal: p.ordinal, startedAt: iso(p.startedAt) } : undefined;
}

function members(reading: ClusterReading, observed: Observed): StatusMember[] {
  return (observed.members ?? [])
    .map((m): StatusMember => {
      const h = observed.health.find((x) => x.id === m.id);
      const role = m.isLearner ? 'learner' : m.id === observed.leaderId ? 'leader' : 'follower';
      const name =
        m.name || (m.ordinal !== undefined ? `${reading.kvc.metadata.name}-${m.ordinal}` : m.peerURL);
      return {
        name,
        id: m.id,
        role,
        healthy: h?.healthy ?? false,
        raftIndex: h?.raftIndex ?? 0,
        ...(h?.lastSeen !== undefined ? { lastSeen: iso(h.lastSeen) } : {}),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
}

/** Keeps lastTransitionTime when a condition's status did not change, as Kubernetes conventions ask. */
function conditions(kvc: KVCluster, decision: Decision, now: number): StatusCondition[] {
  const before = kvc.status?.conditions ?? [];
  return decision.assessment.conditions.map((c) => {
    const prev = before.find((p) => p.type === c.type);
    return {
      ...c,
      lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : iso(now),
      observedGeneration: kvc.metadata.generation ?? 0,
    };
  });
}

export function buildStatus(
  reading: ClusterReading,
  observed: Observed,
  decision: Decision,
): KVClusterStatus {
  const { kvc, statefulSet } = reading;
  const list = members(reading, observed);
  const q = decision.assessment.quorum;
  return {
    phase: decision.assessment.phase,
    observedGeneration: kvc.metadata.generation ?? 0,
    replicas: statefulSet?.status?.replicas ?? 0,
    readyReplicas: statefulSet?.status?.readyReplicas ?? 0,
    // For the scale subresource (kubectl scale, autoscalers): the members' pods.
    selector: Object.entries(selectorLabels(kvc))
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    members: list,
    leader: list.find((m) => m.role === 'leader')?.name ?? '',
    quorum: { voters: q.voters, size: q.size, healthy: q.healthy, failureTolerance: q.failureTolerance },
    conditions: conditions(kvc, decision, observed.now),
    pendingOperation: pendingStatus(decision.pending),
    bootstrapReplicas: observed.bootstrapReplicas,
    lastRecovery: observed.lastRecovery,
    lastForceNewCluster: observed.lastForce,
  };
}
