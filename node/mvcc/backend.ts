// The on-disk layout: one lmdb file holding five databases.
//   history:       revision → the key's record at that revision (a tombstone for a deletion)
//   revision-keys: revision → the key it changed, then 1 for a deletion or 0 (the key index's
//                  source when the store opens, read without touching the records' pages)
//   leases:        lease ID (8 bytes) → its granted TTL
//   lease-keys:    lease ID (8 bytes) → the live keys attached to it (dupsort)
//   meta:          revision counters, applied Raft index and term, alarms, space in use
//   auth:          the auth store (users, roles, whether auth is on) as one record under 'state'
// Keys and revisions are raw bytes; records and meta are msgpack (lmdb's own encoder). Which
// revisions each key has is the key index (key-index.ts), in memory, built on first use. Both
// revision-keyed databases only ever grow at their end, so a commit writes few pages.
import { statSync } from 'node:fs';
import { open, type Database, type RootDatabase, type Transaction } from 'lmdb';
import { emptyAuth, type AuthData } from '../auth/state.js';
import { KeyIndex } from './key-index.js';
import { isTombstone, type StoredRecord } from './records.js';
import { readRev, revBytes } from './revision.js';
import type { AlarmType } from './types.js';

/** Bumped when the layout changes, so an old file is refused (or upgraded) instead of misread. */
const SCHEMA = 4;
/**
 * Older layouts this build upgrades in place: schema 1 had no leases (their two databases start
 * empty; a key that named a lease under schema 1 keeps the number and never expires); schemas 1
 * and 2 kept the key index on disk (`changes` and `live`, dropped by the upgrade); schemas 1 to 3
 * had no `revision-keys` (filled from history by the upgrade).
 */
const UPGRADABLE = [1, 2, 3];
/** The key index's databases before schema 3. */
const OLD_INDEX = ['changes', 'live'];

/** A schema this build reads: the current one, or one it upgrades. */
export function knownSchema(schema: number): boolean {
  return schema === SCHEMA || UPGRADABLE.includes(schema);
}

export interface Meta {
  schema: number;
  /** The newest revision (1 in an empty store, like etcd). */
  revision: number;
  /** Reads below this revision fail; 0 before the first compaction. */
  compacted: number;
  appliedIndex: number;
  appliedTerm: number;
  alarms: AlarmType[];
  /** What the quota measures: the cost of every record kept in history (see records.ts). */
  usage: number;
}

export interface LeaseRecord {
  /** Seconds, as granted (already raised to the minimum by the member that proposed it). */
  ttl: number;
}

export function emptyMeta(): Meta {
  return { schema: SCHEMA, revision: 1, compacted: 0, appliedIndex: 0, appliedTerm: 0, alarms: [], usage: 0 };
}

export class Backend {
  private constructor(
    readonly path: string,
    readonly env: RootDatabase,
    readonly history: Database<StoredRecord, Buffer>,
    private readonly revisionKeys: Database<Buffer, Buffer>,
    readonly leases: Database<LeaseRecord, Buffer>,
    readonly leaseKeys: Database<Buffer, Buffer>,
    private readonly metaDb: Database<Meta, string>,
    private readonly authDb: Database<AuthData, string>,
  ) {}

  private keyIndex: KeyIndex | undefined;
  /** The auth store, decoded once; every change goes through writeAuth. */
  private authState: AuthData | undefined;

  static open(path: string): Backend {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      throw new Error(
        `mvcc: ${path} is a directory, a store from an older layout (one file now); move it away`,
      );
    }
    // noSubdir: the store is one file, so a restore can replace it with a single rename.
    // overlappingSync off: every commit's data pages are fsynced before it returns.
    // noMetaSync: one fsync per commit instead of two; lmdb keeps the file consistent, and a
    // power cut may only undo the last commits, which the WAL still holds (it is trimmed only
    // after sync() below).
    // mapSize: one 10 GiB mapping of address space from the start (etcd's bbolt maps 10 GiB too);
    // the file grows only as data does. Without it lmdb-js maps the growing file in chunks and
    // keeps the old ones, so each resident page counts once per mapping: a 20 MiB file showed as
    // 40 MiB of RSS. Past the 10 GiB lmdb-js grows the mapping itself.
    const env = open({
      path,
      noSubdir: true,
      overlappingSync: false,
      noMetaSync: true,
      compression: false,
      mapSize: 10 * 1024 ** 3,
    });
    return new Backend(
      path,
      env,
      env.openDB({ name: 'history', keyEncoding: 'binary' }),
      env.openDB({ name: 'revision-keys', keyEncoding: 'binary', encoding: 'binary' }),
      env.openDB({ name: 'leases', keyEncoding: 'binary' }),
      env.openDB({ name: 'lease-keys', keyEncoding: 'binary', encoding: 'binary', dupSort: true }),
      env.openDB({ name: 'meta' }),
      // Files from before auth have no such database; lmdb creates it empty.
      env.openDB({ name: 'auth' }),
    );
  }

  /** The meta as this thread sees it (the open write transaction's), or as of `transaction`. */
  readMeta(transaction?: Transaction): Meta {
    // lmdb-js serves a get() from an open write transaction even when given another one; a range
    // read keeps to the transaction it is given.
    const m = transaction ? rowIn(this.metaDb, 'meta', transaction) : this.metaDb.get('meta');
    if (m && !knownSchema(m.schema)) {
      throw new Error(`mvcc: ${this.path} has on-disk schema ${m.schema}, this build reads ${SCHEMA}`);
    }
    return m ?? emptyMeta();
  }

  /** Brings an older layout up to this build's; returns the schema it had, if it was older. */
  upgrade(): number | undefined {
    const m = this.metaDb.get('meta');
    if (!m || m.schema === SCHEMA) return undefined;
    this.readMeta(); // refuses a schema this build does not know
    this.env.transactionSync(() => {
      for (const name of OLD_INDEX) this.env.openDB({ name }).dropSync();
      for (const { key, value } of this.history.getRange()) {
        this.revisionKeys.putSync(key, keyChange(value[0], isTombstone(value)));
      }
      this.writeMeta({ ...m, schema: SCHEMA });
    });
    this.keyIndex = undefined;
    return m.schema;
  }

  /** Which revisions each key has; built from `revision-keys` when first needed. */
  get index(): KeyIndex {
    this.keyIndex ??= this.buildIndex();
    return this.keyIndex;
  }

  /** Call inside a write transaction: the key's record at revision (main, sub). */
  addRecord(main: number, sub: number, r: StoredRecord): void {
    const rev = revBytes(main, sub);
    const tombstone = isTombstone(r);
    this.history.putSync(rev, r);
    this.revisionKeys.putSync(rev, keyChange(r[0], tombstone));
    this.index.add(r[0], { main, sub, tombstone });
  }

  /** Call inside a write transaction: drops a record the key index no longer lists; returns it. */
  removeRecord(main: number, sub: number): StoredRecord | undefined {
    const rev = revBytes(main, sub);
    const r = this.history.get(rev);
    this.history.removeSync(rev);
    this.revisionKeys.removeSync(rev);
    return r;
  }

  private buildIndex(): KeyIndex {
    const index = new KeyIndex();
    for (const { key, value } of this.revisionKeys.getRange()) {
      const { main, sub } = readRev(key);
      index.add(value.subarray(0, -1), { main, sub, tombstone: value.at(-1) === 1 });
    }
    return index;
  }

  /** Call inside a write transaction. */
  writeMeta(m: Meta): void {
    this.metaDb.putSync('meta', m);
  }

  /** The auth store as this thread sees it (the open write transaction's). Do not change it. */
  auth(): AuthData {
    this.authState ??= this.authDb.get('state') ?? emptyAuth();
    return this.authState;
  }

  /** Call inside a write transaction. */
  writeAuth(d: AuthData): void {
    this.authDb.putSync('state', d);
    this.authState = d;
  }

  /** The auth store as of `transaction` (a snapshot's read transaction). */
  authIn(transaction: Transaction): AuthData {
    return rowIn(this.authDb, 'state', transaction) ?? emptyAuth();
  }

  /** The longest key lmdb accepts. */
  get maxKeySize(): number {
    return (this.env as unknown as { maxKeySize: number }).maxKeySize;
  }

  /** Bytes of the file in use (up to the last page written), as etcd reports its db size. */
  size(): number {
    const s = this.env.getStats() as { lastPageNumber: number; pageSize: number };
    return (s.lastPageNumber + 1) * s.pageSize;
  }

  /** Resolves once every commit so far, its meta page included, is on disk (fsync in a worker thread). */
  sync(): Promise<void> {
    const env = this.env as unknown as { sync(done: (err?: Error) => void): void };
    return new Promise((ok, fail) => env.sync((err) => (err ? fail(err) : ok())));
  }

  close(): Promise<void> {
    return this.env.close();
  }
}

/** The value under `key` as of `transaction`, through a range read: it keeps to the transaction given. */
function rowIn<T>(db: Database<T, string>, key: string, transaction: Transaction): T | undefined {
  const [row] = db.getRange({ transaction, start: key, limit: 1 });
  return row?.key === key ? row.value : undefined;
}

/** A revision-keys row: the key, then 1 for a deletion or 0. */
function keyChange(key: Buffer, tombstone: boolean): Buffer {
  return Buffer.concat([key, Buffer.from([tombstone ? 1 : 0])]);
}
