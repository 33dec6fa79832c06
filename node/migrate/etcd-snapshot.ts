// etcd's snapshot files (`etcdctl snapshot save`, or a member's member/snap/db) read as a raftkv
// snapshot's parts, so a cluster moves from etcd to raftkv with its keys, every kept revision of
// them, its compaction point, leases, users and roles. etcd keeps them in a bbolt file: bucket
// `key` holds each revision of each key (an mvccpb.KeyValue under an 8-byte main revision, `_`,
// an 8-byte sub revision, and `t` for a deletion), `lease` the leases, `meta` the compaction
// point, `auth`, `authUsers` and `authRoles` the auth store. Members are not carried: a restore
// makes a new cluster, as etcd's own restore does.
import { stat } from 'node:fs/promises';
import type protobuf from 'protobufjs';
import { applyAuthOp, emptyAuth, type AuthData, type AuthOp, type PermType } from '../auth/state.js';
import { checkTrailingSha256, hasTrailingSha256 } from '../mvcc/backup.js';
import { emptyMeta } from '../mvcc/backend.js';
import { putRecord, recordCost, tombstoneRecord } from '../mvcc/records.js';
import { revBytes } from '../mvcc/revision.js';
import type { LeaseRow, Row, SnapshotPart } from '../mvcc/snapshot.js';
import { BoltFile, type Bucket } from './bbolt.js';
import {
  AUTH_ENABLED,
  AUTH_REVISION,
  BUCKET,
  FINISHED_COMPACT,
  MAX_ID,
  SCHEDULED_COMPACT,
  etcdMessage,
  revisionOf,
  type EtcdMessage,
} from './etcd-format.js';

/** Rows are handed on in batches of about this size (one store transaction each). */
const BATCH_BYTES = 1 << 20;

export interface EtcdRestoreOptions {
  /** Accept a file without the sha256 etcdctl appends (a db file copied from a data dir). */
  skipHashCheck?: boolean;
  /** A live lease's ID is above raftkv's 2^53-1 and it gets a new one. */
  onLeaseRenamed?: (from: bigint, to: number) => void;
}

/** The parts of the etcd snapshot at `path`, once its sha256 (if it has one) matches. */
export async function etcdSnapshotParts(
  path: string,
  opts: EtcdRestoreOptions = {},
): Promise<Iterable<SnapshotPart>> {
  const length = await checkedLength(path, opts.skipHashCheck === true);
  return readParts(path, length, opts.onLeaseRenamed ?? (() => {}));
}

/** The length of the database in the file, after checking its hash. */
async function checkedLength(path: string, skipHashCheck: boolean): Promise<number> {
  const { size } = await stat(path);
  if (hasTrailingSha256(size)) return checkTrailingSha256(path, size, path);
  if (skipHashCheck) return size;
  throw new Error(
    `${path}: no sha256 at its end (${size} bytes; etcdctl snapshot save makes a file of 512-byte blocks and 32 more); a db file copied from a data dir restores with --skip-hash-check`,
  );
}

function* readParts(path: string, length: number, onLeaseRenamed: (from: bigint, to: number) => void) {
  const db = BoltFile.open(path, length);
  try {
    const keys = db.bucket(BUCKET.key);
    const leases = readLeases(db, path, db.bucket(BUCKET.lease));
    const ids = leaseIds(
      leases.map((l) => l.id),
      keys ? historyLeases(db, path, keys) : [],
    );
    for (const l of leases) if (l.id > MAX_ID) onLeaseRenamed(l.id, ids.get(l.id)!);

    let revision = 1;
    let usage = 0;
    let batch: Row[] = [];
    let bytes = 0;
    for (const row of keys ? history(db, path, keys, ids) : []) {
      revision = row.main;
      usage += recordCost(row.row[1]);
      batch.push(row.row);
      bytes += row.row[1][0].length + row.row[1][1].length;
      if (bytes >= BATCH_BYTES) {
        yield { rows: batch } satisfies SnapshotPart;
        batch = [];
        bytes = 0;
      }
    }
    if (batch.length > 0) yield { rows: batch } satisfies SnapshotPart;
    yield { leases: leases.map((l): LeaseRow => [ids.get(l.id)!, l.ttl]) } satisfies SnapshotPart;
    yield { auth: readAuth(db, path) } satisfies SnapshotPart;
    const compacted = compactedRevision(db, path, db.bucket(BUCKET.meta));
    // An etcd whose newest revisions were all compacted away reports the compaction point.
    yield {
      meta: { ...emptyMeta(), revision: Math.max(revision, compacted), compacted, usage },
    } satisfies SnapshotPart;
  } finally {
    db.close();
  }
}

/** int64s as decimal strings (lease IDs use all 64 bits), enums by name, missing fields as defaults. */
const AS_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true };

function decode<T>(type: EtcdMessage, bytes: Buffer, where: () => string): T {
  const message = etcdMessage(type);
  try {
    return message.toObject(message.decode(bytes), AS_OBJECT) as T;
  } catch (e) {
    throw new Error(`${where()}: not an etcd ${type} (${e instanceof Error ? e.message : String(e)})`);
  }
}

interface KeyValue {
  key: Buffer;
  value: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  lease: string;
}

const rowName = (path: string, k: Buffer) => () => `${path}: bucket key, row ${k.toString('hex')}`;

/** Every lease ID the history's records name, live or long revoked. */
function* historyLeases(db: BoltFile, path: string, keys: Bucket): Generator<bigint> {
  for (const { key, value, isBucket } of db.entries(keys)) {
    if (isBucket) continue;
    const kv = decode<KeyValue>('KeyValue', value, rowName(path, key));
    if (kv.lease !== '0') yield BigInt(kv.lease);
  }
}

function* history(
  db: BoltFile,
  path: string,
  keys: Bucket,
  ids: Map<bigint, number>,
): Generator<{ main: number; row: Row }> {
  let last: Buffer | undefined;
  for (const { key, value, isBucket } of db.entries(keys)) {
    if (isBucket) continue;
    const where = rowName(path, key);
    const rev = revisionOf(key, where);
    const kv = decode<KeyValue>('KeyValue', value, where);
    const id = revBytes(rev.main, rev.sub);
    if (last && Buffer.compare(id, last) <= 0) throw new Error(`${where()}: out of revision order`);
    last = id;
    if (kv.key.length === 0) throw new Error(`${where()}: a record without a key`);
    if (rev.tombstone) {
      yield { main: rev.main, row: [id, tombstoneRecord(kv.key)] };
      continue;
    }
    if (Number(kv.mod_revision) !== rev.main || Number(kv.version) < 1) {
      throw new Error(
        `${where()}: mod_revision ${kv.mod_revision}, version ${kv.version} at revision ${rev.main}`,
      );
    }
    const record = putRecord({
      key: kv.key,
      value: kv.value,
      create_revision: Number(kv.create_revision),
      mod_revision: rev.main,
      version: Number(kv.version),
      lease: kv.lease === '0' ? 0 : ids.get(BigInt(kv.lease))!,
    });
    yield { main: rev.main, row: [id, record] };
  }
}

function readLeases(
  db: BoltFile,
  path: string,
  bucket: Bucket | undefined,
): Array<{ id: bigint; ttl: number }> {
  const out: Array<{ id: bigint; ttl: number }> = [];
  for (const { key, value, isBucket } of bucket ? db.entries(bucket) : []) {
    if (isBucket) continue;
    const l = decode<{ ID: string; TTL: string }>(
      'Lease',
      value,
      () => `${path}: bucket lease, lease ${key.toString('hex')}`,
    );
    out.push({ id: BigInt(l.ID), ttl: Number(l.TTL) });
  }
  return out;
}

/**
 * raftkv's ID for each lease ID: the same up to 2^53-1 (JavaScript's exact integers). etcd makes
 * its IDs from the member ID and a clock and they are nearly always larger, so those get the low 53
 * bits of theirs, or the next free number after it: taken in order of ID, the same on every member
 * restored from the same file.
 */
export function leaseIds(live: bigint[], historical: Iterable<bigint>): Map<bigint, number> {
  const all = new Set([...live, ...historical]);
  const ids = new Map<bigint, number>();
  const taken = new Set<number>();
  for (const id of all) {
    if (id <= MAX_ID) {
      ids.set(id, Number(id));
      taken.add(Number(id));
    }
  }
  for (const id of [...all].filter((i) => i > MAX_ID).sort((a, b) => (a < b ? -1 : 1))) {
    let n = Number(id & MAX_ID) || 1;
    while (taken.has(n)) n = n === Number.MAX_SAFE_INTEGER ? 1 : n + 1;
    ids.set(id, n);
    taken.add(n);
  }
  return ids;
}

/** The compaction point: the scheduled one, which etcd refuses reads below even before it finishes. */
function compactedRevision(db: BoltFile, path: string, meta: Bucket | undefined): number {
  let compacted = 0;
  for (const { key, value } of meta ? db.entries(meta) : []) {
    const name = key.toString();
    if (name !== SCHEDULED_COMPACT && name !== FINISHED_COMPACT) continue;
    compacted = Math.max(compacted, revisionOf(value, () => `${path}: bucket meta, ${name}`).main);
  }
  return compacted;
}

interface EtcdUser {
  name: Buffer;
  password: Buffer;
  roles: string[];
  options?: { no_password?: boolean };
}

interface EtcdRole {
  name: Buffer;
  keyPermission: Array<{ permType: PermType; key: Buffer; range_end: Buffer }>;
}

/**
 * etcd's auth store, rebuilt by the same changes that built it (roles with their permissions,
 * users with their bcrypt hashes and roles, then the switch), so it holds what raftkv's own holds.
 */
function readAuth(db: BoltFile, path: string): AuthData {
  const ops: Array<{ op: AuthOp; where: string }> = [];
  const entries = (name: string) => {
    const b = db.bucket(name);
    return b ? [...db.entries(b)].filter((e) => !e.isBucket) : [];
  };
  for (const { key, value } of entries(BUCKET.authRoles)) {
    const where = `${path}: bucket authRoles, role ${key.toString()}`;
    const r = decode<EtcdRole>('Role', value, () => where);
    const name = r.name.toString();
    ops.push({ op: { op: 'roleAdd', name }, where });
    for (const p of r.keyPermission) {
      const perm = {
        permType: p.permType,
        key: new Uint8Array(p.key),
        range_end: new Uint8Array(p.range_end),
      };
      ops.push({ op: { op: 'roleGrantPermission', name, perm }, where });
    }
  }
  for (const { key, value } of entries(BUCKET.authUsers)) {
    const where = `${path}: bucket authUsers, user ${key.toString()}`;
    const u = decode<EtcdUser>('User', value, () => where);
    const name = u.name.toString();
    const hash = u.options?.no_password || u.password.length === 0 ? undefined : u.password.toString();
    ops.push({ op: { op: 'userAdd', name, ...(hash === undefined ? {} : { hash }) }, where });
    for (const role of u.roles) ops.push({ op: { op: 'userGrantRole', user: name, role }, where });
  }
  let enabled = false;
  let revision = 0;
  for (const { key, value } of entries(BUCKET.auth)) {
    if (key.toString() === AUTH_ENABLED) enabled = value.length === 1 && value[0] === 1;
    if (key.toString() === AUTH_REVISION && value.length === 8) revision = Number(value.readBigUInt64BE(0));
  }
  if (enabled) ops.push({ op: { op: 'enable' }, where: `${path}: bucket ${BUCKET.auth}, ${AUTH_ENABLED}` });
  let auth = emptyAuth();
  for (const { op, where } of ops) {
    try {
      auth = applyAuthOp(auth, op);
    } catch (e) {
      throw new Error(`${where}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // Tokens carry no revision here, so the number only keeps counting from where etcd's was.
  return { ...auth, revision: Math.max(auth.revision, revision) };
}
