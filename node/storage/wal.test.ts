// The WAL on real files: replay, overwrite, compaction, and each kind of damage.
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../raft/types.js';
import { Wal, WalCorruptionError } from './wal.js';

const entry = (index: number, term = 1, text = `e${index}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(text),
});
const range = (lo: number, hi: number, term = 1): Entry[] =>
  Array.from({ length: hi - lo + 1 }, (_, i) => entry(lo + i, term));
const meta = (index: number, term = 1) => ({ index, term, confState: { voters: ['a'], learners: [] } });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raftkv-wal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function segments(): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort();
}

test('entries and the hard state survive a reopen, with one fsync per save', async () => {
  let fsyncs = 0;
  const { wal } = await Wal.open(dir, { onFsync: () => fsyncs++ });
  await wal.saveSnapshot(meta(0, 0));
  await wal.save({ term: 2, vote: 'a', commit: 3 }, range(1, 5, 2));
  await wal.save(undefined, range(6, 8, 2));
  await wal.close();
  expect(fsyncs).toBe(3);
  const { wal: again, state } = await Wal.open(dir);
  expect(state.hardState).toEqual({ term: 2, vote: 'a', commit: 3 });
  expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(new TextDecoder().decode(state.entries[7]!.data)).toBe('e8');
  expect(state.entries[0]!.data).toBeInstanceOf(Uint8Array);
  await again.close();
});

test('a rewritten suffix replaces the old entries, as Raft overwrites', async () => {
  const { wal } = await Wal.open(dir);
  await wal.save(undefined, range(1, 6, 1));
  await wal.save(undefined, range(4, 5, 2));
  await wal.close();
  const { wal: again, state } = await Wal.open(dir);
  expect(state.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['1/1', '2/1', '3/1', '4/2', '5/2']);
  await again.close();
});

test('segments roll over; releaseTo drops only what replay no longer needs', async () => {
  const { wal } = await Wal.open(dir, { segmentBytes: 512 });
  for (let i = 1; i <= 100; i += 10) await wal.save(undefined, range(i, i + 9));
  expect((await segments()).length).toBeGreaterThan(5);
  await wal.saveSnapshot(meta(60));
  await wal.releaseTo(50);
  await wal.save(undefined, range(101, 105));
  await wal.close();
  const { wal: again, state } = await Wal.open(dir);
  expect(state.snapshotMeta?.index).toBe(60);
  expect(state.entries[0]!.index).toBe(61);
  expect(state.entries.at(-1)!.index).toBe(105);
  await again.close();
});

test('a record torn at the tail by a crash is cut off with a warning, and earlier records stay', async () => {
  const { wal } = await Wal.open(dir);
  await wal.save(undefined, range(1, 3));
  await wal.save(undefined, range(4, 4));
  await wal.close();
  const file = join(dir, (await segments()).at(-1)!);
  await truncate(file, (await stat(file)).size - 3);
  const warnings: string[] = [];
  const { wal: again, state } = await Wal.open(dir, { logger: { warn: (m) => warnings.push(m) } });
  expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3]);
  expect(warnings).toHaveLength(1);
  await again.save(undefined, range(4, 5));
  await again.close();
  const { wal: third, state: s3 } = await Wal.open(dir);
  expect(s3.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
  await third.close();
});

test('a flipped byte inside the log stops the member with the file and offset', async () => {
  const { wal } = await Wal.open(dir);
  await wal.save(undefined, range(1, 3));
  await wal.save(undefined, range(4, 6));
  await wal.close();
  const file = join(dir, (await segments())[0]!);
  const buf = await readFile(file);
  buf[20] = buf[20]! ^ 0xff; // inside the first record
  await writeFile(file, buf);
  const err = await Wal.open(dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WalCorruptionError);
  expect((err as WalCorruptionError).file).toBe(file);
  expect((err as WalCorruptionError).offset).toBe(0);
  expect((err as Error).message).toContain(file);
});

test('a missing segment stops the member', async () => {
  const { wal } = await Wal.open(dir, { segmentBytes: 256 });
  for (let i = 1; i <= 60; i += 5) await wal.save(undefined, range(i, i + 4));
  await wal.close();
  const segs = await segments();
  expect(segs.length).toBeGreaterThan(3);
  await rm(join(dir, segs[1]!));
  await expect(Wal.open(dir)).rejects.toThrow(/missing/);
});

test('a crash between write and fsync loses nothing that an earlier save returned', async () => {
  let crash = false;
  const { wal } = await Wal.open(dir, { faults: { crashAfterWrite: () => crash } });
  await wal.save({ term: 1, vote: '', commit: 2 }, range(1, 2));
  crash = true;
  await expect(wal.save(undefined, range(3, 3))).rejects.toThrow(/injected crash/);
  await wal.close();
  const { wal: again, state } = await Wal.open(dir);
  expect(state.entries.map((e) => e.index).slice(0, 2)).toEqual([1, 2]);
  expect(state.hardState.commit).toBe(2);
  await again.close();
});

test('an installed snapshot replaces a log that does not hold its last entry', async () => {
  const { wal } = await Wal.open(dir);
  await wal.save(undefined, range(1, 10, 1));
  await wal.saveSnapshot(meta(8, 3)); // entry 8 here has term 1, not 3
  await wal.close();
  const { wal: again, state } = await Wal.open(dir);
  expect(state.snapshotMeta?.index).toBe(8);
  expect(state.entries).toEqual([]);
  await again.close();
});
