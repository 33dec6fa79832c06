// The lease clocks under seeded random schedules of grants, keepalives, leader changes and time:
// no lease is ever found expired sooner than its TTL after its last acknowledged keepalive, and
// one left alone under a steady leader is found expired within its TTL and an election timeout.
// A failure prints its seed; replay with LESSOR_SEED=<seed>.
import { Rng } from '../../test/sim/rng.js';
import type { Lease } from '../mvcc/leases.js';
import { Lessor } from './lessor.js';

const EXTEND = 1000;
const RUNS = Number(process.env.LESSOR_RUNS ?? 1000);
const SEEDS = process.env.LESSOR_SEED
  ? [Number(process.env.LESSOR_SEED)]
  : Array.from({ length: RUNS }, (_, i) => i + 1);

test('one lease, by hand: renew restarts the clock, a new term restarts it with the extension', () => {
  const l: Lease = { id: 1, ttl: 5 };
  const lessor = new Lessor(EXTEND);
  lessor.lead(1, 0, () => [l]);
  expect(lessor.remainingMs(l, 1000)).toBe(5000);
  expect(lessor.renew(l, 3000)).toBe(true);
  expect(lessor.remainingMs(l, 3000)).toBe(5000);
  expect(lessor.expired(7999, 10)).toEqual([]);
  expect(lessor.expired(8000, 10)).toEqual([1]);
  expect(lessor.renew(l, 8000)).toBe(false); // expired: its revoke is due
  lessor.lead(1, 8000, () => [l]); // same term: nothing changes
  expect(lessor.expired(8000, 10)).toEqual([1]);
  lessor.lead(2, 8000, () => [l]);
  expect(lessor.remainingMs(l, 8000)).toBe(5000 + EXTEND);
  lessor.follow();
  expect(lessor.expired(1e9, 10)).toEqual([]);
});

test('track starts clocks for new leases and forgets revoked ones; expired lists the oldest first', () => {
  const lessor = new Lessor(EXTEND);
  lessor.lead(1, 0, () => []);
  lessor.track([{ id: 1, ttl: 3 }], 0);
  lessor.track(
    [
      { id: 1, ttl: 3 },
      { id: 2, ttl: 1 },
      { id: 3, ttl: 2 },
    ],
    500,
  );
  expect(lessor.expired(10_000, 10)).toEqual([2, 3, 1]);
  expect(lessor.expired(10_000, 2)).toEqual([2, 3]);
  lessor.track([{ id: 3, ttl: 2 }], 10_000);
  expect(lessor.expired(10_000, 10)).toEqual([3]);
});

/** A cluster's leases, with the leader's lessor and every member's own, under random events. */
function run(seed: number): void {
  const rng = new Rng(seed);
  const members = [new Lessor(EXTEND), new Lessor(EXTEND), new Lessor(EXTEND)];
  const leases = new Map<number, Lease>();
  /** When each lease's holder was last told it is alive (grant or acknowledged keepalive). */
  const acked = new Map<number, number>();
  let leader = 0;
  let term = 1;
  let leaderSince = 0;
  let now = 0;
  let nextId = 1;
  const list = () => [...leases.values()];
  members[leader]!.lead(term, now, list);
  for (let step = 0; step < 300; step++) {
    now += rng.int(0, 800);
    const roll = rng.next();
    if (roll < 0.15) {
      const l = { id: nextId++, ttl: rng.int(1, 6) };
      leases.set(l.id, l);
      acked.set(l.id, now);
    } else if (roll < 0.55 && leases.size > 0) {
      const l = list()[rng.int(0, leases.size - 1)]!;
      if (members[leader]!.renew(l, now)) acked.set(l.id, now);
    } else if (roll < 0.6) {
      members[leader]!.follow();
      leader = rng.int(0, members.length - 1);
      term++;
      leaderSince = now;
      members[leader]!.lead(term, now, list);
    }
    const lessor = members[leader]!;
    lessor.track(list(), now);
    for (const id of lessor.expired(now, 100)) {
      const l = leases.get(id)!;
      const since = now - acked.get(id)!;
      if (since < l.ttl * 1000) {
        throw new Error(`lease ${id} (TTL ${l.ttl} s) expired ${since} ms after its last keepalive`);
      }
      leases.delete(id); // the leader's revoke
    }
    // Left alone: expired by its TTL after its last keepalive, or after this leader began plus the extension.
    for (const l of leases.values()) {
      const due = Math.max(acked.get(l.id)! + l.ttl * 1000, leaderSince + l.ttl * 1000 + EXTEND);
      if (now >= due) throw new Error(`lease ${l.id} (TTL ${l.ttl} s) outlived ${due} at ${now}`);
    }
  }
}

test(`${SEEDS.length} seeded schedules: never expired early, never kept forever`, () => {
  for (const seed of SEEDS) {
    try {
      run(seed);
    } catch (e) {
      throw new Error(`seed ${seed} (replay: LESSOR_SEED=${seed}): ${(e as Error).message}`);
    }
  }
});
