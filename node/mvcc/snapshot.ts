// Snapshots for Raft: the whole store as a stream of msgpack messages, all read from one lmdb read
// transaction: a header with the meta (applied index and term included), history rows in revision
// order, the leases, the auth store, and an end marker with the row count, so a cut-short stream
// is refused. Only history, leases and the auth store travel; the key index and which keys each
// lease holds are rebuilt from them. Message boundaries need not match the chunks the stream
// arrives in.
import { Packr, decodeIter } from 'msgpackr';
import type { AuthData } from '../auth/state.js';
import { Backend, emptyMeta, knownSchema, type Meta } from './backend.js';
import { HistoryHash } from './hash.js';
import { LeaseTable } from './leases.js';
import type { StoredRecord } from './records.js';
import { REV_BYTES, readRev } from './revision.js';
import { KeyView } from './view.js';

const FORMAT = 'raftkv-mvcc-snapshot';
const VERSION = 3;
/**
 * Version 1 (schema 1) had no leases message, version 2 no auth message; a member still reads
 * them (rolling upgrades, older backups).
 */
const READABLE = [1, 2, 3];
/** Rows are sent in messages of about this size. */
const MESSAGE_BYTES = 1 << 20;

export type Row = [Buffer, StoredRecord];
/** [lease ID, TTL] */
export type LeaseRow = [number, number];
type Message =
  | { format: string; version: number; meta: Meta }
  | { rows: Row[] }
  | { leases: LeaseRow[] }
  | { auth: AuthData }
  | { end: number };

/** Plain msgpack maps, decoded as objects: no record extension to agree on across versions. */
const MSGPACK = { useRecords: false };
const packr = new Packr(MSGPACK);

export async function* exportSnapshot(db: Backend): AsyncGenerator<Uint8Array> {
  const transaction = db.env.useReadTransaction();
  try {
    yield pack({ format: FORMAT, version: VERSION, meta: db.readMeta(transaction) });
    let rows: Row[] = [];
    let bytes = 0;
    let total = 0;
    for (const { key, value } of db.history.getRange({ transaction })) {
      rows.push([key, value]);
      bytes += REV_BYTES + value[0].length + value[1].length;
      total++;
      if (bytes >= MESSAGE_BYTES) {
        yield pack({ rows });
        rows = [];
        bytes = 0;
      }
    }
    if (rows.length > 0) yield pack({ rows });
    const leases = new LeaseTable(db).all(transaction).map((l): LeaseRow => [l.id, l.ttl]);
    yield pack({ leases });
    yield pack({ auth: db.authIn(transaction) });
    yield pack({ end: total });
  } finally {
    transaction.done();
  }
}

function pack(m: Message): Uint8Array {
  return packr.pack(m);
}

/**
 * What a store file is built from: history rows in revision order, leases, the auth store and the
 * meta, as a snapshot stream's checked messages or as read from another source (an etcd snapshot).
 */
export type SnapshotPart = { meta: Meta } | { rows: Row[] } | { leases: LeaseRow[] } | { auth: AuthData };
export type Parts = AsyncIterable<SnapshotPart> | Iterable<SnapshotPart>;

/**
 * The parts of a snapshot stream in order, once each is checked: rows in revision order (the key
 * index takes each key's changes in order), an end marker that counts them, nothing after it. A
 * stream that breaks any of this throws before the part that breaks it is yielded.
 */
export async function* snapshotParts(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<SnapshotPart> {
  let meta: Meta | undefined;
  let rows = 0;
  let last: Buffer = Buffer.alloc(0); // the last row's revision
  let ended = false;
  for await (const m of decodeIter(chunks, MSGPACK) as AsyncIterable<unknown> | Iterable<unknown>) {
    if (ended) throw snapshotError('data after the end marker');
    if (!meta) {
      meta = header(m);
      yield { meta };
    } else if (isRows(m)) {
      for (const [rev] of m.rows) {
        if (Buffer.compare(rev, last) <= 0) throw snapshotError('rows out of revision order');
        last = rev;
      }
      rows += m.rows.length;
      yield m;
    } else if (isLeases(m) || isAuth(m)) {
      yield m;
    } else if (isEnd(m)) {
      if (m.end !== rows) throw snapshotError(`the end marker counts ${m.end} rows, the stream had ${rows}`);
      ended = true;
    } else throw snapshotError('unexpected message');
  }
  if (!ended) throw snapshotError('the stream ended early');
}

/**
 * Builds a new store file at `path` (which must not exist) from a snapshot's parts; returns its
 * meta. With `startOver`, the applied index and term start from 0 (a new cluster's log).
 */
export async function writeSnapshotFile(path: string, parts: Parts, startOver = false): Promise<Meta> {
  const db = Backend.open(path);
  try {
    let meta = emptyMeta();
    let leases = 0;
    for await (const part of parts) {
      if ('meta' in part) meta = part.meta;
      else if ('rows' in part) load(db, part.rows);
      else if ('auth' in part) {
        const { auth } = part;
        db.env.transactionSync(() => db.writeAuth(auth));
      } else {
        const table = new LeaseTable(db);
        db.env.transactionSync(() => part.leases.forEach(([id, ttl]) => table.grant(id, ttl)));
        leases += part.leases.length;
      }
    }
    if (startOver) meta = { ...meta, appliedIndex: 0, appliedTerm: 0 };
    db.env.transactionSync(() => {
      // A key can only hold a lease that exists, so a store without leases skips the pass.
      if (leases > 0) attachLeasedKeys(db);
      db.writeMeta(meta);
    });
    return meta;
  } finally {
    await db.close();
  }
}

/** What `raftkvctl snapshot status` shows of a snapshot stream. */
export interface SnapshotStatus {
  revision: number;
  /** History rows: every kept revision of every key, tombstones included. */
  rows: number;
  leases: number;
  /** HashKV at `revision` of the store the stream was taken from. */
  hash: number;
}

/** Reads a whole snapshot, checking it as a restore would, without writing anything. */
export async function snapshotStatus(parts: Parts): Promise<SnapshotStatus> {
  const status = { revision: 0, rows: 0, leases: 0, hash: 0 };
  const hash = new HistoryHash();
  for await (const part of parts) {
    if ('meta' in part) status.revision = part.meta.revision;
    else if ('rows' in part) {
      for (const [rev, r] of part.rows) hash.add(rev, r);
      status.rows += part.rows.length;
    } else if ('leases' in part) status.leases += part.leases.length;
  }
  return { ...status, hash: hash.value };
}

/** One transaction per message: big enough to amortize the fsync, small enough to bound memory. */
function load(db: Backend, rows: Row[]): void {
  db.env.transactionSync(() => {
    for (const [rev, r] of rows) {
      const { main, sub } = readRev(rev);
      db.addRecord(main, sub, r);
    }
  });
}

/** Rebuilds which live keys each lease holds, from the keys' records. */
function attachLeasedKeys(db: Backend): void {
  const table = new LeaseTable(db);
  for (const kv of new KeyView(db, Infinity).all()) {
    if (kv.lease) table.attach(kv.lease, kv.key);
  }
}

function header(m: unknown): Meta {
  const h = fields(m) as { format?: unknown; version?: unknown; meta?: Partial<Meta> };
  if (h.format !== FORMAT) throw snapshotError('not an mvcc snapshot');
  if (!READABLE.includes(h.version as number)) {
    throw snapshotError(`version ${String(h.version)}, expected one of ${READABLE.join(', ')}`);
  }
  const meta = { ...emptyMeta(), ...h.meta };
  if (!knownSchema(meta.schema)) throw snapshotError(`schema ${meta.schema}`);
  return { ...meta, schema: emptyMeta().schema }; // the new file has this build's layout
}

function isRows(m: unknown): m is { rows: Row[] } {
  const rows = fields(m).rows;
  return Array.isArray(rows) && rows.every(isRow);
}

function isRow(row: unknown): row is Row {
  if (!Array.isArray(row) || row.length !== 2) return false;
  const [rev, r] = row as [unknown, unknown];
  return (
    Buffer.isBuffer(rev) &&
    rev.length === REV_BYTES &&
    Array.isArray(r) &&
    r.length === 5 &&
    Buffer.isBuffer(r[0]) &&
    Buffer.isBuffer(r[1])
  );
}

function isLeases(m: unknown): m is { leases: LeaseRow[] } {
  const leases = fields(m).leases;
  return (
    Array.isArray(leases) &&
    leases.every(
      (l) => Array.isArray(l) && l.length === 2 && Number.isSafeInteger(l[0]) && Number.isSafeInteger(l[1]),
    )
  );
}

/** The auth store's shape, checked as far as a reader relies on it. */
function isAuth(m: unknown): m is { auth: AuthData } {
  const a = fields(fields(m).auth);
  return (
    typeof a.enabled === 'boolean' &&
    Number.isSafeInteger(a.revision) &&
    typeof a.users === 'object' &&
    a.users !== null &&
    typeof a.roles === 'object' &&
    a.roles !== null
  );
}

function isEnd(m: unknown): m is { end: number } {
  return typeof fields(m).end === 'number';
}

function fields(m: unknown): Record<string, unknown> {
  return typeof m === 'object' && m !== null ? (m as Record<string, unknown>) : {};
}

function snapshotError(why: string): Error {
  return new Error(`mvcc snapshot: ${why}`);
}
