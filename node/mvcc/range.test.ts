// Range against etcd's documented semantics: key ranges, limit/more/count, sorts, filters,
// keys_only/count_only and reads at past revisions.
import { Harness, b, str } from './test-harness.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.close());

const ALL = new Uint8Array([0]);

test('range_end: empty is one key, \\0 is every key from key on, otherwise [key, range_end)', () => {
  for (const k of ['a', 'k1', 'k2', 'k3', 'l1']) h.put(k, `v-${k}`);
  expect(h.keys({ key: b('k2') })).toEqual(['k2']);
  expect(h.keys({ key: b('k') })).toEqual([]);
  expect(h.keys({ key: b('k2'), range_end: ALL })).toEqual(['k2', 'k3', 'l1']);
  expect(h.keys({ key: b('k'), range_end: b('l') })).toEqual(['k1', 'k2', 'k3']); // prefix k
  expect(h.keys({ key: b('k2'), range_end: b('k2') })).toEqual([]);
  expect(h.keys({ key: b('l'), range_end: b('a') })).toEqual([]);
  expect(h.keys({ key: ALL, range_end: ALL })).toEqual(['a', 'k1', 'k2', 'k3', 'l1']);
});

test('limit: the first keys, more when there are others, count of all of them', () => {
  for (const k of ['k1', 'k2', 'k3']) h.put(k, 'v');
  const r = h.store.range({ key: b('k'), range_end: b('l'), limit: 2 });
  expect([r.kvs.map((kv) => str(kv.key)), r.more, r.count]).toEqual([['k1', 'k2'], true, 3]);
  const exact = h.store.range({ key: b('k'), range_end: b('l'), limit: 3 });
  expect([exact.kvs.length, exact.more, exact.count]).toEqual([3, false, 3]);
  const none = h.store.range({ key: b('k'), range_end: b('l'), limit: 0 });
  expect([none.kvs.length, none.more]).toEqual([3, false]);
  expect(r.header.revision).toBe(4);
});

test('count_only returns the count and no kvs; keys_only drops the values', () => {
  for (const k of ['k1', 'k2', 'k3']) h.put(k, 'value');
  const counted = h.store.range({ key: b('k'), range_end: b('l'), count_only: true, limit: 1 });
  expect([counted.kvs.length, counted.count, counted.more]).toEqual([0, 3, false]);
  const keys = h.store.range({ key: b('k'), range_end: b('l'), keys_only: true });
  expect(keys.kvs.map((kv) => [str(kv.key), kv.value.length, kv.version])).toEqual([
    ['k1', 0, 1],
    ['k2', 0, 1],
    ['k3', 0, 1],
  ]);
});

test('sorts by each target in both orders; a target without an order sorts ascending', () => {
  h.put('c', '1'); // rev 2
  h.put('a', '3'); // rev 3
  h.put('b', '2'); // rev 4
  h.put('a', '0'); // rev 5: a has version 2
  const sorted = (
    sort_target: 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE',
    sort_order?: 'ASCEND' | 'DESCEND',
  ) => h.keys({ key: b('a'), range_end: ALL, sort_target, sort_order }).join('');
  expect(sorted('KEY')).toBe('abc');
  expect(sorted('KEY', 'DESCEND')).toBe('cba');
  expect(sorted('CREATE', 'ASCEND')).toBe('cab');
  expect(sorted('CREATE')).toBe('cab');
  expect(sorted('CREATE', 'DESCEND')).toBe('bac');
  expect(sorted('MOD', 'ASCEND')).toBe('cba');
  expect(sorted('MOD', 'DESCEND')).toBe('abc');
  expect(sorted('VALUE', 'ASCEND')).toBe('acb');
  expect(sorted('VALUE', 'DESCEND')).toBe('bca');
  expect(sorted('VERSION', 'DESCEND')).toBe('abc'); // a first; the ties stay in key order
  expect(sorted('VERSION', 'ASCEND')).toBe('bca');
});

test('limit applies after the sort', () => {
  h.put('a', '1');
  h.put('b', '1');
  h.put('c', '1');
  const r = h.store.range({
    key: b('a'),
    range_end: ALL,
    sort_order: 'DESCEND',
    sort_target: 'MOD',
    limit: 2,
  });
  expect([r.kvs.map((kv) => str(kv.key)), r.more, r.count]).toEqual([['c', 'b'], true, 3]);
});

test('min/max mod and create revision filters; count is before the filters, as in etcd', () => {
  h.put('a', '1'); // 2
  h.put('b', '1'); // 3
  h.put('c', '1'); // 4
  h.put('a', '2'); // 5
  const r = h.store.range({ key: b('a'), range_end: ALL, min_mod_revision: 4 });
  expect([r.kvs.map((kv) => str(kv.key)), r.count]).toEqual([['a', 'c'], 3]);
  expect(h.keys({ key: b('a'), range_end: ALL, max_mod_revision: 3 })).toEqual(['b']);
  expect(h.keys({ key: b('a'), range_end: ALL, min_create_revision: 3 })).toEqual(['b', 'c']);
  expect(h.keys({ key: b('a'), range_end: ALL, max_create_revision: 3 })).toEqual(['a', 'b']);
  const limited = h.store.range({ key: b('a'), range_end: ALL, min_create_revision: 3, limit: 1 });
  expect([limited.kvs.map((kv) => str(kv.key)), limited.more]).toEqual([['b'], true]);
});

test('reads at a past revision see the keys of that time, deleted ones included', () => {
  h.put('k1', 'a'); // 2
  h.put('k2', 'a'); // 3
  h.del('k1'); // 4
  h.put('k3', 'a'); // 5
  h.put('k2', 'b'); // 6
  const at = (revision: number) =>
    h.store
      .range({ key: b('k'), range_end: b('l'), revision })
      .kvs.map((kv) => `${str(kv.key)}=${str(kv.value)}`);
  expect(at(1)).toEqual([]);
  expect(at(3)).toEqual(['k1=a', 'k2=a']);
  expect(at(4)).toEqual(['k2=a']);
  expect(at(5)).toEqual(['k2=a', 'k3=a']);
  expect(at(6)).toEqual(['k2=b', 'k3=a']);
  const past = h.store.range({ key: b('k'), range_end: b('l'), revision: 3, limit: 1 });
  expect([past.count, past.more, past.header.revision]).toEqual([2, true, 6]);
});

test('a future revision is ErrFutureRev; a revision below the compaction is ErrCompacted', () => {
  h.put('a', '1');
  h.put('a', '2');
  expect(() => h.store.range({ key: b('a'), revision: 4 })).toThrow(
    'etcdserver: mvcc: required revision is a future revision',
  );
  h.ok({ compaction: { revision: 3 } });
  expect(() => h.store.range({ key: b('a'), revision: 2 })).toThrow(
    'etcdserver: mvcc: required revision has been compacted',
  );
  expect(str(h.get('a', 3)!.value)).toBe('2');
});
