// The bbolt writer against the reader (bbolt.ts, which checks every page against what points to
// it): seeded random buckets, empty ones, values bigger than a page (pages that run on) and trees
// several levels deep (small pages) read back entry for entry, in order. Go's own bbolt checks
// real files in test/cluster/etcd-export.test.ts. Replay a failure with BOLT_SEED=<seed>.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../test/sim/rng.js';
import { BoltFile, META } from './bbolt.js';
import { boltFile, type BoltBucketSource } from './bbolt-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'raftkv-bolt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function write(name: string, buckets: BoltBucketSource[], pageSize?: number): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of boltFile(buckets, pageSize)) chunks.push(c);
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(chunks));
  return path;
}

function bytes(rng: Rng, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => rng.int(0, 255)));
}

/** Distinct random keys in byte order, with values mostly small, sometimes larger than a page. */
function randomEntries(rng: Rng, count: number, pageSize: number): Array<[Buffer, Buffer]> {
  const keys = new Map<string, Buffer>();
  while (keys.size < count) {
    const k = bytes(rng, rng.int(1, 40));
    keys.set(k.toString('hex'), k);
  }
  return [...keys.values()]
    .sort(Buffer.compare)
    .map((k) => [
      k,
      Buffer.alloc(rng.chance(0.02) ? rng.int(pageSize, pageSize * 3) : rng.int(0, 60), k[0]!),
    ]);
}

function readAll(path: string): Map<string, Array<[Buffer, Buffer]>> {
  const db = BoltFile.open(path);
  try {
    const out = new Map<string, Array<[Buffer, Buffer]>>();
    for (const b of db.entries(db.root)) {
      expect(b.isBucket).toBe(true);
      const bucket = db.bucket(b.key.toString())!;
      out.set(
        b.key.toString(),
        [...db.entries(bucket)].map((e): [Buffer, Buffer] => [e.key, e.value]),
      );
    }
    return out;
  } finally {
    db.close();
  }
}

const seeds = process.env.BOLT_SEED
  ? [Number(process.env.BOLT_SEED)]
  : Array.from({ length: 40 }, (_, i) => i + 1);

test.each(seeds)('seed %i: random buckets read back entry for entry', async (seed) => {
  const rng = new Rng(seed);
  const pageSize = rng.pick([512, 1024, 4096]);
  const buckets = new Map<string, Array<[Buffer, Buffer]>>();
  for (let i = rng.int(1, 6); i > 0; i--) {
    buckets.set(
      `bucket-${rng.int(0, 99)}`,
      randomEntries(rng, rng.chance(0.2) ? 0 : rng.int(1, 2000), pageSize),
    );
  }
  const sources = [...buckets].map(([name, entries]) => ({ name, entries: () => entries }));
  const path = await write(`seed-${seed}`, rng.shuffle(sources), pageSize);
  const got = readAll(path);
  expect({ seed, names: [...got.keys()] }).toEqual({ seed, names: [...buckets.keys()].sort() });
  // One line per entry, compared as one string (jest compares thousands of buffers slowly).
  const show = (entries: Array<[Buffer, Buffer]> = []) =>
    entries.map(([k, v]) => `${k.toString('hex')}=${v.toString('hex')}`).join('\n');
  for (const [name, entries] of buckets) {
    expect({ seed, name, entries: show(got.get(name)) }).toEqual({ seed, name, entries: show(entries) });
  }
});

test('the file is whole pages: two meta pages naming the root and the page count, then the freelist', async () => {
  const entries: Array<[Buffer, Buffer]> = Array.from({ length: 500 }, (_, i) => [
    Buffer.from(`k${String(i).padStart(4, '0')}`),
    Buffer.alloc(100, i),
  ]);
  const path = await write('layout', [{ name: 'only', entries: () => entries }]);
  const file = readFileSync(path);
  expect(file.length % 4096).toBe(0);
  for (const page of [0, 1]) {
    const at = page * 4096;
    expect(file.readUInt16LE(at + 8)).toBe(META);
    expect(Number(file.readBigUInt64LE(at + 56))).toBe(file.length / 4096); // pages in use
    expect(Number(file.readBigUInt64LE(at + 64))).toBe(page); // transaction id
  }
  expect(file.readUInt16LE(2 * 4096 + 8)).toBe(0x10); // freelist, empty
  expect(file.readUInt16LE(2 * 4096 + 10)).toBe(0);
  expect(readAll(path).get('only')).toEqual(entries);
  // Elements of 121 bytes (16, a 5-byte key, 100 bytes of value), 33 to a page: 16 leaves, the
  // branch page above them, and the root bucket's leaf.
  expect(file.length / 4096).toBe(3 + 16 + 1 + 1);
});

test('a source that changes between the passes is refused rather than written wrong', async () => {
  let calls = 0;
  const entries = () => (calls++ === 0 ? [] : [[Buffer.from('k'), Buffer.alloc(5000)] as [Buffer, Buffer]]);
  await expect(write('changed', [{ name: 'b', entries }])).rejects.toThrow(
    'the buckets changed between passes',
  );
});
