// Compaction: what stays readable at and after the compacted revision, what goes, and its errors.
import { Harness, b, str, summary } from './test-harness.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.close());

test('keeps the newest version at or before the revision and everything after; older reads fail', () => {
  h.put('a', '1'); // 2
  h.put('a', '2'); // 3
  h.put('b', '1'); // 4
  h.put('a', '3'); // 5
  const res = h.ok({ compaction: { revision: 4 } });
  expect(res.header.revision).toBe(5); // compaction does not take a revision
  expect(h.store.compactedRevision()).toBe(4);
  expect(summary(h.get('a', 4))).toEqual(['2', 2, 3, 2]);
  expect(summary(h.get('b', 4))).toEqual(['1', 4, 4, 1]);
  expect(summary(h.get('a'))).toEqual(['3', 2, 5, 3]);
  expect(() => h.get('a', 3)).toThrow('etcdserver: mvcc: required revision has been compacted');
});

test('a key deleted at or before the revision leaves nothing behind; one deleted after stays readable', () => {
  h.put('gone', '1'); // 2
  h.del('gone'); // 3
  h.put('late', '1'); // 4
  h.put('x', '1'); // 5
  h.del('late'); // 6
  h.ok({ compaction: { revision: 5 } });
  expect(h.get('gone', 5)).toBeUndefined();
  expect(str(h.get('late', 5)!.value)).toBe('1');
  expect(h.get('late')).toBeUndefined();
  expect(h.keys({ key: b('a'), range_end: new Uint8Array([0]), revision: 5 })).toEqual(['late', 'x']);
  // Nothing of `gone` is left to watch or hash: its records are physically removed.
  expect(h.store.eventsSince(6, b('gone'))).toEqual([]);
});

test('compacting again only drops what the new revision hides', () => {
  h.put('a', '1'); // 2
  h.put('b', '1'); // 3
  h.ok({ compaction: { revision: 3 } });
  h.put('a', '2'); // 4
  h.put('a', '3'); // 5
  h.ok({ compaction: { revision: 4 } });
  expect(summary(h.get('a', 4))).toEqual(['2', 2, 4, 2]);
  expect(summary(h.get('b', 4))).toEqual(['1', 3, 3, 1]);
  expect(() => h.get('a', 3)).toThrow('compacted');
  const hash = h.store.hashKV();
  h.ok({ compaction: { revision: 5 } });
  expect(h.store.hashKV().hash).not.toBe(hash.hash); // a=2 is gone now
  expect(summary(h.get('a'))).toEqual(['3', 2, 5, 3]);
});

test('compacting at or below the last compaction is ErrCompacted; past the current revision ErrFutureRev', () => {
  h.put('a', '1');
  h.put('a', '2');
  expect(h.fails({ compaction: { revision: 4 } }).message).toBe(
    'etcdserver: mvcc: required revision is a future revision',
  );
  h.ok({ compaction: { revision: 3 } });
  expect(h.fails({ compaction: { revision: 3 } }).message).toBe(
    'etcdserver: mvcc: required revision has been compacted',
  );
  expect(h.fails({ compaction: { revision: 2 } }).code).toBe('compacted');
});

test('the compacted revision survives a reopen', async () => {
  h.put('a', '1');
  h.put('a', '2');
  h.ok({ compaction: { revision: 3 } });
  await h.reopen();
  expect(h.store.compactedRevision()).toBe(3);
  expect(() => h.get('a', 2)).toThrow('compacted');
});
