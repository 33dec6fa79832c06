// etcd's auto-compaction schedules on simulated time: when they compact and to which revision, in
// the cases etcd documents, then thousands of seeded runs (leadership coming and going, failed
// compactions, writes at random rates) against the properties that matter.
import { Rng } from '../../test/sim/rng.js';
import { PeriodicSchedule, RevisionSchedule, type Schedule } from './auto-compaction.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** Ticks `s` from time 0 to `untilMs` with a revision of 1 + 100 per minute; the compactions made, as [minute, revision]. */
function drive(s: Schedule, untilMs: number, leading = (_ms: number) => true): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let now = s.everyMs; now <= untilMs; now += s.everyMs) {
    const rev = s.tick(now, 1 + (100 * now) / MIN, leading(now));
    if (rev === undefined) continue;
    s.done(now, rev);
    out.push([now / MIN, rev]);
  }
  return out;
}

test('periodic, 1h: the first compaction an hour after start, to the revision then; then hourly, to the revision an hour before', () => {
  const s = new PeriodicSchedule(HOUR, 0, 1);
  expect(s.everyMs).toBe(6 * MIN);
  expect(drive(s, 3 * HOUR)).toEqual([
    [60, 1],
    [120, 6001 - 600],
    [180, 12001 - 600],
  ]);
});

test('periodic, 24h: the first compaction a day after start, then hourly, each keeping a day of history', () => {
  const s = new PeriodicSchedule(24 * HOUR, 0, 1);
  // Each after the first to the revision sampled a day and a 6-minute sample before: 25h → 0h54m.
  expect(drive(s, 27 * HOUR)).toEqual([
    [24 * 60, 1],
    [25 * 60, 1 + 100 * 54],
    [26 * 60, 1 + 100 * 114],
    [27 * 60, 1 + 100 * 174],
  ]);
});

test('periodic, 10m: compactions every 10 minutes, each to the revision of 10 minutes before', () => {
  const s = new PeriodicSchedule(10 * MIN, 0, 1);
  expect(s.everyMs).toBe(MIN);
  expect(drive(s, 40 * MIN)).toEqual([
    [10, 1],
    [20, 1 + 100 * 9],
    [30, 1 + 100 * 19],
    [40, 1 + 100 * 29],
  ]);
});

test('periodic: a follower keeps sampling but never compacts; a failed compaction is retried at the next sample', () => {
  const s = new PeriodicSchedule(HOUR, 0, 1);
  expect(drive(s, 2 * HOUR, () => false)).toEqual([]);
  // Leading from now on: the wait is over, so the next tick compacts, to the revision an hour before.
  expect(s.tick(2 * HOUR + 6 * MIN, 12_601, true)).toBe(1 + 100 * 60);
  // Not reported done: asked again at the next sample.
  expect(s.tick(2 * HOUR + 12 * MIN, 13_201, true)).toBe(1 + 100 * 66);
});

test('revision: every 5 minutes to the current revision less the retention, once per target, by the leader only', () => {
  const s = new RevisionSchedule(1000);
  expect(s.everyMs).toBe(5 * MIN);
  expect(s.tick(0, 900, true)).toBeUndefined(); // nothing below 1
  expect(s.tick(0, 1500, false)).toBeUndefined();
  expect(s.tick(0, 1500, true)).toBe(500);
  s.done(0, 500);
  expect(s.tick(0, 1500, true)).toBeUndefined(); // nothing new written
  expect(s.tick(0, 2500, true)).toBe(1500);
});

const RUNS = Number(process.env.COMPACTION_SEEDS ?? 2000);

/** One seeded run of a periodic schedule; what went wrong, with the seed to replay it. */
function run(seed: number): string | undefined {
  const rng = new Rng(seed);
  const retentionMs = rng.pick([5_000, 10 * MIN, HOUR, 3 * HOUR, 24 * HOUR]);
  const intervalMs = Math.min(retentionMs, HOUR);
  const s: Schedule = new PeriodicSchedule(retentionMs, 0, 1);
  const history: Array<[number, number]> = [[0, 1]]; // [time, revision] at start and at each tick
  let revision = 1;
  let leading = rng.chance(0.5);
  let lastDone: [number, number] = [0, 0];
  let asked = false;
  const fail = (what: string) => `seed ${seed}: ${what} (replay: COMPACTION_SEED=${seed})`;
  for (let i = 1; i <= 1000; i++) {
    const now = i * s.everyMs;
    revision += rng.int(0, 50);
    if (rng.chance(0.02)) leading = !leading;
    const rev = s.tick(now, revision, leading);
    history.push([now, revision]);
    // Due: leading, and a retention since the start (before the first), an interval since the last one done.
    const due = leading && now - lastDone[0] >= (asked ? intervalMs : retentionMs);
    if (rev === undefined) {
      if (due) return fail(`no compaction at ${now} ms though one was due`);
      continue;
    }
    if (!due) return fail(`compaction to ${rev} at ${now} ms, not due${leading ? '' : ' (following)'}`);
    asked = true;
    // Never history younger than the retention: the revision was current a retention ago or before.
    const then = history.filter(([t]) => t <= now - retentionMs).at(-1);
    if (!then || rev > then[1])
      return fail(`compaction to ${rev} at ${now} ms keeps less than ${retentionMs} ms`);
    if (rev < lastDone[1]) return fail(`compaction went back from ${lastDone[1]} to ${rev}`);
    // Most go through; a failed one is asked for again at the next sample.
    if (rng.chance(0.9)) {
      s.done(now, rev);
      lastDone = [now, rev];
    }
  }
  return undefined;
}

test(`${RUNS} seeded periodic runs: only while leading, never history younger than the retention, never backwards`, () => {
  const only = process.env.COMPACTION_SEED;
  const seeds = only ? [Number(only)] : Array.from({ length: RUNS }, (_, i) => i + 1);
  const failures = seeds.map(run).filter((f) => f !== undefined);
  expect(failures.slice(0, 5)).toEqual([]);
});
