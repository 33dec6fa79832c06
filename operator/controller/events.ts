// Kubernetes Events for what the operator does to a KVCluster. The same (reason, message) again
// within a few minutes bumps the existing event's count instead of adding one, as kubectl users
// expect. Best effort: a failed event write is logged and never fails the reconcile.
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { API_VERSION, KIND, type KVCluster } from '../api/index.js';
import type { ClusterEvents } from './reconciler.js';

const AGGREGATE_MS = 10 * 60_000;

export class EventRecorder implements ClusterEvents {
  private readonly recent = new Map<string, { name: string; count: number; at: number }>();

  constructor(
    private readonly core: CoreV1Api,
    private readonly instance: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  record(kvc: KVCluster, type: 'Normal' | 'Warning', reason: string, message: string): void {
    void this.write(kvc, type, reason, message).catch((e: unknown) =>
      this.logger.warn('event not recorded', { reason, error: String(e) }),
    );
  }

  private async write(
    kvc: KVCluster,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const namespace = kvc.metadata.namespace!;
    const key = `${namespace}/${kvc.metadata.name}/${type}/${reason}/${message}`;
    const now = this.now();
    const time = new Date(now);
    const seen = this.recent.get(key);
    if (seen && now - seen.at < AGGREGATE_MS) {
      seen.count++;
      seen.at = now;
      await this.core.patchNamespacedEvent(
        { name: seen.name, namespace, body: { count: seen.count, lastTimestamp: time } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return;
    }
    const name = `${kvc.metadata.name}.${now.toString(16)}${Math.random().toString(16).slice(2, 6)}`;
    const body: CoreV1Event = {
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: API_VERSION,
        kind: KIND,
        name: kvc.metadata.name,
        namespace,
        uid: kvc.metadata.uid,
        resourceVersion: kvc.metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      count: 1,
      firstTimestamp: time,
      lastTimestamp: time,
      source: { component: 'raftkv-operator' },
      reportingComponent: 'raftkv.io/operator',
      reportingInstance: this.instance,
    };
    await this.core.createNamespacedEvent({ namespace, body });
    this.recent.set(key, { name, count: 1, at: now });
    if (this.recent.size > 1000) this.recent.delete(this.recent.keys().next().value!);
  }
}
