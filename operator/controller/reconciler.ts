// One reconcile of one KVCluster: read everything, keep the owned objects as the spec says, decide
// the one next step (pure), record what must survive a crash in status, carry the step out, then
// report status, events and metrics. Level-triggered: nothing is remembered between calls.
import type { Logger } from 'winston';
import { validateSpec, withDefaults, type KVCluster, type KVClusterStatus } from '../api/index.js';
import type { MemberApi } from '../members/client.js';
import { decide } from '../reconcile/decide.js';
import type { Decision, Policy, Step } from '../reconcile/model.js';
import { carryOut, ensureOwned, patchStatus, stepBookkeeping } from './cluster-actions.js';
import { readCluster, readKVCluster, type KubeClients } from './cluster-reader.js';
import { toObserved } from './observe.js';
import { buildStatus, pendingStatus } from './status.js';

export interface ClusterEvents {
  record(kvc: KVCluster, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export interface ClusterMetrics {
  setCluster(namespace: string, cluster: string, decision: Decision, leaderId: string | undefined): void;
  forgetCluster(namespace: string, cluster: string): void;
}

export interface ReconcileDeps {
  kube: KubeClients;
  /** The members' API for one cluster (a TLS one's with the operator's certificate). */
  members: (kvc: KVCluster) => Promise<MemberApi>;
  policy: Policy;
  events: ClusterEvents;
  metrics: ClusterMetrics;
  logger: Logger;
  now: () => number;
  /** How often an idle, healthy cluster is looked at again. */
  resyncMs: number;
}

/** undefined: do not requeue (the KVCluster is gone). */
export type ReconcileResult = { requeueAfterMs: number } | undefined;

/** Event reasons, one per kind of step. */
const REASONS: Record<Step['kind'], string> = {
  bootstrap: 'Bootstrapping',
  addLearner: 'MemberAdded',
  promote: 'MemberPromoted',
  transferLeadership: 'LeadershipTransferred',
  removeMember: 'MemberRemoved',
  setReplicas: 'StatefulSetScaled',
  deletePod: 'PodDeleted',
  deletePvc: 'VolumeClaimDeleted',
  restartPods: 'RecoveryRestart',
  forceNewCluster: 'ForceNewCluster',
  endForce: 'ForceNewClusterDone',
  declineForce: 'ForceNewClusterDeclined',
  wait: 'Waiting',
  idle: 'Idle',
};

/** A step just carried out changes what is observed: look again soon. */
const AFTER_ACTION_MS = 1000;

export async function reconcile(
  deps: ReconcileDeps,
  namespace: string,
  name: string,
): Promise<ReconcileResult> {
  const found = await readKVCluster(deps.kube, namespace, name);
  if (!found) {
    deps.metrics.forgetCluster(namespace, name);
    return undefined;
  }
  const log = deps.logger.child({ namespace, cluster: name });
  const problems = validateSpec(found.spec);
  if (problems.length > 0) return reportInvalid(deps, found, problems);

  const kvc = withDefaults(found);
  const members = await deps.members(kvc);
  const reading = await readCluster(deps.kube, members, kvc);
  await ensureOwned(deps.kube, reading);
  const observed = toObserved(reading, deps.now());
  const decision = decide(observed, deps.policy);
  const { step } = decision;

  // Crash safety: what the step needs remembered is durable before the step happens.
  const bookkeeping: Partial<KVClusterStatus> = {
    pendingOperation: pendingStatus(decision.pending),
    ...stepBookkeeping(step),
  };
  if (changed(kvc.status, bookkeeping)) await patchStatus(deps.kube, kvc, bookkeeping);

  const recorded = { ...reading, kvc: { ...kvc, status: { ...kvc.status, ...bookkeeping } } };
  let message: string | undefined;
  try {
    message = await carryOut(deps.kube, members, recorded, step);
  } catch (e) {
    deps.events.record(
      kvc,
      'Warning',
      'StepFailed',
      `${step.kind} failed: ${errorText(e)} (${decision.reason})`,
    );
    throw e;
  }
  if (message) {
    log.info(message, { step: step.kind, reason: decision.reason, phase: decision.assessment.phase });
    const type = step.kind === 'declineForce' ? 'Warning' : 'Normal';
    deps.events.record(kvc, type, REASONS[step.kind], `${message}: ${decision.reason}`);
  } else if (step.kind === 'wait') {
    log.debug('waiting', { reason: step.reason });
  }

  const status = { ...buildStatus(reading, observed, decision), ...bookkeeping };
  reportTransitions(deps, kvc, status);
  await patchStatus(deps.kube, kvc, status);
  deps.metrics.setCluster(namespace, name, decision, observed.leaderId);

  if (step.kind === 'wait') return { requeueAfterMs: step.requeueAfterMs };
  if (step.kind === 'idle') return { requeueAfterMs: deps.resyncMs };
  return { requeueAfterMs: AFTER_ACTION_MS };
}

function changed(before: KVClusterStatus | undefined, fields: Partial<KVClusterStatus>): boolean {
  const b = (before ?? {}) as Record<string, unknown>;
  return Object.entries(fields).some(([k, v]) => JSON.stringify(b[k]) !== JSON.stringify(v));
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A Warning event when quorum is at risk or lost, a Normal one when the cluster becomes Available. */
function reportTransitions(deps: ReconcileDeps, kvc: KVCluster, next: KVClusterStatus): void {
  const before = kvc.status?.conditions ?? [];
  for (const c of next.conditions ?? []) {
    const prev = before.find((p) => p.type === c.type);
    if (prev?.status === c.status && prev.reason === c.reason) continue;
    if (c.type === 'QuorumAtRisk' && c.status === 'True')
      deps.events.record(kvc, 'Warning', c.reason, c.message);
    if (c.type === 'Degraded' && c.status === 'True') deps.events.record(kvc, 'Warning', c.reason, c.message);
    if (c.type === 'Available' && c.status === 'True')
      deps.events.record(kvc, 'Normal', 'Available', c.message);
  }
}

async function reportInvalid(
  deps: ReconcileDeps,
  kvc: KVCluster,
  problems: string[],
): Promise<ReconcileResult> {
  const message = `spec is invalid, nothing is changed until it is fixed: ${problems.join('; ')}`;
  const prev = kvc.status?.conditions?.find((c) => c.type === 'Degraded');
  if (prev?.reason !== 'InvalidSpec' || prev.message !== message) {
    deps.events.record(kvc, 'Warning', 'InvalidSpec', message);
  }
  const others = (kvc.status?.conditions ?? []).filter((c) => c.type !== 'Degraded');
  const now = new Date(deps.now()).toISOString();
  await patchStatus(deps.kube, kvc, {
    phase: 'Invalid',
    observedGeneration: kvc.metadata.generation ?? 0,
    conditions: [
      ...others,
      {
        type: 'Degraded',
        status: 'True',
        reason: 'InvalidSpec',
        message,
        lastTransitionTime: prev?.status === 'True' ? prev.lastTransitionTime : now,
        observedGeneration: kvc.metadata.generation ?? 0,
      },
    ],
  });
  return { requeueAfterMs: deps.resyncMs };
}
