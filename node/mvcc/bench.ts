// Figures for the MVCC store on this machine: node dist/node/mvcc/bench.js (after a build).
// Real lmdb files in a temp dir, 256-byte values, each batch committed and fsynced on its own (a
// batch limit of one entry), as a member under light load would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MvccStore } from './store.js';
import type { WriteRequest } from './types.js';

const VALUE = Buffer.alloc(256, 'v');
const key = (i: number) => Buffer.from(`/registry/pods/ns-${i % 97}/pod-${i}`);

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

class Feeder {
  private index = 0;
  constructor(readonly store: MvccStore) {}

  /** Applies the requests as one batch; returns the milliseconds it took. */
  batch(reqs: WriteRequest[]): number {
    const t0 = performance.now();
    this.store.applyBatch(reqs.map((request) => ({ index: ++this.index, term: 1, request })));
    return performance.now() - t0;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-mvcc-bench-'));
  try {
    const feeder = new Feeder(
      MvccStore.open(join(dir, 'db'), { batch: { intervalMs: 100, maxEntries: 1, maxBytes: 1 } }),
    );
    const puts = (from: number, n: number): WriteRequest[] =>
      Array.from({ length: n }, (_, i) => ({ put: { key: key(from + i), value: VALUE } }));

    const batchMs = Array.from({ length: 200 }, (_, b) => feeder.batch(puts(b * 100, 100)));
    console.log(
      `applyBatch, 100 puts of 256 B: p50 ${percentile(batchMs, 0.5).toFixed(2)} ms, p99 ${percentile(batchMs, 0.99).toFixed(2)} ms`,
    );
    const oneMs = Array.from({ length: 200 }, (_, i) => feeder.batch(puts(i, 1)));
    console.log(`applyBatch, 1 put: p50 ${percentile(oneMs, 0.5).toFixed(2)} ms`);

    for (let b = 200; b < 1000; b++) feeder.batch(puts(b * 100, 100)); // 100k keys in all
    const reads = 100_000;
    let t0 = performance.now();
    for (let i = 0; i < reads; i++) feeder.store.range({ key: key((i * 7919) % 100_000) });
    console.log(`range of 1 key (100k keys): ${(((performance.now() - t0) * 1000) / reads).toFixed(2)} µs`);
    t0 = performance.now();
    const prefix = {
      key: Buffer.from('/registry/pods/ns-1/'),
      range_end: Buffer.from('/registry/pods/ns-10'),
    };
    const listed = feeder.store.range({ ...prefix, limit: 500 });
    console.log(`range of a prefix, limit 500 of ${listed.count}: ${(performance.now() - t0).toFixed(2)} ms`);

    // One key written 20k times: reads at its oldest revisions seek, not walk its history.
    const hot = Buffer.from('/registry/leases/hot');
    const firstHot = feeder.store.currentRevision() + 1;
    for (let b = 0; b < 200; b++) {
      feeder.batch(Array.from({ length: 100 }, () => ({ put: { key: hot, value: VALUE } })));
    }
    t0 = performance.now();
    for (let i = 0; i < 1000; i++) feeder.store.range({ key: hot, revision: firstHot + i });
    console.log(
      `range of 1 key at an old revision (20k versions): ${(performance.now() - t0).toFixed(2)} µs each`,
    );

    t0 = performance.now();
    const chunks: Uint8Array[] = [];
    for await (const c of feeder.store.exportSnapshot()) chunks.push(c);
    const exportMs = performance.now() - t0;
    const bytes = chunks.reduce((n, c) => n + c.length, 0);
    t0 = performance.now();
    const copy = await MvccStore.restoreSnapshot(join(dir, 'copy'), Buffer.concat(chunks));
    const restoreMs = performance.now() - t0;
    const same = copy.hashKV().hash === feeder.store.hashKV().hash;
    console.log(
      `snapshot of 100k keys (${(bytes / 1e6).toFixed(1)} MB): export ${exportMs.toFixed(0)} ms, restore ${restoreMs.toFixed(0)} ms, same hash: ${same}`,
    );
    await copy.close();
    await feeder.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
