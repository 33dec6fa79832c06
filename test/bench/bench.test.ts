// The short benchmarks CI runs so `make bench` and `make bench-large` cannot rot: both systems,
// every workload (the TLS pair included), one second each, and an 8 MiB "large" data set. They
// check that every measurement was taken, never how fast it was.
import { jest } from '@jest/globals';
import { benchBoth, loads, pooledRounds, resultsTable } from './bench.js';
import { largeDataset, largeTable } from './large.js';

jest.setTimeout(180_000);

test('raftkv and etcd both complete every benchmark workload and the table has a ratio for each', async () => {
  const { raftkv, etcd } = await benchBoth(1);
  for (const r of [raftkv, etcd]) {
    for (const load of loads(r)) {
      expect(load.ops).toBeGreaterThan(0);
      expect(Number.isFinite(load.p99ms)).toBe(true);
    }
    // Puts reach the disk on every member (WAL and backend); the figure is per acknowledged put.
    for (const load of [r.put1Leader, r.put64]) expect(load.diskKiBPerOp).toBeGreaterThan(0);
    // Three kills each (the default), fastest first; the figure is the middle one.
    expect(r.failoverSamplesMs).toHaveLength(3);
    expect(r.failoverSamplesMs[0]).toBeGreaterThan(0);
    expect([...r.failoverSamplesMs].sort((a, b) => a - b)).toEqual(r.failoverSamplesMs);
    expect(r.failoverMs).toBe(r.failoverSamplesMs[1]);
    expect(r.rssMiBPerMember).toBeGreaterThan(0);
    // Each member's share of the pages it shares is less than all of them.
    expect(r.pssMiBPerMember).toBeGreaterThan(0);
    expect(r.pssMiBPerMember).toBeLessThan(r.rssMiBPerMember);
  }
  const table = resultsTable(raftkv, etcd);
  expect(table.split('\n').filter((l) => /\| \d+(\.\d+)? \|$/.test(l))).toHaveLength(38);
  expect(table).toMatch(
    /^Each leader kill, writes resumed after \(ms\): raftkv \d+, \d+, \d+; etcd \d+, \d+, \d+\.$/m,
  );
});

test("rounds pool into the median round's throughput and percentiles over all their requests", () => {
  const round = (opsPerSec: number, latenciesMs: number[]) => ({
    ops: latenciesMs.length,
    errors: 0,
    seconds: latenciesMs.length / opsPerSec,
    opsPerSec,
    p50ms: NaN,
    p99ms: NaN,
    latenciesMs,
    diskKiBPerOp: opsPerSec / 100,
  });
  const ones = (n: number) => Array.from({ length: n }, () => 1);
  // 300 requests, 4 of them slow and all in one round: that round's own p99 is 40 ms, the median
  // round's (by throughput) is 1 ms, and the 99th percentile of all 300 is the 4th slowest.
  const pooled = pooledRounds([
    round(300, [...ones(96), 10, 20, 30, 40]),
    round(200, ones(100)),
    round(100, ones(100)),
  ]);
  expect(pooled.opsPerSec).toBe(200);
  expect(pooled.diskKiBPerOp).toBe(2);
  expect(pooled.latenciesMs).toHaveLength(300);
  expect(pooled.p50ms).toBe(1);
  expect(pooled.p99ms).toBe(20);
});

test('the large-data benchmark measures restarts and a volume replacement on both systems', async () => {
  const results = [await largeDataset('raftkv', 8 * 1024 ** 2), await largeDataset('etcd', 8 * 1024 ** 2)];
  for (const r of results) {
    expect(r.dataMiB).toBe(8);
    expect(r.dbMiB).toBeGreaterThanOrEqual(8);
    expect(r.backupMiB).toBeGreaterThanOrEqual(8);
    expect(r.backupMs).toBeGreaterThan(0);
    for (const ms of [r.restartAfterSigtermMs, r.restartAfterSigkillMs, r.replaceCatchUpMs])
      expect(ms).toBeGreaterThan(0);
    expect(r.replaceMemberPeakMiB).toBeGreaterThan(0);
  }
  expect(largeTable(results[0]!, results[1]!).split('\n')).toHaveLength(13);
});
