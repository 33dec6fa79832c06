// One reconcile's reads: the KVCluster, its StatefulSet, pods and claims from the API server, and
// each running member's own status and the membership from the members.
import {
  ApiException,
  type CoreV1Api,
  type KubernetesObjectApi,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type KVCluster } from '../api/index.js';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { MemberApi, MemberStatus } from '../members/client.js';
import { CLIENT_PORT, scheme } from '../resources/index.js';
import type { ClusterReading } from './observe.js';

export interface KubeClients {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiException && e.code === 404;
}

export async function readKVCluster(
  kube: KubeClients,
  namespace: string,
  name: string,
): Promise<KVCluster | undefined> {
  try {
    return (await kube.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
    })) as KVCluster;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export async function readCluster(
  kube: KubeClients,
  members: MemberApi,
  kvc: KVCluster,
): Promise<ClusterReading> {
  const namespace = kvc.metadata.namespace!;
  const name = kvc.metadata.name;
  const [statefulSet, pods, pvcs] = await Promise.all([
    kube.objects
      .read<V1StatefulSet>({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name, namespace } })
      .catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      }),
    kube.core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${name}` }),
    kube.core.listNamespacedPersistentVolumeClaim({ namespace }),
  ]);
  const owned = pods.items.filter((p) => p.metadata?.ownerReferences?.some((o) => o.name === name));
  const endpoints = new Map<string, string>();
  for (const p of owned) {
    if (p.status?.podIP && !p.metadata?.deletionTimestamp) {
      endpoints.set(p.metadata!.name!, `${scheme(kvc)}://${p.status.podIP}:${CLIENT_PORT}`);
    }
  }
  const statuses = new Map<string, MemberStatus | Error>();
  await Promise.all(
    [...endpoints].map(async ([pod, ep]) => {
      statuses.set(
        pod,
        await members.status(ep).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
      );
    }),
  );
  // The membership as the leader sees it, else as any member that answers sees it.
  const asked = memberEndpoints({ endpoints, statuses });
  return {
    kvc,
    statefulSet,
    pods: owned,
    pvcs: pvcs.items.filter((c) => c.metadata?.name?.startsWith(`data-${name}-`)),
    endpoints,
    statuses,
    members: asked.length === 0 ? undefined : await members.list(asked).catch(() => undefined),
  };
}

type Answers = Pick<ClusterReading, 'endpoints' | 'statuses'>;

/**
 * Members that answered, as [endpoint, status], the leader first, then the longest log first (with
 * no leader, a member that restarted empty knows least about the membership).
 */
function answering(reading: Answers): Array<[string, MemberStatus]> {
  const out: Array<[string, MemberStatus]> = [];
  for (const [pod, endpoint] of reading.endpoints) {
    const s = reading.statuses.get(pod);
    if (s && !(s instanceof Error)) out.push([endpoint, s]);
  }
  const leads = (s: MemberStatus) => Number(s.leader === s.id);
  return out.sort((a, b) => leads(b[1]) - leads(a[1]) || b[1].raftIndex - a[1].raftIndex);
}

/** Endpoints of members that answered, the leader first: where membership calls are sent. */
export function memberEndpoints(reading: Answers): string[] {
  return answering(reading).map(([endpoint]) => endpoint);
}

/** The endpoint of the member with this id, if it answered. */
export function endpointOf(reading: Answers, id: string): string | undefined {
  return answering(reading).find(([, s]) => s.id === id)?.[0];
}
