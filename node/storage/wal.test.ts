// The WAL on real files: replay, overwrite, compaction, and each kind of damage.
import {
  appendFile,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js';
import { encodeRecord } from './record.js';
import { dataEnd } from './scan.js';
import { Wal, WalCorruptionError, type WalOptions, type WalState } from './wal.js';

const entry = (index: number, term = 1, text = `e${index}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(text),
});
const range = (lo: number, hi: number, term = 1): Entry[] =>
  Array.from({ length: hi - lo + 1 }, (_, i) => entry(lo + i, term));
const meta = (index: number, term = 1): SnapshotMeta => ({
  index,
  term,
  confState: { voters: ['a'], learners: [] },
});
const ids = (s: WalState) => s.entries.map((e) => `${e.index}/${e.term}`);
const recordBytes = (e: Entry) => encodeRecord({ type: 'entry', entry: e }).length;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raftkv-wal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function segments(): Promise<string[]> {
  return (await readdir(dir))
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => join(dir, n));
}

/** Opens, closes, and returns what replay produced. */
async function reopen(opts?: WalOptions): Promise<WalState> {
  const { wal, state } = await Wal.open(dir, opts);
  await wal.close();
  return state;
}

async function writeAt(file: string, bytes: Buffer, offset: number): Promise<void> {
  const f = await open(file, 'r+');
  await f.write(bytes, 0, bytes.length, offset);
  await f.close();
}

async function openError(): Promise<WalCorruptionError> {
  const err = await Wal.open(dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WalCorruptionError);
  return err as WalCorruptionError;
}

describe('replay', () => {
  test('a new directory is created and replays as empty', async () => {
    const state = await reopen();
    expect(state).toEqual({ hardState: { term: 0, vote: '', commit: 0 }, entries: [] });
    expect((await segments()).map((p) => p.slice(dir.length + 1))).toEqual([
      '0000000000000001-0000000000000001.wal',
    ]);
  });

  test('entries, conf entries and the hard state survive a reopen exactly', async () => {
    const { wal } = await Wal.open(dir);
    const big = Number.MAX_SAFE_INTEGER;
    const conf: Entry = { index: 3, term: 2, type: 'conf', data: new Uint8Array([0, 255, 7]) };
    await wal.save({ term: 2, vote: 'nöde-ä', commit: 1 }, [entry(1, 2), entry(2, 2, '')]);
    await wal.save({ term: big, vote: '', commit: 3 }, [conf]);
    await wal.close();
    const state = await reopen();
    expect(state.hardState).toEqual({ term: big, vote: '', commit: 3 });
    expect(state.entries).toEqual([entry(1, 2), entry(2, 2, ''), conf]);
    expect(state.entries[0]!.data).toBeInstanceOf(Uint8Array);
    expect(state.snapshotMeta).toBeUndefined();
  });

  test('a term or index that is not a safe integer is refused before anything is written', async () => {
    const { wal } = await Wal.open(dir);
    await expect(wal.save(undefined, [entry(2 ** 53)])).rejects.toThrow(RangeError);
    await wal.close();
    expect(dataEnd(await readFile((await segments())[0]!))).toBe(0);
  });

  test('a rewritten suffix replaces the old entries, as Raft overwrites', async () => {
    const { wal } = await Wal.open(dir, { segmentBytes: 200 });
    await wal.save(undefined, range(1, 6, 1));
    await wal.save(undefined, range(4, 5, 2));
    await wal.save(undefined, range(6, 6, 3));
    await wal.close();
    expect(ids(await reopen())).toEqual(['1/1', '2/1', '3/1', '4/2', '5/2', '6/3']);
  });

  test('an installed snapshot replaces a log whose entry at its index has another term', async () => {
    const { wal } = await Wal.open(dir);
    await wal.save(undefined, range(1, 10, 1));
    await wal.saveSnapshot(meta(8, 3));
    await wal.close();
    const state = await reopen();
    expect(state.snapshotMeta).toEqual(meta(8, 3));
    expect(state.entries).toEqual([]);
  });

  test('a snapshot ahead of the log replaces it; a compaction keeps what follows it', async () => {
    const { wal } = await Wal.open(dir);
    await wal.save(undefined, range(1, 5, 1));
    await wal.saveSnapshot(meta(20, 2)); // from the leader: past the end of our log
    await wal.save(undefined, range(21, 25, 2));
    await wal.saveSnapshot(meta(23, 2)); // our own compaction
    await wal.close();
    const state = await reopen();
    expect(state.snapshotMeta).toEqual(meta(23, 2));
    expect(ids(state)).toEqual(['24/2', '25/2']);
  });

  test('many segments replay in order, and each is labelled with its first index', async () => {
    const { wal } = await Wal.open(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 1000; i += 10) await wal.save({ term: 1, vote: 'a', commit: i }, range(i, i + 9));
    await wal.close();
    const files = await segments();
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) expect((await stat(f)).size).toBeLessThanOrEqual(1024);
    // Writes are 10 entries, so every segment after the first starts at 10k+1.
    for (const f of files.slice(1)) expect(Number(/-(\d+)\.wal$/.exec(f)![1]) % 10).toBe(1);
    const state = await reopen({ segmentBytes: 1024 });
    expect(state.entries.map((e) => e.index)).toEqual(range(1, 1000).map((e) => e.index));
    expect(state.hardState.commit).toBe(991);
  });

  test('an index gap in the entries is corruption, located at the entry after it', async () => {
    const { wal } = await Wal.open(dir);
    await wal.save(undefined, range(1, 3));
    await wal.save(undefined, range(5, 6));
    await wal.close();
    const err = await openError();
    expect(err.file).toBe((await segments())[0]);
    expect(err.offset).toBe(range(1, 3).reduce((n, e) => n + recordBytes(e), 0));
    expect(err.message).toMatch(/entries 1\.\.4 .* missing/);
  });
});

describe('compaction', () => {
  test('releaseTo deletes old segments and replay gives the same state as before', async () => {
    const opts = { segmentBytes: 512 };
    const { wal } = await Wal.open(dir, opts);
    await wal.save({ term: 4, vote: 'b', commit: 0 }, []);
    for (let i = 1; i <= 100; i += 10) await wal.save(undefined, range(i, i + 9, 4));
    await wal.saveSnapshot(meta(60, 4));
    for (let i = 101; i <= 150; i += 10) await wal.save(undefined, range(i, i + 9, 4));
    await wal.saveSnapshot(meta(120, 4));
    const before = await reopen(opts);
    const count = (await segments()).length;
    await wal.releaseTo(1000); // asks for too much: only what the newest snapshot covers goes
    await wal.close();
    expect((await segments()).length).toBeLessThan(count);
    const after = await reopen(opts);
    expect(after).toEqual(before);
    expect(after.hardState).toEqual({ term: 4, vote: 'b', commit: 0 });
    expect(after.snapshotMeta).toEqual(meta(120, 4));
    expect(after.entries.map((e) => e.index)).toEqual(range(121, 150).map((e) => e.index));
  });

  test('releaseTo keeps everything after the snapshot even when asked for less', async () => {
    const { wal } = await Wal.open(dir, { segmentBytes: 256 });
    for (let i = 1; i <= 40; i += 5) await wal.save(undefined, range(i, i + 4));
    await wal.saveSnapshot(meta(10));
    await wal.releaseTo(10);
    await wal.close();
    const state = await reopen();
    expect(state.snapshotMeta?.index).toBe(10);
    expect(state.entries.map((e) => e.index)).toEqual(range(11, 40).map((e) => e.index));
  });

  test('releaseTo without a snapshot deletes nothing', async () => {
    const { wal } = await Wal.open(dir, { segmentBytes: 128 });
    for (let i = 1; i <= 20; i++) await wal.save(undefined, [entry(i)]);
    const before = await segments();
    await wal.releaseTo(20);
    await wal.close();
    expect(await segments()).toEqual(before);
  });

  test('random saves, overwrites, compactions and releases replay like a model log', async () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const opts = { segmentBytes: 300 };
    let { wal } = await Wal.open(dir, opts);
    const model: WalState = { hardState: { term: 0, vote: '', commit: 0 }, entries: [] };
    let term = 1;
    let last = 0;
    for (let step = 0; step < 300; step++) {
      const snapIndex = model.snapshotMeta?.index ?? 0;
      const op = rand(10);
      if (op < 6) {
        // Append, sometimes overwriting an uncommitted suffix with a new term.
        const from =
          op === 0 && last > snapIndex + 1 ? last - rand(Math.min(3, last - snapIndex - 1)) : last + 1;
        if (from <= last) term++;
        const ents = range(from, from + rand(4), term);
        const hs: HardState | undefined = rand(2)
          ? { term, vote: `n${term % 3}`, commit: snapIndex }
          : undefined;
        await wal.save(hs, ents);
        model.entries = [...model.entries.filter((e) => e.index < from), ...ents];
        if (hs) model.hardState = hs;
        last = ents.at(-1)!.index;
      } else if (op < 8 && last > snapIndex) {
        const at = snapIndex + 1 + rand(last - snapIndex);
        const m = meta(at, model.entries.find((e) => e.index === at)!.term);
        await wal.saveSnapshot(m);
        model.snapshotMeta = m;
        model.entries = model.entries.filter((e) => e.index > at);
      } else if (op === 8) {
        await wal.releaseTo(rand(last + 5));
      } else {
        await wal.close();
        const reopened = await Wal.open(dir, opts);
        wal = reopened.wal;
        expect(ids(reopened.state)).toEqual(ids(model));
        expect(reopened.state.hardState).toEqual(model.hardState);
        expect(reopened.state.snapshotMeta).toEqual(model.snapshotMeta);
      }
    }
    await wal.close();
    const state = await reopen(opts);
    expect(state.entries).toEqual(model.entries);
    expect(state.hardState).toEqual(model.hardState);
  });
});

describe('durability', () => {
  test('each save() makes exactly one fdatasync, also when it starts a new segment', async () => {
    const fsyncs: number[] = [];
    let paused = 0;
    const { wal } = await Wal.open(dir, {
      segmentBytes: 300,
      onFsync: (s) => fsyncs.push(s),
      faults: { beforeFsync: async () => void paused++ },
    });
    for (let i = 1; i <= 30; i += 3) await wal.save({ term: 1, vote: '', commit: i }, range(i, i + 2));
    await wal.save(undefined, []); // nothing to make durable
    await wal.close();
    expect((await segments()).length).toBeGreaterThan(3);
    expect(fsyncs).toHaveLength(10);
    expect(paused).toBe(10);
    for (const s of fsyncs) expect(s).toBeGreaterThanOrEqual(0);
  });

  test('a hard state saved unsynced is written at once, with no fdatasync, and replays', async () => {
    const fsyncs: number[] = [];
    const { wal } = await Wal.open(dir, { onFsync: (s) => fsyncs.push(s) });
    await wal.save({ term: 1, vote: 'a', commit: 1 }, range(1, 3));
    expect(fsyncs).toHaveLength(1);
    await wal.save({ term: 1, vote: 'a', commit: 3 }, [], 'none');
    expect(fsyncs).toHaveLength(1);
    await wal.close(); // closes the file only: what a killed process leaves behind
    const state = await reopen();
    expect(state.hardState).toEqual({ term: 1, vote: 'a', commit: 3 });
    expect(ids(state)).toEqual(['1/1', '2/1', '3/1']);
  });

  test('an inline save is durable before this thread serves anything else', async () => {
    const fsyncs: number[] = [];
    const { wal } = await Wal.open(dir, { onFsync: (s) => fsyncs.push(s) });
    let served = false;
    setImmediate(() => (served = true));
    await wal.save({ term: 1, vote: 'a', commit: 0 }, range(1, 2), 'inline');
    // A thread-pool fdatasync would need a turn of the event loop, which runs the immediate first.
    expect(served).toBe(false);
    expect(fsyncs).toHaveLength(1);
    await wal.close();
    expect(ids(await reopen())).toEqual(['1/1', '2/1']);
  });

  test('a slow disk holds back later saves: they complete in call order', async () => {
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    let syncs = 0;
    const { wal } = await Wal.open(dir, {
      faults: { beforeFsync: () => (syncs++ === 0 ? gate : Promise.resolve()) },
    });
    const done: string[] = [];
    const first = wal.save(undefined, range(1, 2)).then(() => done.push('first'));
    const second = wal.save(undefined, range(3, 4)).then(() => done.push('second'));
    await new Promise((ok) => setImmediate(ok));
    expect(done).toEqual([]);
    release();
    await Promise.all([first, second]);
    expect(done).toEqual(['first', 'second']);
    await wal.close();
    expect(ids(await reopen())).toEqual(['1/1', '2/1', '3/1', '4/1']);
  });

  test('a crash between write and fsync loses nothing an earlier save() returned, and stops the WAL', async () => {
    let crash = false;
    const { wal } = await Wal.open(dir, { faults: { crashAfterWrite: () => crash } });
    await wal.save({ term: 1, vote: 'a', commit: 2 }, range(1, 2));
    crash = true;
    await expect(wal.save({ term: 1, vote: 'a', commit: 3 }, range(3, 3))).rejects.toThrow(/injected crash/);
    crash = false;
    await expect(wal.save(undefined, range(4, 4))).rejects.toThrow(/unusable/);
    await wal.close();
    const state = await reopen();
    expect(ids(state).slice(0, 2)).toEqual(['1/1', '2/1']);
    expect(state.hardState.commit).toBeGreaterThanOrEqual(2);
  });
});

test('the synced hook reports every new segment and how far each fdatasync made it durable', async () => {
  const reports: Array<[string, number]> = [];
  const { wal } = await Wal.open(dir, {
    segmentBytes: 300,
    faults: { synced: async (path, size) => void reports.push([path, size]) },
  });
  for (let i = 1; i <= 30; i += 3) await wal.save({ term: 1, vote: '', commit: i }, range(i, i + 2));
  await wal.close();
  const files = await segments();
  // Each segment is reported empty when created, then at its full size after its last save: the
  // size it was cut to when the next one began, or for the last one where its zeros begin.
  for (const f of files) {
    const mine = reports.filter(([p]) => p === f);
    expect(mine[0]![1]).toBe(0);
    const size = f === files.at(-1) ? dataEnd(await readFile(f)) : (await stat(f)).size;
    expect(mine.at(-1)![1]).toBe(size);
  }
  expect((await stat(files.at(-1)!)).size).toBe(300);
  expect(reports.length).toBe(files.length + 10);
});

describe('damage', () => {
  async function twoSaves(): Promise<string> {
    const { wal } = await Wal.open(dir);
    await wal.save(undefined, range(1, 3));
    await wal.save(undefined, range(4, 4));
    await wal.close();
    return (await segments()).at(-1)!;
  }

  // A power cut leaves the unsynced end of the last write as zeros in the preallocated file, or
  // (a segment from before preallocation, or one cut by the fault harness) cut off.
  test.each([
    ['mid-payload', 3, 'zeroed'],
    ['mid-header', recordBytes(entry(4)) - 4, 'zeroed'],
    ['mid-payload', 3, 'cut off'],
  ])(
    'a record torn %s at the tail (%i bytes %s) is cut off with a warning; the log stays writable',
    async (_, cut, how) => {
      const file = await twoSaves();
      const end = dataEnd(await readFile(file));
      if (how === 'zeroed') await writeAt(file, Buffer.alloc(cut), end - cut);
      else await truncate(file, end - cut);
      const warnings: object[] = [];
      const { wal, state } = await Wal.open(dir, {
        logger: { warn: (m, meta) => warnings.push({ m, ...meta }) },
      });
      expect(ids(state)).toEqual(['1/1', '2/1', '3/1']);
      expect(warnings).toEqual([expect.objectContaining({ m: expect.stringMatching(/torn/), file })]);
      await wal.save(undefined, range(4, 5));
      await wal.close();
      expect(ids(await reopen())).toEqual(['1/1', '2/1', '3/1', '4/1', '5/1']);
    },
  );

  test('zeros after the last record are the preallocated tail: a clean end, appended after', async () => {
    const file = await twoSaves();
    expect((await stat(file)).size).toBe(64 * 1024 * 1024);
    await appendFile(file, Buffer.alloc(64));
    const warnings: string[] = [];
    const { wal, state } = await Wal.open(dir, { logger: { warn: (m) => warnings.push(m) } });
    expect(state.entries).toHaveLength(4);
    expect(warnings).toEqual([]);
    await wal.save(undefined, range(5, 5));
    await wal.close();
    expect(ids(await reopen())).toEqual(['1/1', '2/1', '3/1', '4/1', '5/1']);
  });

  test('data after the preallocated zeros is corruption, not a clean end', async () => {
    const file = await twoSaves();
    await writeAt(file, Buffer.from([1]), 1024 * 1024);
    const err = await openError();
    expect(err.file).toBe(file);
    expect(err.message).toMatch(/checksum mismatch/);
  });

  test('a flipped byte in a non-last record of a non-last segment names the file and offset', async () => {
    const { wal } = await Wal.open(dir, { segmentBytes: 200 });
    for (let i = 1; i <= 30; i += 3) await wal.save(undefined, range(i, i + 2));
    await wal.close();
    const file = (await segments())[1]!;
    const buf = await readFile(file);
    const second = recordBytes(entry(4)); // offset of the segment's second record
    buf[second + 12]! ^= 0x40;
    await writeFile(file, buf);
    const err = await openError();
    expect(err.file).toBe(file);
    expect(err.offset).toBe(second);
    expect(err.message).toContain(`${file} at offset ${second}: checksum mismatch`);
  });

  test('a flipped byte in the last segment with records after it is corruption, not a torn tail', async () => {
    const file = await twoSaves();
    const buf = await readFile(file);
    buf[recordBytes(entry(1)) + 20]! ^= 0xff;
    await writeFile(file, buf);
    const err = await openError();
    expect(err.file).toBe(file);
    expect(err.offset).toBe(recordBytes(entry(1)));
  });

  test('a damaged length in the last segment is not mistaken for a torn tail', async () => {
    const file = await twoSaves();
    const buf = await readFile(file);
    buf[recordBytes(entry(1)) + 3] = 0x7f; // length's high byte: the record now "runs past the end"
    await writeFile(file, buf);
    const err = await openError();
    expect(err.offset).toBe(recordBytes(entry(1)));
    expect(err.message).toMatch(/intact records follow/);
  });

  test('a missing middle segment stops replay, naming the segment after the gap', async () => {
    const { wal } = await Wal.open(dir, { segmentBytes: 256 });
    for (let i = 1; i <= 60; i += 5) await wal.save(undefined, range(i, i + 4));
    await wal.close();
    const files = await segments();
    expect(files.length).toBeGreaterThan(3);
    await rm(files[1]!);
    const err = await openError();
    expect(err.file).toBe(files[2]);
    expect(err.message).toMatch(/segment 2 is missing/);
  });

  test('a torn record in a segment that is not the last is corruption', async () => {
    const { wal } = await Wal.open(dir, { segmentBytes: 200 });
    for (let i = 1; i <= 30; i += 3) await wal.save(undefined, range(i, i + 2));
    await wal.close();
    const file = (await segments())[0]!;
    await truncate(file, (await stat(file)).size - 2);
    const err = await openError();
    expect(err.file).toBe(file);
    expect(err.message).toMatch(/cut short/);
  });
});
