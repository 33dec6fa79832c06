// The in-memory key index: which revision of each key a read at a revision sees, key order over
// arbitrary bytes, compaction, its rebuild from `revision-keys` when a store opens, and the upgrade
// from older layouts (an on-disk index dropped, `revision-keys` filled from history).
import { Backend } from './backend.js';
import { KeyIndex } from './key-index.js';
import { b, Harness, str } from './test-harness.js';
import { MvccStore } from './store.js';
import type { RangeResponse } from './types.js';

const bytes = (...xs: number[]) => Buffer.from(xs);

describe('KeyIndex', () => {
  test('a read at a revision sees the newest change at or before it; before() is strictly before', () => {
    const ix = new KeyIndex();
    ix.add(b('k'), { main: 2, sub: 0, tombstone: false });
    ix.add(b('k'), { main: 5, sub: 1, tombstone: false });
    ix.add(b('k'), { main: 7, sub: 0, tombstone: true });
    expect(ix.at(b('k'), 1)).toBeUndefined();
    expect(ix.at(b('k'), 4)).toEqual({ main: 2, sub: 0, tombstone: false });
    expect(ix.at(b('k'), 5)).toEqual({ main: 5, sub: 1, tombstone: false });
    expect(ix.at(b('k'), 9)).toEqual({ main: 7, sub: 0, tombstone: true });
    expect(ix.newestBefore(b('k'), 5, 1)).toEqual({ main: 2, sub: 0, tombstone: false });
    expect(ix.newestBefore(b('k'), 5, 2)).toEqual({ main: 5, sub: 1, tombstone: false });
    expect(ix.at(b('other'), 9)).toBeUndefined();
  });

  test('keys come in byte order, bytes above 0x7f and zero bytes included, within [start, end)', () => {
    const ix = new KeyIndex();
    const keys = [bytes(0xff), bytes(0x61, 0), bytes(0x61), bytes(0x80, 1), bytes(0x7f), bytes(0)];
    keys.forEach((k, i) => ix.add(k, { main: i + 2, sub: 0, tombstone: false }));
    const sorted = [...keys].sort(Buffer.compare);
    const keysAt = (start: Buffer, end: Buffer | undefined, at = Infinity) =>
      Array.from(ix.changesAt(start, end, at), ([k]) => k);
    expect(keysAt(Buffer.alloc(0), undefined)).toEqual(sorted);
    expect(keysAt(bytes(0x61), bytes(0x80, 1))).toEqual([bytes(0x61), bytes(0x61, 0), bytes(0x7f)]);
    expect(keysAt(bytes(0x80), undefined)).toEqual([bytes(0x80, 1), bytes(0xff)]);
    // A key whose first change is after the revision is left out; each comes with its change then.
    expect(keysAt(Buffer.alloc(0), undefined, 4)).toEqual([bytes(0x61), bytes(0x61, 0), bytes(0xff)]);
    expect(Array.from(ix.changesAt(bytes(0xff), undefined, 9), ([, c]) => c)).toEqual([
      { main: 2, sub: 0, tombstone: false },
    ]);
  });

  test('compaction keeps the newest change at the revision unless it is a deletion', () => {
    const ix = new KeyIndex();
    for (const main of [2, 3, 6]) ix.add(b('live'), { main, sub: 0, tombstone: false });
    ix.add(b('gone'), { main: 2, sub: 0, tombstone: false });
    ix.add(b('gone'), { main: 4, sub: 0, tombstone: true });
    ix.add(b('gone'), { main: 8, sub: 0, tombstone: false });
    expect(ix.compact(b('live'), 5).map((c) => c.main)).toEqual([2]);
    expect(ix.at(b('live'), 5)?.main).toBe(3);
    expect(ix.compact(b('gone'), 5).map((c) => c.main)).toEqual([2, 4]);
    expect(ix.at(b('gone'), 9)?.main).toBe(8);
    expect(ix.compact(b('gone'), 9)).toEqual([]); // the newest is live: kept
    ix.add(b('gone'), { main: 10, sub: 0, tombstone: true });
    expect(ix.compact(b('gone'), 10).map((c) => c.main)).toEqual([8, 10]);
    expect(ix.size).toBe(1); // a key with no changes left is dropped
    expect(ix.compact(b('never'), 10)).toEqual([]);
    ix.add(b('gone'), { main: 12, sub: 0, tombstone: false }); // and comes back whole
    expect(ix.at(b('gone'), 12)?.main).toBe(12);
    const scan = [...ix.changesAt(b(''), undefined, 12)].map(([k, c]) => [k.toString(), c.main]);
    expect(scan).toEqual([
      ['gone', 12],
      ['live', 6],
    ]);
    expect(ix.size).toBe(2);
  });
});

describe('the index of a store', () => {
  let h: Harness;
  beforeEach(() => (h = new Harness()));
  afterEach(() => h.close());

  /** Every range a client could ask for over the store's history. */
  const everyRead = (): RangeResponse[] => {
    const reads: RangeResponse[] = [];
    const current = h.store.currentRevision();
    for (let revision = h.store.compactedRevision() + 1; revision <= current; revision++) {
      reads.push(h.store.range({ key: b('a'), range_end: b('\0'), revision }));
      reads.push(h.store.range({ key: b('b'), revision }));
    }
    return reads;
  };

  test('is rebuilt on open: every read at every revision answers as before, compacted changes stay gone', async () => {
    h.put('a', '1'); // 2
    h.put('b', '1'); // 3
    h.put('b', '2'); // 4
    h.del('a'); // 5
    h.put('c', '1'); // 6
    h.ok({ compaction: { revision: 5 } }); // drops a@2, a@5 (deleted at 5) and b@3
    h.put('a', '2'); // 7
    h.del('b', 'c'); // 8
    const before = everyRead();
    await h.reopen();
    expect(everyRead()).toEqual(before);
    expect(h.keys({ key: b('a'), range_end: b('\0') })).toEqual(['a', 'c']);
    expect(h.keys({ key: b('a'), range_end: b('\0'), revision: 6 })).toEqual(['b', 'c']);
    await h.store.close();
    const db = Backend.open(h.path);
    try {
      expect(db.index.at(b('a'), 6)).toBeUndefined();
      expect(db.index.at(b('b'), 3)).toBeUndefined();
      expect(db.index.at(b('b'), 4)).toEqual({ main: 4, sub: 0, tombstone: false });
    } finally {
      await db.close();
    }
    h.store = MvccStore.open(h.path); // for afterEach to close
  });

  test('a store from schema 2 loses its on-disk index (changes, live), gains revision-keys, reads the same', async () => {
    h.put('a', '1');
    h.put('a', '2');
    const before = everyRead();
    await h.store.close();
    // What schema 2 had beside history: a change list and a live-key table, and no revision-keys.
    const old = Backend.open(h.path);
    old.env.transactionSync(() => {
      old.env.openDB({ name: 'revision-keys' }).dropSync();
      old.env.openDB({ name: 'changes', keyEncoding: 'binary', dupSort: true }).putSync(b('a'), b('x'));
      old.env.openDB({ name: 'live', keyEncoding: 'binary' }).putSync(b('a'), b('x'));
      old.writeMeta({ ...old.readMeta(), schema: 2 });
    });
    await old.close();
    const infos: string[] = [];
    h.store = MvccStore.open(h.path, { logger: { info: (m) => infos.push(m), warn: () => {} } });
    expect(infos).toContain('store upgraded');
    expect(everyRead()).toEqual(before);
    await h.store.close();
    const upgraded = Backend.open(h.path);
    const names = Array.from(upgraded.env.getKeys(), (k) => String(k));
    await upgraded.close();
    expect(names).toContain('history');
    expect(names).not.toContain('changes');
    expect(names).not.toContain('live');
    h.store = MvccStore.open(h.path);
    expect(str(h.get('a')!.value)).toBe('2');
  });
});
