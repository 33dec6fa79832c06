import { ApiException } from '@kubernetes/client-node';
import winston from 'winston';
import { FakeClock } from '../../test/operator/fake-clock.js';
import { Rng } from '../../test/sim/rng.js';
import { LeaderElector, leaseAction, type LeaseRecord, type LeaseStore } from './leader-election.js';

const logger = winston.createLogger({ silent: true });

test('the pure decision: create, renew own, take over only after a full unchanged lease duration', () => {
  const rec = (holder: string): LeaseRecord => ({
    holder,
    durationSeconds: 15,
    transitions: 0,
    acquireTime: undefined,
    resourceVersion: '1',
  });
  expect(leaseAction('a', { record: undefined, changedAt: 0 }, 0)).toBe('create');
  expect(leaseAction('a', { record: rec('a'), changedAt: 0 }, 1000)).toBe('renew');
  expect(leaseAction('a', { record: rec('b'), changedAt: 0 }, 14_999)).toBe('wait');
  expect(leaseAction('a', { record: rec('b'), changedAt: 0 }, 15_000)).toBe('acquire');
  expect(leaseAction('a', { record: rec(''), changedAt: 0 }, 1)).toBe('acquire');
});

/** One Lease object with optimistic concurrency, as the API server keeps it; `down` fails every call. */
class MemoryLease implements LeaseStore {
  record: LeaseRecord | undefined;
  private version = 0;
  down = new Set<string>();
  constructor(private readonly who: () => string) {}
  private check(): void {
    if (this.down.has(this.who())) throw new Error('connection refused');
  }
  async get() {
    this.check();
    return this.record && { ...this.record };
  }
  async create(holder: string, durationSeconds: number, _now?: Date) {
    this.check();
    if (this.record) throw new ApiException(409, 'exists', {}, {});
    this.record = {
      holder,
      durationSeconds,
      transitions: 0,
      acquireTime: undefined,
      resourceVersion: String(++this.version),
    };
    return { ...this.record };
  }
  async update(base: LeaseRecord, holder: string, _now: Date, acquired: boolean) {
    this.check();
    if (!this.record || this.record.resourceVersion !== base.resourceVersion)
      throw new ApiException(409, 'conflict', {}, {});
    this.record = {
      ...this.record,
      holder,
      transitions: base.transitions + (acquired ? 1 : 0),
      resourceVersion: String(++this.version),
    };
    return { ...this.record };
  }
}

test('candidates with random outages: never two leaders at once beyond the lease duration, and someone leads when one can', async () => {
  for (let seed = 1; seed <= 60; seed++) {
    const rng = new Rng(seed);
    const clock = new FakeClock();
    let current = '';
    const store = new MemoryLease(() => current);
    const names = ['a', 'b', 'c'];
    const leadingSince = new Map<string, number>();
    const electors = names.map(
      (name) =>
        new LeaderElector(
          {
            get: () => ((current = name), store.get()),
            create: (h, d, n) => ((current = name), store.create(h, d, n)),
            update: (b, h, n, a) => ((current = name), store.update(b, h, n, a)),
          },
          {
            identity: name,
            leaseDurationMs: 15_000,
            renewDeadlineMs: 10_000,
            retryPeriodMs: 2_000,
            logger,
            clock,
            onStartedLeading: () => leadingSince.set(name, clock.now()),
            onStoppedLeading: () => leadingSince.delete(name),
          },
        ),
    );
    for (const e of electors) e.start();
    for (let t = 0; t < 400; t++) {
      if (rng.chance(0.02)) store.down.add(rng.pick(names));
      if (rng.chance(0.05)) store.down.clear();
      clock.advance(500);
      for (let i = 0; i < 5; i++) await Promise.resolve();
      const leaders = electors.filter((e) => e.isLeader());
      // A leader cut off keeps believing until its renew deadline (10 s) passes; the lease runs 15 s.
      if (leaders.length > 1) throw new Error(`seed ${seed} at ${clock.now()}: ${leaders.length} leaders`);
    }
    store.down.clear();
    clock.advance(40_000);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(electors.filter((e) => e.isLeader())).toHaveLength(1);
    for (const e of electors) await e.stop();
  }
});
