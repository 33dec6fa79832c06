// Leader election through a coordination.k8s.io Lease, as client-go does it: the holder renews
// every retry period; another candidate takes over only after it has watched the same lease
// record stay unchanged for a whole lease duration (by its own clock, never comparing clocks);
// writes carry the resourceVersion read, so of two candidates only one wins. A leader that cannot
// renew within the renew deadline stops leading.
import { ApiException, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { isNotFound } from './cluster-reader.js';
import { realClock, type Clock } from './workqueue.js';

export interface LeaseRecord {
  holder: string;
  durationSeconds: number;
  transitions: number;
  acquireTime: string | undefined;
  resourceVersion: string;
}

/** What this candidate has seen: the record, and when (by its clock) it last changed. */
export interface LeaseObservation {
  record: LeaseRecord | undefined;
  changedAt: number;
}

export type LeaseAction = 'create' | 'acquire' | 'renew' | 'wait';

/** Pure: what a candidate does next, given what it has seen. */
export function leaseAction(me: string, seen: LeaseObservation, now: number): LeaseAction {
  const r = seen.record;
  if (!r) return 'create';
  if (r.holder === me) return 'renew';
  if (r.holder === '' || now - seen.changedAt >= r.durationSeconds * 1000) return 'acquire';
  return 'wait';
}

export interface LeaseStore {
  get(): Promise<LeaseRecord | undefined>;
  /** Fails with a conflict when someone else created it first. */
  create(holder: string, durationSeconds: number, now: Date): Promise<LeaseRecord>;
  /** Fails with a conflict when the record changed since `base` was read. */
  update(base: LeaseRecord, holder: string, now: Date, acquired: boolean): Promise<LeaseRecord>;
}

export interface ElectionOptions {
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  logger: Logger;
  clock?: Clock;
}

export class LeaderElector {
  private seen: LeaseObservation = { record: undefined, changedAt: 0 };
  private leading = false;
  private lastRenew = 0;
  private timer: unknown;
  private stopped = false;
  private readonly clock: Clock;

  constructor(
    private readonly store: LeaseStore,
    private readonly o: ElectionOptions,
  ) {
    this.clock = o.clock ?? realClock;
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.round();
  }

  /** One attempt: read, decide, write; then schedule the next. */
  async round(): Promise<void> {
    if (this.stopped) return;
    const now = this.clock.now();
    try {
      const record = await this.store.get();
      if (record?.resourceVersion !== this.seen.record?.resourceVersion)
        this.seen = { record, changedAt: now };
      const action = leaseAction(this.o.identity, this.seen, now);
      if (action !== 'wait') {
        const at = new Date(now);
        const written =
          action === 'create'
            ? await this.store.create(this.o.identity, Math.round(this.o.leaseDurationMs / 1000), at)
            : await this.store.update(this.seen.record!, this.o.identity, at, action === 'acquire');
        this.seen = { record: written, changedAt: now };
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.o.logger.info('became the leader', { identity: this.o.identity });
          this.o.onStartedLeading();
        }
      } else if (this.leading) {
        this.lose('another candidate holds the lease');
      }
    } catch (e) {
      if (this.leading && now - this.lastRenew >= this.o.renewDeadlineMs)
        this.lose(`cannot renew: ${String(e)}`);
      else if (!(e instanceof ApiException && e.code === 409))
        this.o.logger.warn('lease round failed', { error: String(e) });
    }
    if (!this.stopped) this.timer = this.clock.setTimeout(() => void this.round(), this.o.retryPeriodMs);
  }

  private lose(why: string): void {
    this.leading = false;
    this.o.logger.warn('stopped leading', { reason: why });
    this.o.onStoppedLeading();
  }

  /** Graceful stop: a leader gives the lease up so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    if (!this.leading || !this.seen.record) return;
    this.leading = false;
    await this.store.update(this.seen.record, '', new Date(this.clock.now()), false).catch(() => undefined);
  }
}

/**
 * Lease times are MicroTime: the API server wants six fractional digits. client-node passes the
 * value through untouched (and would write a Date with three), so it gets the string it must send.
 */
const micro = (d: Date): Date => d.toISOString().replace(/Z$/, '000Z') as unknown as Date;

const toRecord = (l: V1Lease): LeaseRecord => ({
  holder: l.spec?.holderIdentity ?? '',
  durationSeconds: l.spec?.leaseDurationSeconds ?? 15,
  transitions: l.spec?.leaseTransitions ?? 0,
  acquireTime: l.spec?.acquireTime ? new Date(l.spec.acquireTime).toISOString() : undefined,
  resourceVersion: l.metadata?.resourceVersion ?? '',
});

/** The Lease object in the API server. */
export function kubeLeaseStore(api: CoordinationV1Api, namespace: string, name: string): LeaseStore {
  return {
    async get() {
      try {
        return toRecord(await api.readNamespacedLease({ name, namespace }));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async create(holder, durationSeconds, now) {
      const body: V1Lease = {
        metadata: { name, namespace },
        spec: {
          holderIdentity: holder,
          leaseDurationSeconds: durationSeconds,
          acquireTime: micro(now),
          renewTime: micro(now),
          leaseTransitions: 0,
        },
      };
      return toRecord(await api.createNamespacedLease({ namespace, body }));
    },
    async update(base, holder, now, acquired) {
      const body: V1Lease = {
        metadata: { name, namespace, resourceVersion: base.resourceVersion },
        spec: {
          holderIdentity: holder,
          leaseDurationSeconds: base.durationSeconds,
          acquireTime: micro(acquired || !base.acquireTime ? now : new Date(base.acquireTime)),
          renewTime: micro(now),
          leaseTransitions: base.transitions + (acquired ? 1 : 0),
        },
      };
      return toRecord(await api.replaceNamespacedLease({ name, namespace, body }));
    },
  };
}
