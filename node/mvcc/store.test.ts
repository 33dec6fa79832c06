// The MVCC store against etcd's documented semantics, on a real lmdb in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../test/sim/rng.js';
import { encodeRequest } from './codec.js';
import { MvccStore, type ApplyOutcome } from './store.js';
import { MvccError, type PutResponse, type TxnResponse, type WriteRequest } from './types.js';

const b = (s: string) => new TextEncoder().encode(s);
const s = (u: Uint8Array) => new TextDecoder().decode(u);

let dir: string;
let store: MvccStore;
let index = 0;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'raftkv-mvcc-'));
  store = MvccStore.open(dir);
  index = 0;
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function apply(...reqs: WriteRequest[]): ApplyOutcome[] {
  return store.applyBatch(reqs.map((r) => ({ index: ++index, term: 1, request: encodeRequest(r) })));
}
const put = (k: string, v: string, extra = {}) => apply({ put: { key: b(k), value: b(v), ...extra } })[0];
const get = (k: string, rev?: number) => store.range({ key: b(k), ...(rev ? { revision: rev } : {}) }).kvs[0];

test('revisions, create/mod revision and version follow etcd', () => {
  expect(store.currentRevision()).toBe(1);
  put('a', '1');
  put('a', '2');
  put('b', '1');
  const a = get('a')!;
  expect([a.create_revision, a.mod_revision, a.version, s(a.value)]).toEqual([2, 3, 2, '2']);
  expect(store.currentRevision()).toBe(4);
  apply({ delete_range: { key: b('a') } });
  expect(get('a')).toBeUndefined();
  put('a', '3');
  const again = get('a')!;
  expect([again.create_revision, again.version]).toEqual([6, 1]); // version resets after a delete
  expect(s(get('a', 3)!.value)).toBe('2'); // history read
  expect(get('a', 5)).toBeUndefined(); // deleted at 5
});

test('ranges: prefix, from-key, limit with more and count, sorts, keys_only, count_only', () => {
  for (const k of ['k1', 'k2', 'k3', 'l1']) put(k, `v-${k}`);
  const prefix = store.range({ key: b('k'), range_end: b('l') });
  expect(prefix.kvs.map((kv) => s(kv.key))).toEqual(['k1', 'k2', 'k3']);
  const fromKey = store.range({ key: b('k2'), range_end: new Uint8Array([0]) });
  expect(fromKey.kvs.map((kv) => s(kv.key))).toEqual(['k2', 'k3', 'l1']);
  const limited = store.range({ key: b('k'), range_end: b('l'), limit: 2 });
  expect([limited.kvs.length, limited.more, limited.count]).toEqual([2, true, 3]);
  const desc = store.range({ key: b('k'), range_end: b('l'), sort_order: 'DESCEND', sort_target: 'MOD' });
  expect(desc.kvs.map((kv) => s(kv.key))).toEqual(['k3', 'k2', 'k1']);
  expect(store.range({ key: b('k1'), keys_only: true }).kvs[0]!.value).toHaveLength(0);
  const counted = store.range({ key: b('k'), range_end: b('l'), count_only: true });
  expect([counted.kvs.length, counted.count]).toEqual([0, 3]);
});

test('put options: prev_kv, ignore_value on a missing key fails', () => {
  put('a', '1');
  const res = put('a', '2', { prev_kv: true }) as PutResponse;
  expect(s(res.prev_kv!.value)).toBe('1');
  const err = put('missing', '', { ignore_value: true });
  expect(err).toBeInstanceOf(MvccError);
  expect((err as MvccError).message).toBe('etcdserver: key not found');
});

test('txn: compares on each target pick the branch; a txn is one revision; reads see earlier writes', () => {
  put('a', '1');
  const rev = store.currentRevision();
  const [res] = apply({
    txn: {
      compare: [
        { key: b('a'), target: 'VALUE', result: 'EQUAL', value: b('1') },
        { key: b('a'), target: 'VERSION', result: 'EQUAL', version: 1 },
        { key: b('a'), target: 'MOD', result: 'LESS', mod_revision: 100 },
        { key: b('a'), target: 'CREATE', result: 'GREATER', create_revision: 1 },
        { key: b('a'), target: 'LEASE', result: 'EQUAL', lease: 0 },
      ],
      success: [
        { request_put: { key: b('a'), value: b('2') } },
        { request_put: { key: b('b'), value: b('x') } },
        { request_range: { key: b('b') } },
      ],
      failure: [{ request_put: { key: b('c'), value: b('no') } }],
    },
  });
  const txn = res as TxnResponse;
  expect(txn.succeeded).toBe(true);
  expect(store.currentRevision()).toBe(rev + 1);
  expect(get('a')!.mod_revision).toBe(get('b')!.mod_revision);
  const inner = txn.responses[2] as { response_range: { kvs: { value: Uint8Array }[] } };
  expect(s(inner.response_range.kvs[0]!.value)).toBe('x');
  const [cas] = apply({
    txn: {
      compare: [{ key: b('a'), target: 'VALUE', result: 'EQUAL', value: b('1') }],
      success: [{ request_put: { key: b('a'), value: b('3') } }],
      failure: [],
    },
  });
  expect((cas as TxnResponse).succeeded).toBe(false);
  expect(s(get('a')!.value)).toBe('2');
  expect(store.currentRevision()).toBe(rev + 1); // a txn that changed nothing keeps the revision
});

test('txn limits: duplicate keys and too many operations are refused', () => {
  const dup = apply({
    txn: {
      success: [
        { request_put: { key: b('a'), value: b('1') } },
        { request_put: { key: b('a'), value: b('2') } },
      ],
    },
  })[0];
  expect((dup as MvccError).message).toBe('etcdserver: duplicate key given in txn request');
  const many = apply({
    txn: {
      success: Array.from({ length: 129 }, (_, i) => ({ request_put: { key: b(`k${i}`), value: b('v') } })),
    },
  })[0];
  expect((many as MvccError).message).toBe('etcdserver: too many operations in txn request');
});

test('compaction removes old history; reads below it fail with ErrCompacted', () => {
  put('a', '1');
  put('a', '2');
  put('a', '3');
  apply({ compaction: { revision: 3 } });
  expect(() => store.range({ key: b('a'), revision: 2 })).toThrow(
    'mvcc: required revision has been compacted',
  );
  expect(s(get('a', 3)!.value)).toBe('2');
  expect(s(get('a')!.value)).toBe('3');
  expect(() => store.range({ key: b('a'), revision: 99 })).toThrow(
    'mvcc: required revision is a future revision',
  );
  expect((apply({ compaction: { revision: 2 } })[0] as MvccError).code).toBe('compacted');
});

test('the applied index is stored with the data; replayed entries are skipped after a reopen', () => {
  put('a', '1');
  put('a', '2');
  store.close();
  store = MvccStore.open(dir);
  expect(store.appliedIndex().index).toBe(2);
  const replay = store.applyBatch([
    { index: 2, term: 1, request: encodeRequest({ put: { key: b('a'), value: b('x') } }) },
  ]);
  expect(replay[0]).toEqual({ skipped: true });
  expect(s(get('a')!.value)).toBe('2');
});

test('over quota: NOSPACE alarm, puts refused, reads and deletes still work', () => {
  store.close();
  store = MvccStore.open(dir, { quotaBackendBytes: 64 * 1024 });
  for (let i = 0; i < 200 && store.alarms().length === 0; i++) put(`k${i}`, 'x'.repeat(1024));
  expect(store.alarms()).toEqual(['NOSPACE']);
  expect((put('another', 'v') as MvccError).code).toBe('nospace');
  expect(get('k1')).toBeDefined();
  expect(apply({ delete_range: { key: b('k1') } })[0]).not.toBeInstanceOf(MvccError);
});

test('export and restore give the same data and hash', async () => {
  for (let i = 0; i < 50; i++) put(`k${i % 7}`, `v${i}`);
  const hash = store.hashKV();
  const chunks: Uint8Array[] = [];
  for await (const c of store.exportSnapshot()) chunks.push(c);
  const other = MvccStore.open(mkdtempSync(join(tmpdir(), 'raftkv-mvcc-restore-')));
  await other.restore(Buffer.concat(chunks));
  expect(other.hashKV()).toBe(hash);
  expect(other.appliedIndex()).toEqual(store.appliedIndex());
  expect(other.currentRevision()).toBe(store.currentRevision());
  other.close();
});

test('randomized: the store agrees with a simple model of latest values over thousands of operations', () => {
  const seed = Number(process.env.MVCC_SEED ?? 7);
  const rng = new Rng(seed);
  const model = new Map<string, { value: string; version: number; create: number; mod: number }>();
  let rev = 1;
  for (let i = 0; i < 2000; i++) {
    const k = `k${rng.int(0, 9)}`;
    if (rng.chance(0.7)) {
      const v = `v${i}`;
      put(k, v);
      rev++;
      const prev = model.get(k);
      model.set(k, { value: v, version: (prev?.version ?? 0) + 1, create: prev?.create ?? rev, mod: rev });
    } else {
      apply({ delete_range: { key: b(k) } });
      if (model.delete(k)) rev++;
    }
    const got = get(k);
    const want = model.get(k);
    const summary = got && [s(got.value), got.version, got.create_revision, got.mod_revision];
    expect({ seed, i, summary }).toEqual({
      seed,
      i,
      summary: want && [want.value, want.version, want.create, want.mod],
    });
  }
  expect(store.currentRevision()).toBe(rev);
});
