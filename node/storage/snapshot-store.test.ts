// Snapshot files on real disk: roundtrip, newest wins, purge, crash leftovers and damage.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Snapshot } from '../raft/types.js';
import { SnapshotCorruptionError, SnapshotStore } from './snapshot-store.js';

const snap = (index: number, term: number, text = `state@${index}`): Snapshot => ({
  meta: { index, term, confState: { voters: ['a', 'b'], learners: ['c'] } },
  data: new TextEncoder().encode(text),
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raftkv-snap-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('an empty store has no snapshot', async () => {
  const store = await SnapshotStore.open(join(dir, 'new', 'snap'));
  expect(await store.loadNewest()).toBeUndefined();
});

test('the newest snapshot comes back byte for byte, from a fresh store', async () => {
  const store = await SnapshotStore.open(dir);
  await store.save(snap(10, 1));
  await store.save(snap(200, 3, 'x'.repeat(100_000)));
  await store.save(snap(150, 2));
  const loaded = await (await SnapshotStore.open(dir)).loadNewest();
  expect(loaded).toEqual(snap(200, 3, 'x'.repeat(100_000)));
  expect(loaded!.data).toBeInstanceOf(Uint8Array);
});

test('purge keeps the newest ones by index', async () => {
  const store = await SnapshotStore.open(dir);
  for (const i of [5, 40, 30, 20]) await store.save(snap(i, 1));
  await store.purge(2);
  expect((await readdir(dir)).sort()).toEqual([
    'snap-0000000000000001-0000000000000030.snap',
    'snap-0000000000000001-0000000000000040.snap',
  ]);
  await expect(store.purge(0)).rejects.toThrow(RangeError);
});

test('a half-written .tmp from a crash is removed and never loaded', async () => {
  const store = await SnapshotStore.open(dir);
  await store.save(snap(10, 1));
  await writeFile(join(dir, 'snap-0000000000000001-0000000000000099.snap.tmp'), 'partial');
  const again = await SnapshotStore.open(dir);
  expect(await readdir(dir)).toEqual(['snap-0000000000000001-0000000000000010.snap']);
  expect((await again.loadNewest())?.meta.index).toBe(10);
});

test('a flipped byte in the data is reported with the file name', async () => {
  const store = await SnapshotStore.open(dir);
  await store.save(snap(7, 2, 'some application state'));
  const file = join(dir, 'snap-0000000000000002-0000000000000007.snap');
  const buf = await readFile(file);
  buf[buf.length - 3]! ^= 0x01;
  await writeFile(file, buf);
  const err = await store.loadNewest().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SnapshotCorruptionError);
  expect((err as SnapshotCorruptionError).file).toBe(file);
  expect((err as Error).message).toContain(file);
  expect((err as Error).message).toContain('checksum mismatch');
});

test('a truncated snapshot file is reported, not loaded', async () => {
  const store = await SnapshotStore.open(dir);
  await store.save(snap(7, 2));
  const file = join(dir, 'snap-0000000000000002-0000000000000007.snap');
  await writeFile(file, (await readFile(file)).subarray(0, 20));
  await expect(store.loadNewest()).rejects.toThrow(SnapshotCorruptionError);
});
