// What the operator's decision logic sees and what it may do. `decide()` (decide.ts) is a pure
// function from Observed to one Decision; the controller gathers Observed from the API server and
// the members, records Decision.pending in the KVCluster's status *before* it acts, then carries
// out Decision.step. Everything here is plain data so tests can generate it by the thousand.

/** A StatefulSet pod of the cluster (`<cluster>-<ordinal>`). */
export interface PodView {
  ordinal: number;
  name: string;
  /** The `raftkv.io/revision` annotation: which desired revision the pod was created from. */
  revision: string | undefined;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  /** The pod's Ready condition (the member's /readyz: has a leader, is caught up, is in the member list). */
  ready: boolean;
  /** Has a deletionTimestamp. */
  terminating: boolean;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** A data volume claim of the StatefulSet (`data-<cluster>-<ordinal>`). */
export interface PvcView {
  ordinal: number;
  name: string;
  terminating: boolean;
  /** Milliseconds since the epoch (the API server's creationTimestamp, whole seconds). */
  createdAt: number;
}

/** One entry of the Raft membership, as a member reports it (`/v3/cluster/member/list`). */
export interface MemberView {
  /** 16 hex digits. */
  id: string;
  /** The pod name, once the member has started and published it; '' before that. */
  name: string;
  peerURL: string;
  /** The StatefulSet ordinal its peer URL points at; undefined for a peer URL the operator did not make. */
  ordinal: number | undefined;
  isLearner: boolean;
}

/** What a member says about itself (`/v3/maintenance/status`), or that it did not answer. */
export interface MemberHealth {
  id: string;
  /** Answered the last status call and has a leader. */
  healthy: boolean;
  /** Its Raft log index (0 when it did not answer). */
  raftIndex: number;
  /** Milliseconds since the epoch of the last answer; undefined if it never answered. */
  lastSeen: number | undefined;
  /** Milliseconds since the epoch since when it has been unhealthy without a break; undefined when healthy. */
  unhealthySince: number | undefined;
}

/**
 * A multi-step operation the operator has started, kept in status.pendingOperation so a restarted
 * operator (or a spec change in the middle) resumes it instead of starting something else.
 *  - scaleUp:   add <ordinal> as learner → StatefulSet replicas = ordinal+1 → caught up → promote
 *  - scaleDown: move leadership off <ordinal> → remove it → replicas = ordinal → delete its PVC
 *  - replace:   remove <ordinal> from membership → delete its pod and PVC → add back as learner →
 *               caught up → promote (for a member unhealthy past the grace period or that lost its volume)
 *  - upgrade:   delete the pod <ordinal> (after moving leadership off it) → wait until it is back,
 *               ready, on the desired revision and caught up
 *  - forceNewCluster: (quorum lost, asked for) the template names <ordinal> in
 *               --force-new-cluster-member → delete its pod → wait until it leads alone; the
 *               others are then replaced as removed members
 */
export interface PendingOperation {
  kind: 'scaleUp' | 'scaleDown' | 'replace' | 'upgrade' | 'forceNewCluster';
  ordinal: number;
  /** Milliseconds since the epoch when the operation was recorded. */
  startedAt: number;
}

export interface Observed {
  /** Milliseconds since the epoch. */
  now: number;
  desired: {
    /** As written in the spec; decide() reports invalid values (even, <1, >9) instead of acting on them. */
    replicas: number;
    /** Hash of everything in the spec that needs a pod restart to take effect (image, resources, tuning...). */
    revision: string;
  };
  /** undefined: the StatefulSet does not exist yet. */
  statefulSetReplicas: number | undefined;
  /** The StatefulSet was created for a new cluster whose founders are ordinals 0..bootstrapReplicas-1. */
  bootstrapReplicas: number | undefined;
  pods: PodView[];
  pvcs: PvcView[];
  /** The membership as reported by a member that answered (the leader if any); undefined if none answered. */
  members: MemberView[] | undefined;
  /** Per member id. */
  health: MemberHealth[];
  /** The leader's member id, if a member reported one. */
  leaderId: string | undefined;
  /** The leader's Raft index (what a learner must reach to be "caught up"). */
  leaderIndex: number;
  pending: PendingOperation | undefined;
  /** Members were seen healthy before (status says so): no answer now means an outage, not a start. */
  formedBefore: boolean;
  /** An explicit request (annotation raftkv.io/recover, value = a request id) to act while quorum is lost. */
  recoveryRequest: string | undefined;
  /** The request id last carried out (status.lastRecovery), so one request acts once. */
  lastRecovery: string | undefined;
  /**
   * An explicit request (annotation raftkv.io/force-new-cluster, value = the pod whose data is
   * kept) to make that member the only one when a majority of the voters is lost for good.
   */
  forceRequest: string | undefined;
  /** The force request last taken up or declined (status.lastForceNewCluster): one request acts once. */
  lastForce: string | undefined;
}

/** The one thing to do now. Steps change one member or one object at a time. */
export type Step =
  /** Create the StatefulSet for a new cluster of `replicas` founders. */
  | { kind: 'bootstrap'; replicas: number }
  | { kind: 'addLearner'; ordinal: number }
  | { kind: 'promote'; id: string; ordinal: number }
  | { kind: 'transferLeadership'; from: string; to: string }
  | { kind: 'removeMember'; id: string; ordinal: number | undefined }
  | { kind: 'setReplicas'; replicas: number }
  | { kind: 'deletePod'; ordinal: number }
  | { kind: 'deletePvc'; ordinal: number }
  /** Quorum lost and an explicit recovery request: delete (restart) these unhealthy pods; their data stays. */
  | { kind: 'restartPods'; ordinals: number[]; request: string }
  /** Quorum lost and a force request: name `ordinal` in the template's --force-new-cluster-member, restart its pod. */
  | { kind: 'forceNewCluster'; ordinal: number; request: string }
  /** The forced member leads alone: the template stops naming it, before anyone joins it. */
  | { kind: 'endForce'; ordinal: number }
  /** A force request that cannot act (quorum held, no such voter): recorded as taken; the reason says why. */
  | { kind: 'declineForce'; request: string }
  /** Nothing safe to do yet; look again later. */
  | { kind: 'wait'; reason: string; requeueAfterMs: number }
  /** Desired state reached and healthy. */
  | { kind: 'idle' };

export interface Condition {
  type: 'Available' | 'Progressing' | 'Degraded' | 'QuorumAtRisk';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface Assessment {
  phase: 'Creating' | 'Running' | 'Scaling' | 'Healing' | 'Upgrading' | 'Degraded' | 'QuorumLost' | 'Invalid';
  quorum: { voters: number; size: number; healthy: number; failureTolerance: number };
  /** Member counts for the raftkv_cluster_members{state} metric. */
  memberStates: { voter: number; learner: number; healthy: number; unhealthy: number };
  conditions: Condition[];
}

export interface Decision {
  step: Step;
  /** The pending operation to record before carrying out `step` (undefined clears it). */
  pending: PendingOperation | undefined;
  /** Why, in one sentence a person can act on (logged and used in events). */
  reason: string;
  assessment: Assessment;
}

/** Timing knobs of the decisions (from the operator's flags). */
export interface Policy {
  /** A voter unhealthy this long is replaced (if that is safe). */
  replaceAfterMs: number;
  /** A learner within this many entries of the leader's index counts as caught up. */
  catchUpEntries: number;
  /** How soon to look again while waiting. */
  pollMs: number;
}
