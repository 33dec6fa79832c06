// The operator's writes: owned objects by server-side apply, the KVCluster's status by merge
// patch, and each decided Step carried out against the API server or the members.
import {
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type KVCluster, type KVClusterStatus } from '../api/index.js';
import type { MemberApi } from '../members/client.js';
import {
  clientService,
  peerURL,
  peersService,
  podDisruptionBudget,
  podName,
  pvcName,
  statefulSet,
} from '../resources/index.js';
import type { Step } from '../reconcile/model.js';
import { endpointOf, isNotFound, memberEndpoints, type KubeClients } from './cluster-reader.js';
import type { ClusterReading } from './observe.js';

export const FIELD_MANAGER = 'raftkv-operator';

async function apply(kube: KubeClients, obj: KubernetesObject): Promise<void> {
  await kube.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

async function deleteIfPresent(remove: () => Promise<unknown>): Promise<void> {
  try {
    await remove();
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/**
 * The StatefulSet's pods start as founders of a new cluster until it has formed; from then on the
 * template says `existing`, so a pod that starts with an empty volume (scale-up, replacement)
 * joins the running cluster instead of founding another one. Read back from the StatefulSet
 * itself, so a restarted operator keeps the answer.
 */
function clusterState(reading: ClusterReading): 'new' | 'existing' {
  const args = reading.statefulSet?.spec?.template.spec?.containers[0]?.args ?? [];
  if (args.includes('--initial-cluster-state=existing')) return 'existing';
  const formed =
    reading.members !== undefined &&
    [...reading.statuses.values()].some((s) => !(s instanceof Error) && s.leader);
  return formed ? 'existing' : 'new';
}

/** The member forced into a cluster of its own, while the pending operation says so. */
function forcedOrdinal(reading: ClusterReading): number | undefined {
  const p = reading.kvc.status?.pendingOperation;
  return p?.kind === 'forceNewCluster' ? p.ordinal : undefined;
}

/** The StatefulSet at its current size, its template as the recorded status says (forced or not). */
async function applyCurrentStatefulSet(kube: KubeClients, reading: ClusterReading): Promise<void> {
  await apply(kube, desiredStatefulSet(reading, reading.statefulSet?.spec?.replicas ?? 0));
}

function desiredStatefulSet(reading: ClusterReading, replicas: number): V1StatefulSet {
  const forceNewClusterOrdinal = forcedOrdinal(reading);
  const state = clusterState(reading);
  const founders = reading.kvc.status?.bootstrapReplicas ?? replicas;
  const current = reading.statefulSet?.spec?.replicas ?? 0;
  const count = state === 'new' ? founders : Math.max(replicas, current, founders);
  return statefulSet(reading.kvc, {
    replicas,
    initialClusterState: state,
    clusterOrdinals: Array.from({ length: count }, (_, i) => i),
    ...(forceNewClusterOrdinal === undefined ? {} : { forceNewClusterOrdinal }),
  });
}

/** Services, PDB and (once it exists) the StatefulSet at its current size: kept as the spec says. */
export async function ensureOwned(kube: KubeClients, reading: ClusterReading): Promise<void> {
  const { kvc } = reading;
  await apply(kube, peersService(kvc));
  await apply(kube, clientService(kvc));
  if (kvc.spec.pdb?.enabled === false) {
    await deleteIfPresent(() =>
      kube.objects.delete({
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: kvc.metadata.name, namespace: kvc.metadata.namespace },
      }),
    );
  } else {
    await apply(kube, podDisruptionBudget(kvc));
  }
  if (reading.statefulSet) await applyCurrentStatefulSet(kube, reading);
}

export async function patchStatus(
  kube: KubeClients,
  kvc: KVCluster,
  status: Partial<KVClusterStatus>,
): Promise<void> {
  // JSON merge patch: null removes a field (a finished pending operation).
  const body = {
    status: JSON.parse(JSON.stringify(status, (_k, v: unknown) => (v === undefined ? null : v))),
  };
  await kube.custom.patchNamespacedCustomObjectStatus(
    {
      group: GROUP,
      version: VERSION,
      namespace: kvc.metadata.namespace!,
      plural: PLURAL,
      name: kvc.metadata.name,
      body,
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** What a step needs remembered in status before it is carried out (besides the pending operation). */
export function stepBookkeeping(step: Step): Partial<KVClusterStatus> {
  if (step.kind === 'bootstrap') return { bootstrapReplicas: step.replicas };
  if (step.kind === 'restartPods') return { lastRecovery: step.request };
  if (step.kind === 'forceNewCluster' || step.kind === 'declineForce')
    return { lastForceNewCluster: step.request };
  return {};
}

/**
 * Carries out one step; returns the event message describing what was done (undefined: nothing).
 * The reconciler has recorded stepBookkeeping() and the pending operation in status already, and
 * `reading` carries that status (the StatefulSet's template follows the pending operation).
 */
export async function carryOut(
  kube: KubeClients,
  members: MemberApi,
  reading: ClusterReading,
  step: Step,
): Promise<string | undefined> {
  const { kvc } = reading;
  const namespace = kvc.metadata.namespace!;
  const name = kvc.metadata.name;
  const pod = (ordinal: number) => podName(kvc, ordinal);
  const endpoints = memberEndpoints(reading);
  switch (step.kind) {
    case 'bootstrap':
      await apply(kube, desiredStatefulSet(reading, step.replicas));
      return `created StatefulSet ${name} with ${step.replicas} founding members`;
    case 'addLearner': {
      const id = await members.addLearner(endpoints, peerURL(kvc, step.ordinal));
      return `added ${pod(step.ordinal)} (${id}) as a learner`;
    }
    case 'promote':
      await members.promote(endpoints, step.id);
      return `promoted ${pod(step.ordinal)} (${step.id}) to voter`;
    case 'transferLeadership': {
      const leader = endpointOf(reading, step.from);
      if (!leader) throw new Error(`leader ${step.from} has no reachable endpoint`);
      await members.transferLeadership(leader, step.to);
      return `moved leadership from ${step.from} to ${step.to}`;
    }
    case 'removeMember':
      await members.remove(endpoints, step.id);
      return `removed member ${step.ordinal === undefined ? step.id : `${pod(step.ordinal)} (${step.id})`} from the cluster`;
    case 'setReplicas':
      await apply(kube, desiredStatefulSet(reading, step.replicas));
      return `set StatefulSet ${name} replicas to ${step.replicas}`;
    case 'deletePod':
      await deleteIfPresent(() => kube.core.deleteNamespacedPod({ name: pod(step.ordinal), namespace }));
      return `deleted pod ${pod(step.ordinal)}`;
    case 'deletePvc':
      await deleteIfPresent(() =>
        kube.core.deleteNamespacedPersistentVolumeClaim({ name: pvcName(kvc, step.ordinal), namespace }),
      );
      return `deleted volume claim ${pvcName(kvc, step.ordinal)}`;
    case 'restartPods':
      for (const o of step.ordinals) {
        await deleteIfPresent(() => kube.core.deleteNamespacedPod({ name: pod(o), namespace }));
      }
      return `recovery request ${step.request}: restarted pods ${step.ordinals.map(pod).join(', ')} (data kept)`;
    case 'forceNewCluster': {
      await applyCurrentStatefulSet(kube, reading);
      await deleteIfPresent(() => kube.core.deleteNamespacedPod({ name: pod(step.ordinal), namespace }));
      return `force-new-cluster request ${step.request}: restarted ${pod(step.ordinal)} with --force-new-cluster-member`;
    }
    case 'endForce':
      await applyCurrentStatefulSet(kube, reading);
      return `${pod(step.ordinal)} leads alone; the StatefulSet no longer forces it`;
    case 'declineForce':
      return `declined force-new-cluster request ${step.request}`;
    case 'wait':
    case 'idle':
      return undefined;
  }
}
