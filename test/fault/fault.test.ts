// A short randomized fault run on real member processes (fixed seed): SIGKILL + restart, SIGSTOP
// pauses past the election timeout, leadership transfers, follower replacement, partitions and
// slow links (through proxies on the peer links), slow disks and power cuts (unsynced WAL tail
// dropped), membership changes, under a concurrent mixed load. The
// history must be linearizable (decided, not 'unknown'), serializable reads must be sane, the
// cluster must converge, and no acknowledged write may be missing. `soak.ts` runs the same for longer.
import { jest } from '@jest/globals';
import { faultRun, type FaultRunResult } from './harness.js';

jest.setTimeout(240_000);

const SEED = 20261;
let r: FaultRunResult;

beforeAll(async () => {
  r = await faultRun({
    seconds: 30,
    seed: SEED,
    checkDeadlineMs: 20_000,
    // These first, then random faults of every kind: every kind the test asserts happens, however
    // slow the machine (the clients keep going until the scripted faults are done).
    firstFaults: ['kill:leader', 'pause', 'membership', 'replace', 'partition', 'unsynced'],
  });
  console.log(
    `fault run seed ${SEED}: ${r.ops.total} ops (ok ${r.ops.ok}, failed ${r.ops.fail}, unknown ${r.ops.unknown}), ` +
      `faults ${JSON.stringify(r.faults)}, checker ${r.check.result} in ${Math.round(r.checkMs)} ms, ` +
      `converged at revision ${r.finalRevision} in ${r.convergeMs} ms, ` +
      `watchers ${r.watch.watchers} (resumed ${r.watch.resumes} times, ${r.watch.eventsChecked} events checked)`,
  );
});

test('faults were injected and the clients got work done', () => {
  expect(r.faults.kill).toBeGreaterThan(0);
  expect(r.faults.pause).toBeGreaterThan(0);
  expect(r.faults.replace).toBeGreaterThan(0);
  expect(r.faults.partition).toBeGreaterThan(0);
  expect(r.faults.membership).toBeGreaterThan(0);
  expect(r.faults.unsynced).toBeGreaterThan(0);
  expect(r.faults.killLeader).toBeGreaterThan(0);
  expect(r.ops.ok).toBeGreaterThan(500);
  for (const kind of ['get', 'sget', 'put', 'cas', 'delete'])
    expect(r.ops.byKind[kind] ?? 0).toBeGreaterThan(0);
});

test('the history is linearizable (decided within the deadline)', () => {
  expect(r.counterexample ?? []).toEqual([]);
  expect(r.check.result).toBe('ok');
});

test('serializable reads never go backwards, never invent values, and agree per revision', () => {
  expect(r.serializable.described).toEqual([]);
});

test('no read returns a row newer than the revision in its header', () => {
  expect(r.headerAnomalies.slice(0, 10)).toEqual([]);
});

test('every watcher saw every committed revision once, in order, across restarts and replacements', () => {
  expect(r.watch.problems).toEqual([]);
  expect(r.watch.watchers).toBe(3);
  expect(r.watch.resumes).toBeGreaterThan(0); // kills and replacements broke streams
  expect(r.watch.eventsChecked).toBe(3 * (r.finalRevision - 1));
});

test('leases under faults: a key never gone before its TTL ran out, and gone once its lease lapsed', () => {
  expect(r.leases.early).toEqual([]);
  expect(r.leases.kept).toEqual([]);
  expect(r.leases.leases).toBeGreaterThan(1);
  expect(r.leases.keepalives).toBeGreaterThan(0);
});

test('the cluster converged and no acknowledged write is missing', () => {
  expect(r.finalRevision).toBeGreaterThan(0);
  expect(r.writesVerified).toBeGreaterThan(0);
  expect(r.lost).toEqual([]);
});
