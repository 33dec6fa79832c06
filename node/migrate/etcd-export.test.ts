// A store written out as an etcd snapshot and read back by the etcd restore path (what raftkvctl
// does with `etcdctl snapshot save`'s file) holds the same state: every kept revision, the
// compaction point, leases and the keys they hold, users (with and without passwords), roles and
// the auth switch. etcd's own tools read the same files in test/cluster/etcd-export.test.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MvccStore } from '../mvcc/store.js';
import { Harness, b } from '../mvcc/test-harness.js';
import { BoltFile } from './bbolt.js';
import { etcdMessage, revisionOf } from './etcd-format.js';
import { etcdSnapshotParts } from './etcd-snapshot.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.close());

async function exported(name: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of h.store.exportBackup()) chunks.push(Buffer.from(c));
  const path = join(h.dir, name);
  writeFileSync(path, Buffer.concat(chunks));
  return path;
}

function fill(): void {
  h.grant(7, 9);
  for (let i = 0; i < 300; i++) h.put(`k${i % 37}`, `v${i}`.repeat(i % 50), i % 10 === 0 ? { lease: 7 } : {});
  h.ok({
    txn: {
      success: [
        { request_put: { key: b('t1'), value: b('') } },
        { request_delete_range: { key: b('k5') } },
        { request_put: { key: b('t2'), value: b('x'.repeat(9000)) } }, // larger than a page
      ],
    },
  });
  h.ok({ compaction: { revision: 100 } });
  h.del('k2', 'k3');
  h.ok({ lease_revoke: { ID: 9 } });
  h.ok({ auth: { op: 'userAdd', name: 'root', hash: 'scrypt$root' } });
  h.ok({ auth: { op: 'roleAdd', name: 'root' } });
  h.ok({ auth: { op: 'userGrantRole', user: 'root', role: 'root' } });
  h.ok({ auth: { op: 'userAdd', name: 'cert-only' } });
  h.ok({ auth: { op: 'roleAdd', name: 'app' } });
  for (const [permType, key, range_end] of [
    ['READ', 'a', 'b'],
    ['READWRITE', 'k', ''],
    ['WRITE', 'z', '\0'],
  ] as const) {
    h.ok({
      auth: {
        op: 'roleGrantPermission',
        name: 'app',
        perm: { permType, key: b(key), range_end: b(range_end) },
      },
    });
  }
  h.ok({ auth: { op: 'userGrantRole', user: 'cert-only', role: 'app' } });
  h.ok({ auth: { op: 'enable' } });
}

test('read back as an etcd snapshot, the export restores to the same store', async () => {
  fill();
  const path = await exported('etcd.db');
  const copyPath = join(h.dir, 'restored');
  const meta = await MvccStore.restoreBackup(
    await etcdSnapshotParts(path, { skipHashCheck: true }),
    copyPath,
  );
  expect([meta.revision, meta.compacted]).toEqual([h.store.currentRevision(), 100]);
  const copy = MvccStore.open(copyPath);
  try {
    for (const rev of [0, 100, 150, 250]) expect(copy.hashKV(rev)).toEqual(h.store.hashKV(rev));
    const all = { key: new Uint8Array([0]), range_end: new Uint8Array([0]) };
    for (const revision of [100, 200, h.store.currentRevision()]) {
      expect(copy.range({ ...all, revision })).toEqual(h.store.range({ ...all, revision }));
    }
    expect(copy.leases()).toEqual([{ id: 7, ttl: 60 }]);
    expect(copy.leaseKeys(7)).toEqual(h.store.leaseKeys(7));
    expect(copy.leaseKeys(7).length).toBeGreaterThan(0);
    expect(copy.auth()).toEqual(h.store.auth());
  } finally {
    await copy.close();
  }
});

test("the buckets hold etcd's encodings: revision keys, KeyValue and tombstone records, the compaction point", async () => {
  h.put('a', '1');
  h.del('a');
  h.ok({ compaction: { revision: 2 } });
  h.put('a', '2');
  const db = BoltFile.open(await exported('small.db'));
  try {
    const rows = [...db.entries(db.bucket('key')!)].map(({ key, value }) => ({
      rev: revisionOf(key, () => 'key'),
      kv: etcdMessage('KeyValue').toObject(etcdMessage('KeyValue').decode(value), { longs: Number }),
    }));
    // The compaction at 2 keeps the put at 2: it was the key's newest revision up to there.
    expect(rows).toEqual([
      {
        rev: { main: 2, sub: 0, tombstone: false },
        kv: { key: b('a'), value: b('1'), create_revision: 2, mod_revision: 2, version: 1 },
      },
      { rev: { main: 3, sub: 0, tombstone: true }, kv: { key: b('a') } },
      {
        rev: { main: 4, sub: 0, tombstone: false },
        kv: { key: b('a'), value: b('2'), create_revision: 4, mod_revision: 4, version: 1 },
      },
    ]);
    const meta = [...db.entries(db.bucket('meta')!)].map(({ key, value }) => [
      key.toString(),
      revisionOf(value, () => 'meta').main,
    ]);
    expect(meta).toEqual([
      ['finishedCompactRev', 2],
      ['scheduledCompactRev', 2],
    ]);
    expect([...db.entries(db.root)].map((e) => e.key.toString())).toEqual([
      'auth',
      'authRoles',
      'authUsers',
      'key',
      'lease',
      'meta',
    ]);
  } finally {
    db.close();
  }
});
