// The short benchmark CI runs so `make bench` cannot rot: both systems, every workload, one
// second each. It checks that every measurement was taken, never how fast it was.
import { jest } from '@jest/globals';
import { benchBoth, resultsTable } from './bench.js';

jest.setTimeout(180_000);

test('raftkv and etcd both complete every benchmark workload and the table has a ratio for each', async () => {
  const { raftkv, etcd } = await benchBoth(1);
  for (const r of [raftkv, etcd]) {
    for (const load of [r.put1, r.put64, r.rangeLinearizable64, r.rangeSerializable64]) {
      expect(load.ops).toBeGreaterThan(0);
      expect(Number.isFinite(load.p99ms)).toBe(true);
    }
    expect(r.failoverMs).toBeGreaterThan(0);
    expect(r.rssMiBPerMember).toBeGreaterThan(0);
  }
  const table = resultsTable(raftkv, etcd);
  expect(table.split('\n').filter((l) => /\| \d+(\.\d+)? \|$/.test(l))).toHaveLength(14);
});
