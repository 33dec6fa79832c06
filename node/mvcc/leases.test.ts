// Leases in the store: grant and revoke through the log, keys attached by put and detached by a
// put without the lease or a delete; a revoke deletes what the lease holds in one revision; all of
// it survives a reopen and travels in snapshots.
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { Backend } from './backend.js';
import { MvccStore } from './store.js';
import { Harness, b, str } from './test-harness.js';
import type { Event, LeaseGrantResponse, TxnResponse } from './types.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.close());

const keysOf = (store: MvccStore, id: number) => store.leaseKeys(id).map(str);

test('a grant creates the lease without a new revision; granting an existing ID is refused', () => {
  const res = h.ok<LeaseGrantResponse>({ lease_grant: { ID: 42, TTL: 10 } });
  expect([res.ID, res.TTL, res.header.revision]).toEqual([42, 10, 1]);
  expect(h.store.leases()).toEqual([{ id: 42, ttl: 10 }]);
  const err = h.fails({ lease_grant: { ID: 42, TTL: 5 } });
  expect([err.code, err.message]).toEqual(['leaseExists', 'etcdserver: lease already exists']);
  expect(h.fails({ lease_grant: { ID: 0, TTL: 5 } }).message).toBe('mvcc: malformed request: lease ID 0');
  expect(h.fails({ lease_grant: { ID: 7, TTL: -1 } }).message).toBe('mvcc: malformed request: lease TTL -1');
  expect(h.store.leases()).toEqual([{ id: 42, ttl: 10 }]);
});

test('IDs up to 2^53-1 keep their order', () => {
  h.grant(2 ** 53 - 1, 2 ** 32, 1);
  expect(h.store.leases().map((l) => l.id)).toEqual([1, 2 ** 32, 2 ** 53 - 1]);
});

test('a put naming a lease that does not exist is refused, alone or in a txn, and writes nothing', () => {
  const err = h.fails({ put: { key: b('a'), value: b('1'), lease: 9 } });
  expect([err.code, err.message]).toEqual(['leaseNotFound', 'etcdserver: requested lease not found']);
  h.put('other', 'x');
  const t = h.fails({
    txn: {
      success: [{ request_put: { key: b('b'), value: b('1') } }, { request_put: { key: b('a'), lease: 9 } }],
    },
  });
  expect(t.code).toBe('leaseNotFound');
  expect([h.get('a'), h.get('b'), h.store.currentRevision()]).toEqual([undefined, undefined, 2]);
});

test('keys follow their lease: put attaches, a put with another lease or none moves it, delete detaches', () => {
  h.grant(1, 2);
  h.put('a', '1', { lease: 1 });
  h.put('b', '1', { lease: 1 });
  h.put('c', '1', { lease: 2 });
  expect([keysOf(h.store, 1), keysOf(h.store, 2)]).toEqual([['a', 'b'], ['c']]);
  h.put('a', '2', { lease: 2 });
  h.put('b', '2');
  h.put('c', '2', { ignore_lease: true });
  expect([keysOf(h.store, 1), keysOf(h.store, 2)]).toEqual([[], ['a', 'c']]);
  h.del('c');
  expect(keysOf(h.store, 2)).toEqual(['a']);
});

test('a revoke deletes the keys the lease holds in one revision, with DELETE events, then the lease', () => {
  h.grant(1, 2);
  h.put('a', '1', { lease: 1 });
  h.put('b', '1', { lease: 1 });
  h.put('c', '1', { lease: 2 });
  h.put('d', '1');
  const events: Event[] = [];
  h.store.onEvents((e) => events.push(...e));
  const res = h.ok({ lease_revoke: { ID: 1 } });
  expect(res.header.revision).toBe(6);
  expect(events.map((e) => [e.type, str(e.kv.key), e.kv.mod_revision])).toEqual([
    ['DELETE', 'a', 6],
    ['DELETE', 'b', 6],
  ]);
  expect(h.keys({ key: b('a'), range_end: new Uint8Array([0]) })).toEqual(['c', 'd']);
  expect(h.store.leases()).toEqual([{ id: 2, ttl: 60 }]);
  expect(h.fails({ lease_revoke: { ID: 1 } }).code).toBe('leaseNotFound');
  expect(h.fails({ put: { key: b('a'), value: b('1'), lease: 1 } }).code).toBe('leaseNotFound');
});

test('revoking a lease that holds no keys takes no revision', () => {
  h.grant(1);
  h.put('a', '1', { lease: 1 });
  h.put('a', '2');
  expect(h.ok({ lease_revoke: { ID: 1 } }).header.revision).toBe(3);
  expect(h.store.currentRevision()).toBe(3);
});

test('a txn can put with a lease and compare on it', () => {
  h.grant(5);
  const res = h.ok<TxnResponse>({
    txn: {
      compare: [{ key: b('a'), target: 'LEASE', result: 'EQUAL', lease: 0 }],
      success: [{ request_put: { key: b('a'), value: b('1'), lease: 5 } }],
    },
  });
  expect(res.succeeded).toBe(true);
  expect(keysOf(h.store, 5)).toEqual(['a']);
});

test('leases and the keys they hold survive a reopen', async () => {
  h.grant(3);
  h.put('a', '1', { lease: 3 });
  await h.reopen();
  expect([h.store.leases(), keysOf(h.store, 3)]).toEqual([[{ id: 3, ttl: 60 }], ['a']]);
});

test('a snapshot carries the leases; the restored store knows which keys each holds', async () => {
  h.grant(1, 2, 3);
  h.put('a', '1', { lease: 1 });
  h.put('b', '1', { lease: 2 });
  h.put('b', '2', { lease: 1 }); // moved: lease 2 holds nothing now
  h.put('c', '1');
  h.ok({ lease_revoke: { ID: 3 } });
  const parts: Uint8Array[] = [];
  for await (const c of h.store.exportSnapshot()) parts.push(c);
  const copy = await MvccStore.restoreSnapshot(join(h.dir, 'copy'), Buffer.concat(parts));
  try {
    expect(copy.leases()).toEqual([
      { id: 1, ttl: 60 },
      { id: 2, ttl: 60 },
    ]);
    expect([keysOf(copy, 1), keysOf(copy, 2)]).toEqual([['a', 'b'], []]);
    copy.applyBatch([
      { index: copy.appliedIndex().index + 1, term: 1, request: { lease_revoke: { ID: 1 } } },
    ]);
    expect(copy.range({ key: b('a'), range_end: new Uint8Array([0]) }).kvs.map((kv) => str(kv.key))).toEqual([
      'c',
    ]);
  } finally {
    await copy.close();
  }
});

test('NOSPACE refuses a grant; a revoke still works', () => {
  h.grant(1);
  h.put('a', '1', { lease: 1 });
  h.ok({ alarm: { action: 'ACTIVATE', alarm: 'NOSPACE' } });
  expect(h.fails({ lease_grant: { ID: 2, TTL: 5 } }).code).toBe('nospace');
  h.ok({ lease_revoke: { ID: 1 } });
  expect(h.get('a')).toBeUndefined();
});

/** Rewrites a closed store's meta to another schema number, as an older build left it. */
async function setSchema(path: string, schema: number): Promise<void> {
  const db = Backend.open(path);
  db.env.transactionSync(() => db.writeMeta({ ...db.readMeta(), schema }));
  await db.close();
}

test('a store from before leases (schema 1) is upgraded in place when opened; an unknown schema is refused', async () => {
  h.put('a', '1');
  await h.store.close();
  await setSchema(h.path, 1);
  const infos: string[] = [];
  h.store = MvccStore.open(h.path, { logger: { info: (m) => infos.push(m), warn: () => {} } });
  expect(infos).toContain('store upgraded');
  expect(str(h.get('a')!.value)).toBe('1');
  h.ok({ lease_grant: { ID: 1, TTL: 60 } });
  h.put('b', '1', { lease: 1 });
  expect(keysOf(h.store, 1)).toEqual(['b']);
  await h.store.close();
  await setSchema(h.path, 99);
  expect(() => MvccStore.open(h.path)).toThrow('has on-disk schema 99, this build reads 4');
  h.store = MvccStore.open(join(h.dir, 'fresh')); // for afterEach to close
});

test('a snapshot from an older leader (version 1, no leases) is still installed', async () => {
  h.put('a', '1');
  const packr = new Packr({ useRecords: false });
  const parts: Uint8Array[] = [];
  for await (const c of h.store.exportSnapshot()) parts.push(c);
  // Version 1 had the header, rows and the end marker only (no leases, no auth store).
  const [head, rows, , , end] = packr.unpackMultiple(Buffer.concat(parts)) as [
    { version: number; meta: { schema: number } },
    object,
    object,
    object,
    object,
  ];
  head.version = 1;
  head.meta.schema = 1;
  const old = Buffer.concat([packr.pack(head), packr.pack(rows), packr.pack(end)]);
  const copy = await MvccStore.restoreSnapshot(join(h.dir, 'copy'), old);
  try {
    expect(str(copy.range({ key: b('a') }).kvs[0]!.value)).toBe('1');
    expect(copy.leases()).toEqual([]);
  } finally {
    await copy.close();
  }
});
