// Watches that feed the work queue: KVClusters themselves and the objects the operator owns (its
// StatefulSets and member pods), each event mapped to the owning KVCluster's key. An informer
// whose watch fails is restarted with backoff.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { GROUP, PLURAL, VERSION } from '../api/index.js';

export const MEMBER_SELECTOR = 'app.kubernetes.io/name=raftkv';

/** The work-queue key of the KVCluster an object belongs to: namespace/name. */
export function keyOf(obj: KubernetesObject): string | undefined {
  const ns = obj.metadata?.namespace;
  if (!ns) return undefined;
  if (obj.kind === 'KVCluster' || obj.apiVersion?.startsWith(`${GROUP}/`))
    return `${ns}/${obj.metadata!.name}`;
  const instance = obj.metadata?.labels?.['app.kubernetes.io/instance'];
  return instance ? `${ns}/${instance}` : undefined;
}

export interface Watches {
  /** Keys of every KVCluster known to the cache. */
  clusterKeys(): string[];
  synced(): boolean;
  stop(): void;
}

export function startWatches(kc: KubeConfig, onKey: (key: string) => void, logger: Logger): Watches {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const sources: Array<[string, () => Promise<KubernetesListObject<KubernetesObject>>, string | undefined]> =
    [
      [
        `/apis/${GROUP}/${VERSION}/${PLURAL}`,
        async () =>
          (await custom.listClusterCustomObject({
            group: GROUP,
            version: VERSION,
            plural: PLURAL,
          })) as KubernetesListObject<KubernetesObject>,
        undefined,
      ],
      [
        '/apis/apps/v1/statefulsets',
        () => apps.listStatefulSetForAllNamespaces({ labelSelector: MEMBER_SELECTOR }),
        MEMBER_SELECTOR,
      ],
      [
        '/api/v1/pods',
        () => core.listPodForAllNamespaces({ labelSelector: MEMBER_SELECTOR }),
        MEMBER_SELECTOR,
      ],
    ];
  const ready = new Set<string>();
  let stopped = false;
  const informers = sources.map(([path, list, selector]) => {
    const inf = makeInformer(kc, path, list, selector);
    const enqueue = (obj: KubernetesObject) => {
      // Lists of custom objects come without kind on each item.
      const key = keyOf(path.includes(GROUP) ? { ...obj, kind: 'KVCluster' } : obj);
      if (key) onKey(key);
    };
    inf.on('add', enqueue);
    inf.on('update', enqueue);
    inf.on('delete', enqueue);
    inf.on('connect', () => ready.add(path));
    let backoff = 1000;
    inf.on('error', (err: unknown) => {
      ready.delete(path);
      if (stopped) return;
      logger.warn('watch failed; restarting', { path, error: String(err), inMs: backoff });
      setTimeout(() => void inf.start().then(() => (backoff = 1000)), backoff);
      backoff = Math.min(backoff * 2, 30_000);
    });
    void inf.start().then(
      () => ready.add(path),
      (err: unknown) => logger.error('watch did not start', { path, error: String(err) }),
    );
    return { path, inf };
  });
  return {
    clusterKeys: () => informers[0]!.inf.list().map((o) => `${o.metadata!.namespace}/${o.metadata!.name}`),
    synced: () => ready.size === informers.length,
    stop: () => {
      stopped = true;
      for (const { inf } of informers) void inf.stop();
    },
  };
}
