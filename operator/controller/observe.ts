// Turns what was read from the API server and the members into the decision model's Observed.
// Pure: the reads happen in cluster-reader.ts, so this mapping is tested with plain objects.
import type { V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { KVCluster, KVClusterStatus } from '../api/index.js';
import type { ListedMember, MemberStatus } from '../members/client.js';
import type { MemberHealth, MemberView, Observed, PodView, PvcView } from '../reconcile/model.js';
import { peerURL, podName, revision } from '../resources/index.js';

/** Everything one reconcile read, before interpretation. */
export interface ClusterReading {
  kvc: KVCluster;
  statefulSet: V1StatefulSet | undefined;
  pods: V1Pod[];
  pvcs: V1PersistentVolumeClaim[];
  /** Per pod name: the client URL of each running pod (by pod IP). */
  endpoints: Map<string, string>;
  /** Per pod name (those in `endpoints`): the member's status, or why it did not answer. */
  statuses: Map<string, MemberStatus | Error>;
  /** The membership from the leader (or any member that answered); undefined if none did. */
  members: ListedMember[] | undefined;
}

/** Ordinals are bounded by the largest cluster the CRD allows; peer URLs beyond are not ours. */
const MAX_ORDINAL = 16;

export function ordinalOfPod(kvc: KVCluster, podName: string): number | undefined {
  const prefix = `${kvc.metadata.name}-`;
  if (!podName.startsWith(prefix)) return undefined;
  const rest = podName.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}

export function ordinalOfPeerURL(kvc: KVCluster, url: string): number | undefined {
  for (let i = 0; i < MAX_ORDINAL; i++) if (peerURL(kvc, i) === url) return i;
  return undefined;
}

function ordinalOfPvc(kvc: KVCluster, name: string): number | undefined {
  return name.startsWith('data-') ? ordinalOfPod(kvc, name.slice('data-'.length)) : undefined;
}

const millis = (t: Date | string | undefined): number => (t === undefined ? 0 : new Date(t).getTime());

function podView(kvc: KVCluster, pod: V1Pod): PodView | undefined {
  const ordinal = ordinalOfPod(kvc, pod.metadata?.name ?? '');
  if (ordinal === undefined) return undefined;
  const phase = pod.status?.phase;
  return {
    ordinal,
    name: pod.metadata!.name!,
    revision: pod.metadata?.annotations?.['raftkv.io/revision'],
    phase:
      phase === 'Pending' || phase === 'Running' || phase === 'Succeeded' || phase === 'Failed'
        ? phase
        : 'Unknown',
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    terminating: pod.metadata?.deletionTimestamp !== undefined,
    createdAt: millis(pod.metadata?.creationTimestamp),
  };
}

function pvcView(kvc: KVCluster, pvc: V1PersistentVolumeClaim): PvcView | undefined {
  const name = pvc.metadata?.name ?? '';
  const ordinal = ordinalOfPvc(kvc, name);
  if (ordinal === undefined) return undefined;
  return {
    ordinal,
    name,
    terminating: pvc.metadata?.deletionTimestamp !== undefined,
    createdAt: millis(pvc.metadata?.creationTimestamp),
  };
}

/** The member's own answer, found through its pod (the status call goes to the pod's IP). */
function statusOf(reading: ClusterReading, ordinal: number | undefined): MemberStatus | undefined {
  if (ordinal === undefined) return undefined;
  const s = reading.statuses.get(podName(reading.kvc, ordinal));
  return s instanceof Error ? undefined : s;
}

function health(
  reading: ClusterReading,
  m: MemberView,
  previous: KVClusterStatus['members'],
  now: number,
): MemberHealth {
  const s = statusOf(reading, m.ordinal);
  const answered = s !== undefined && s.id === m.id;
  const healthy = answered && s.leader !== undefined;
  const before = previous?.find((p) => p.id === m.id);
  // status.members[].lastSeen is "last seen healthy, or first noticed": it survives operator restarts.
  const lastSeen = healthy ? now : before?.lastSeen ? millis(before.lastSeen) : undefined;
  return {
    id: m.id,
    healthy,
    raftIndex: answered ? s.raftIndex : 0,
    lastSeen,
    unhealthySince: healthy ? undefined : (lastSeen ?? now),
  };
}

/** The leader every answering member agrees on most (a member mid-election may say none). */
function leaderOf(reading: ClusterReading): { id: string | undefined; index: number } {
  const votes = new Map<string, number>();
  for (const s of reading.statuses.values()) {
    if (!(s instanceof Error) && s.leader) votes.set(s.leader, (votes.get(s.leader) ?? 0) + 1);
  }
  const id = [...votes].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
  const leader = [...reading.statuses.values()].find((s) => !(s instanceof Error) && s.id === id);
  return { id, index: leader && !(leader instanceof Error) ? leader.raftIndex : 0 };
}

export function toObserved(reading: ClusterReading, now: number): Observed {
  const { kvc } = reading;
  const status = kvc.status;
  const members = reading.members?.map((m): MemberView => ({
    id: m.id,
    name: m.name,
    peerURL: m.peerURLs[0] ?? '',
    ordinal: ordinalOfPeerURL(kvc, m.peerURLs[0] ?? ''),
    isLearner: m.isLearner,
  }));
  const leader = leaderOf(reading);
  const pending = status?.pendingOperation;
  return {
    now,
    desired: { replicas: kvc.spec.replicas, revision: revision(kvc) },
    statefulSetReplicas: reading.statefulSet ? (reading.statefulSet.spec?.replicas ?? 1) : undefined,
    bootstrapReplicas: status?.bootstrapReplicas,
    pods: reading.pods.map((p) => podView(kvc, p)).filter((p) => p !== undefined),
    pvcs: reading.pvcs.map((p) => pvcView(kvc, p)).filter((p) => p !== undefined),
    members,
    health: (members ?? []).map((m) => health(reading, m, status?.members, now)),
    leaderId: leader.id,
    leaderIndex: leader.index,
    pending: pending
      ? { kind: pending.kind, ordinal: pending.ordinal, startedAt: millis(pending.startedAt) }
      : undefined,
    formedBefore: status?.members?.some((m) => m.lastSeen !== undefined) ?? false,
    recoveryRequest: kvc.metadata.annotations?.['raftkv.io/recover'],
    lastRecovery: status?.lastRecovery,
    forceRequest: kvc.metadata.annotations?.['raftkv.io/force-new-cluster'],
    lastForce: status?.lastForceNewCluster,
  };
}
