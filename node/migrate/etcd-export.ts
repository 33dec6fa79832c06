// raftkv's store as an etcd snapshot: the bbolt file that `etcdctl snapshot save` gets from etcd,
// with etcd's buckets and encodings, so that etcd's own tools read a raftkv backup (`etcdctl
// snapshot status`, `etcdctl snapshot restore`: a way back to etcd) and raftkvctl restores it as
// it restores etcd's (etcd-snapshot.ts reads what this writes). Bucket `key` holds every kept
// revision of every key, `lease` the leases, `meta` the compaction point, `auth`, `authUsers` and
// `authRoles` the auth store. Members and alarms are not written: a restore makes a new cluster.
import type { Transaction } from 'lmdb';
import type { AuthData } from '../auth/state.js';
import type { Backend } from '../mvcc/backend.js';
import { LeaseTable } from '../mvcc/leases.js';
import { isTombstone } from '../mvcc/records.js';
import { readRev, u64Bytes as u64 } from '../mvcc/revision.js';
import { boltFile } from './bbolt-writer.js';
import {
  AUTH_ENABLED,
  AUTH_REVISION,
  BUCKET,
  FINISHED_COMPACT,
  SCHEDULED_COMPACT,
  encodeEtcd,
  permTypeNumber,
  revisionKey,
} from './etcd-format.js';

type Entry = [Buffer, Buffer];

/** The store's state as of one read transaction, as an etcd snapshot (the bbolt file alone). */
export async function* etcdSnapshot(db: Backend): AsyncGenerator<Buffer> {
  const transaction = db.env.useReadTransaction();
  try {
    const meta = db.readMeta(transaction);
    const leases = new LeaseTable(db).all(transaction);
    const auth = db.authIn(transaction);
    yield* boltFile([
      { name: BUCKET.key, entries: () => history(db, transaction) },
      {
        name: BUCKET.lease,
        entries: () => leases.map((l): Entry => [u64(l.id), encodeEtcd('Lease', { ID: l.id, TTL: l.ttl })]),
      },
      { name: BUCKET.meta, entries: () => compaction(meta.compacted) },
      { name: BUCKET.auth, entries: () => authSwitch(auth) },
      { name: BUCKET.authRoles, entries: () => roles(auth) },
      { name: BUCKET.authUsers, entries: () => users(auth) },
    ]);
  } finally {
    transaction.done();
  }
}

/** Each history row as etcd keeps it: a deletion is a record with the key alone. */
function* history(db: Backend, transaction: Transaction): Generator<Entry> {
  for (const { key, value: r } of db.history.getRange({ transaction })) {
    const { main, sub } = readRev(key);
    if (isTombstone(r)) {
      yield [revisionKey(main, sub, true), encodeEtcd('KeyValue', { key: r[0] })];
      continue;
    }
    const kv = {
      key: r[0],
      create_revision: r[2],
      mod_revision: main,
      version: r[3],
      ...(r[1].length > 0 ? { value: r[1] } : {}),
      ...(r[4] !== 0 ? { lease: r[4] } : {}),
    };
    yield [revisionKey(main, sub, false), encodeEtcd('KeyValue', kv)];
  }
}

/** etcd refuses reads below the scheduled compaction and records the finished one; both are done here. */
function compaction(compacted: number): Entry[] {
  if (compacted === 0) return [];
  const at = revisionKey(compacted, 0, false);
  return [
    [Buffer.from(FINISHED_COMPACT), at],
    [Buffer.from(SCHEDULED_COMPACT), at],
  ];
}

function authSwitch(auth: AuthData): Entry[] {
  return [
    [Buffer.from(AUTH_ENABLED), Buffer.from([auth.enabled ? 1 : 0])],
    [Buffer.from(AUTH_REVISION), u64(auth.revision)],
  ];
}

function roles(auth: AuthData): Entry[] {
  return byName(auth.roles).map(([name, perms]) => [
    name,
    encodeEtcd('Role', {
      name,
      keyPermission: perms.map((p) => ({ ...p, permType: permTypeNumber(p.permType) })),
    }),
  ]);
}

/** A user without a password (client certificates only) is etcd's `no_password` user. */
function users(auth: AuthData): Entry[] {
  return byName(auth.users).map(([name, u]) => [
    name,
    encodeEtcd('User', {
      name,
      roles: u.roles,
      ...(u.hash === undefined ? { options: { no_password: true } } : { password: Buffer.from(u.hash) }),
    }),
  ]);
}

/** A record's entries keyed by name, in byte order of the names (bbolt's key order). */
function byName<T>(record: Record<string, T>): Array<[Buffer, T]> {
  return Object.entries(record)
    .map(([name, v]): [Buffer, T] => [Buffer.from(name), v])
    .sort((a, b) => Buffer.compare(a[0], b[0]));
}
