// How the cluster is doing, in the terms users read: phase, quorum and the four conditions.
import type { Assessment, Condition, Observed, PendingOperation, Policy, Step } from './model.js';
import { ClusterView, validReplicas } from './view.js';

const PHASE_OF_OPERATION = {
  scaleUp: 'Scaling',
  scaleDown: 'Scaling',
  replace: 'Healing',
  upgrade: 'Upgrading',
  forceNewCluster: 'Healing',
} as const;

const cond = (type: Condition['type'], on: boolean, reason: string, message: string): Condition => ({
  type,
  status: on ? 'True' : 'False',
  reason,
  message,
});

/** The policy does not change who is healthy or how big the quorum is. */
const NO_POLICY: Policy = { replaceAfterMs: 0, catchUpEntries: 0, pollMs: 0 };

export function assess(o: Observed, step: Step, pending: PendingOperation | undefined): Assessment {
  const v = new ClusterView(o, NO_POLICY);
  const quorum = {
    voters: v.voters.length,
    size: v.voters.length === 0 ? 0 : v.quorum,
    healthy: v.healthyVoters,
    failureTolerance: v.failureTolerance,
  };
  const sick = v.members.filter((m) => !v.healthy(m.id));
  const formed = o.members !== undefined && o.leaderId !== undefined;
  const lost = formed
    ? v.quorumLost
    : o.statefulSetReplicas !== undefined && o.health.some((h) => h.lastSeen !== undefined);
  const invalid = !validReplicas(o.desired.replicas);
  const busy = pending !== undefined || (step.kind !== 'idle' && step.kind !== 'wait');
  const why = step.kind === 'wait' ? step.reason : '';

  let phase: Assessment['phase'];
  if (invalid) phase = 'Invalid';
  else if (!formed && !lost) phase = 'Creating';
  else if (lost) phase = 'QuorumLost';
  else if (pending) phase = PHASE_OF_OPERATION[pending.kind];
  else if (sick.length > 0) phase = 'Degraded';
  else if (busy) phase = 'Scaling';
  else phase = 'Running';

  const summary = `${quorum.healthy}/${quorum.voters} voters healthy, quorum ${quorum.size}`;
  const available = formed && !lost;
  // A single voter never tolerates a failure; that is its size, not a risk to report.
  const atRisk = lost || (quorum.voters > 1 && formed && quorum.failureTolerance === 0);
  const conditions: Condition[] = [
    cond(
      'Available',
      available,
      available ? 'QuorumHealthy' : formed ? 'QuorumLost' : 'NoLeader',
      available ? `${summary}; leader elected` : why || summary,
    ),
    cond(
      'Progressing',
      busy || phase === 'Creating',
      busy ? 'OperationInProgress' : 'Idle',
      busy || phase === 'Creating' ? why || `step: ${step.kind}` : 'desired state reached',
    ),
    invalid
      ? cond('Degraded', true, 'InvalidSpec', why)
      : lost
        ? cond('Degraded', true, 'QuorumLost', why || summary)
        : sick.length > 0
          ? cond(
              'Degraded',
              true,
              'MemberUnhealthy',
              `unhealthy: ${sick.map((m) => m.name || m.ordinal || m.id).join(', ')}; ${summary}`,
            )
          : cond('Degraded', false, 'AllMembersHealthy', summary),
    atRisk
      ? cond(
          'QuorumAtRisk',
          true,
          lost ? 'QuorumLost' : 'NoFailureTolerance',
          lost ? why || summary : `${summary}: one more failure loses quorum and stops all writes`,
        )
      : cond(
          'QuorumAtRisk',
          false,
          'FailureTolerated',
          `${summary}: ${quorum.failureTolerance} more member(s) may fail`,
        ),
  ];
  const memberStates = {
    voter: v.voters.length,
    learner: v.learners.length,
    healthy: v.members.length - sick.length,
    unhealthy: sick.length,
  };
  return { phase, quorum, memberStates, conditions };
}
