// etcd's multi-version key-value model on lmdb. Every write request gets the next revision; its
// operations get sub-revisions. Three lmdb databases:
//   history: (revision, sub) → the key's record at that revision (a tombstone for a delete)
//   index:   key → the revisions at which it changed, oldest first
//   meta:    current and compacted revision, applied Raft index, alarms
// A batch of Raft entries is applied in one lmdb transaction together with the applied index.
// lmdb's overlapping sync (its default here) returns once the commit is visible and flushes it in
// the background, crash-consistently: after a crash the store is at some earlier applied index
// and the member re-applies the rest from its WAL, which is what makes writes durable.
import { open, type Database, type RootDatabase } from 'lmdb';
import { crc32 } from 'node:zlib';
import { compareBytes, inRange, isSingleKey } from './key-range.js';
import { decodeRequest } from './codec.js';
import {
  ERR,
  MvccError,
  type Compare,
  type CompactionRequest,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type KeyValue,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
  type WriteRequest,
  type WriteResponse,
} from './types.js';

/** [revision, sub, tombstone] */
type Change = [number, number, 0 | 1];

interface Meta {
  revision: number;
  compacted: number;
  appliedIndex: number;
  appliedTerm: number;
  alarms: string[];
}

export interface StoreOptions {
  quotaBackendBytes?: number;
  maxTxnOps?: number;
}

export type ApplyOutcome = WriteResponse | MvccError | { skipped: true } | { noop: true };

function revKey(rev: number, sub: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  b.writeBigUInt64BE(BigInt(rev), 0);
  b.writeUInt32BE(sub, 8);
  return b;
}

/** One write request in progress: its revision and the next sub-revision. */
interface WriteCtx {
  rev: number;
  sub: number;
  changed: boolean;
}

export class MvccStore {
  private readonly env: RootDatabase;
  private readonly history: Database<KeyValue, Buffer>;
  private readonly index: Database<Change[], Buffer>;
  private readonly metaDb: Database<Meta, string>;
  private meta: Meta;
  private readonly quota: number;
  private readonly maxTxnOps: number;

  private constructor(path: string, opts: StoreOptions) {
    this.env = open({ path, compression: false });
    this.history = this.env.openDB({ name: 'history', keyEncoding: 'binary' });
    this.index = this.env.openDB({ name: 'index', keyEncoding: 'binary' });
    this.metaDb = this.env.openDB({ name: 'meta' });
    this.meta = this.metaDb.get('meta') ?? {
      revision: 1,
      compacted: 0,
      appliedIndex: 0,
      appliedTerm: 0,
      alarms: [],
    };
    this.quota = opts.quotaBackendBytes ?? 2 * 1024 ** 3;
    this.maxTxnOps = opts.maxTxnOps ?? 128;
  }

  static open(path: string, opts: StoreOptions = {}): MvccStore {
    return new MvccStore(path, opts);
  }

  appliedIndex(): { index: number; term: number } {
    return { index: this.meta.appliedIndex, term: this.meta.appliedTerm };
  }

  currentRevision(): number {
    return this.meta.revision;
  }

  compactedRevision(): number {
    return this.meta.compacted;
  }

  alarms(): string[] {
    return [...this.meta.alarms];
  }

  dbSize(): number {
    const s = this.env.getStats() as { lastPageNumber: number; pageSize: number };
    return (s.lastPageNumber + 1) * s.pageSize;
  }

  // ---- applying the log ------------------------------------------------------------------------

  /** Applies Raft entries (encoded write requests; null = no-op) in one transaction. */
  applyBatch(items: Array<{ index: number; term: number; request: Uint8Array | null }>): ApplyOutcome[] {
    const out: ApplyOutcome[] = [];
    this.env.transactionSync(() => {
      const meta = { ...this.meta };
      this.meta = meta;
      for (const item of items) {
        if (item.index <= meta.appliedIndex) {
          out.push({ skipped: true });
          continue;
        }
        meta.appliedIndex = item.index;
        meta.appliedTerm = item.term;
        if (!item.request) {
          out.push({ noop: true });
          continue;
        }
        try {
          out.push(this.applyWrite(decodeRequest(item.request)));
        } catch (e) {
          if (!(e instanceof MvccError)) throw e;
          out.push(e);
        }
      }
      if (this.dbSize() > this.quota && !meta.alarms.includes('NOSPACE')) meta.alarms.push('NOSPACE');
      this.metaDb.putSync('meta', meta);
    });
    return out;
  }

  disarmAlarm(): void {
    this.env.transactionSync(() => {
      this.meta = { ...this.meta, alarms: [] };
      this.metaDb.putSync('meta', this.meta);
    });
  }

  private applyWrite(r: WriteRequest): WriteResponse {
    const ctx: WriteCtx = { rev: this.meta.revision + 1, sub: 0, changed: false };
    let res: WriteResponse;
    if ('put' in r) res = this.put(ctx, r.put);
    else if ('delete_range' in r) res = this.deleteRange(ctx, r.delete_range);
    else if ('txn' in r) res = this.txn(ctx, r.txn, true);
    else return this.compact(r.compaction);
    if (ctx.changed) this.meta.revision = ctx.rev;
    setHeaderRevision(res, this.meta.revision);
    return res;
  }

  // ---- reads -----------------------------------------------------------------------------------

  range(req: RangeRequest): RangeResponse {
    const current = this.meta.revision;
    const at = req.revision && req.revision > 0 ? req.revision : current;
    if (at > current) throw ERR.futureRev();
    if (at < this.meta.compacted) throw ERR.compacted();
    let kvs = this.liveAt(req.key, req.range_end, at).filter((kv) => matchesFilters(kv, req));
    const count = kvs.length;
    kvs = sortKvs(kvs, req);
    const limit = req.limit ?? 0;
    const more = limit > 0 && kvs.length > limit;
    if (limit > 0) kvs = kvs.slice(0, limit);
    if (req.count_only) kvs = [];
    if (req.keys_only) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array() }));
    return { header: { revision: current }, kvs, more, count };
  }

  /** The live (not deleted) keys in [key, rangeEnd) as of revision `at`. */
  private liveAt(key: Uint8Array, rangeEnd: Uint8Array | undefined, at: number): KeyValue[] {
    const out: KeyValue[] = [];
    const visit = (changes: Change[]) => {
      const c = latestAt(changes, at);
      if (!c || c[2] === 1) return;
      const kv = this.history.get(revKey(c[0], c[1]));
      if (kv) out.push(normalize(kv));
    };
    if (isSingleKey(rangeEnd)) {
      const changes = this.index.get(Buffer.from(key));
      if (changes) visit(changes);
      return out;
    }
    const end = rangeEnd && !(rangeEnd.length === 1 && rangeEnd[0] === 0) ? Buffer.from(rangeEnd) : undefined;
    for (const { value } of this.index.getRange({ start: Buffer.from(key), end })) visit(value);
    return out;
  }

  private current(key: Uint8Array): KeyValue | undefined {
    return this.liveAt(key, undefined, Number.MAX_SAFE_INTEGER)[0];
  }

  // ---- writes ----------------------------------------------------------------------------------

  private checkSpace(): void {
    if (this.meta.alarms.includes('NOSPACE')) throw ERR.nospace();
  }

  private record(ctx: WriteCtx, kv: KeyValue, tombstone: boolean): void {
    const sub = ctx.sub++;
    this.history.putSync(revKey(ctx.rev, sub), kv);
    const k = Buffer.from(kv.key);
    const changes = this.index.get(k) ?? [];
    changes.push([ctx.rev, sub, tombstone ? 1 : 0]);
    this.index.putSync(k, changes);
    ctx.changed = true;
  }

  private put(ctx: WriteCtx, req: PutRequest): PutResponse {
    this.checkSpace();
    const prev = this.current(req.key);
    if ((req.ignore_value || req.ignore_lease) && !prev) throw ERR.keyNotFound();
    const kv: KeyValue = {
      key: req.key,
      value: req.ignore_value ? prev!.value : (req.value ?? new Uint8Array()),
      create_revision: prev ? prev.create_revision : ctx.rev,
      mod_revision: ctx.rev,
      version: prev ? prev.version + 1 : 1,
      lease: req.ignore_lease ? prev!.lease : (req.lease ?? 0),
    };
    this.record(ctx, kv, false);
    const res: PutResponse = { header: { revision: ctx.rev } };
    if (req.prev_kv && prev) res.prev_kv = prev;
    return res;
  }

  private deleteRange(ctx: WriteCtx, req: DeleteRangeRequest): DeleteRangeResponse {
    const victims = this.liveAt(req.key, req.range_end, Number.MAX_SAFE_INTEGER);
    for (const kv of victims) {
      this.record(
        ctx,
        {
          key: kv.key,
          value: new Uint8Array(),
          create_revision: 0,
          mod_revision: ctx.rev,
          version: 0,
          lease: 0,
        },
        true,
      );
    }
    return { header: { revision: ctx.rev }, deleted: victims.length, prev_kvs: req.prev_kv ? victims : [] };
  }

  private txn(ctx: WriteCtx, req: TxnRequest, top: boolean): TxnResponse {
    if (top) checkTxn(req, this.maxTxnOps);
    const succeeded = (req.compare ?? []).every((c) => this.compare(c));
    const ops = (succeeded ? req.success : req.failure) ?? [];
    const responses = ops.map((op) => this.txnOp(ctx, op));
    return { header: { revision: ctx.rev }, succeeded, responses };
  }

  private txnOp(ctx: WriteCtx, op: RequestOp): ResponseOp {
    if ('request_range' in op) {
      const r = op.request_range;
      // Reads inside a txn see the txn's own earlier writes (the pending revision).
      const at = r.revision && r.revision > 0 ? r.revision : ctx.changed ? ctx.rev : this.meta.revision;
      const saved = this.meta.revision;
      this.meta.revision = Math.max(saved, at);
      try {
        return { response_range: this.range({ ...r, revision: at }) };
      } finally {
        this.meta.revision = saved;
      }
    }
    if ('request_put' in op) return { response_put: this.put(ctx, op.request_put) };
    if ('request_delete_range' in op)
      return { response_delete_range: this.deleteRange(ctx, op.request_delete_range) };
    return { response_txn: this.txn(ctx, op.request_txn, false) };
  }

  private compare(c: Compare): boolean {
    const kvs = isSingleKey(c.range_end)
      ? [this.current(c.key)]
      : this.liveAt(c.key, c.range_end, Number.MAX_SAFE_INTEGER);
    if (kvs.length === 0) return false;
    return kvs.every((kv) => {
      let cmp: number;
      switch (c.target) {
        case 'VALUE':
          if (!kv) return false;
          cmp = compareBytes(kv.value, c.value ?? new Uint8Array());
          break;
        case 'VERSION':
          cmp = Math.sign((kv?.version ?? 0) - (c.version ?? 0));
          break;
        case 'CREATE':
          cmp = Math.sign((kv?.create_revision ?? 0) - (c.create_revision ?? 0));
          break;
        case 'MOD':
          cmp = Math.sign((kv?.mod_revision ?? 0) - (c.mod_revision ?? 0));
          break;
        case 'LEASE':
          cmp = Math.sign((kv?.lease ?? 0) - (c.lease ?? 0));
          break;
      }
      switch (c.result) {
        case 'EQUAL':
          return cmp === 0;
        case 'NOT_EQUAL':
          return cmp !== 0;
        case 'GREATER':
          return cmp > 0;
        case 'LESS':
          return cmp < 0;
      }
    });
  }

  private compact(req: CompactionRequest) {
    const rev = req.revision;
    if (rev <= this.meta.compacted) throw ERR.compacted();
    if (rev > this.meta.revision) throw ERR.futureRev();
    for (const { key, value } of this.index.getRange({})) {
      // Keep the newest change at or before `rev` unless it is a deletion, and everything after.
      const keepFrom = value.findLastIndex((c) => c[0] <= rev);
      const dropTo = keepFrom >= 0 && value[keepFrom]![2] === 1 ? keepFrom + 1 : keepFrom;
      if (dropTo <= 0) continue;
      for (const c of value.slice(0, dropTo)) this.history.removeSync(revKey(c[0], c[1]));
      const rest = value.slice(dropTo);
      if (rest.length === 0) this.index.removeSync(key);
      else this.index.putSync(key, rest);
    }
    this.meta.compacted = rev;
    return { header: { revision: this.meta.revision } };
  }

  // ---- snapshots and hashing -------------------------------------------------------------------

  /** The whole state, read in one synchronous pass (no write can interleave on this thread). */
  async *exportSnapshot(): AsyncIterable<Uint8Array> {
    const { pack } = await import('msgpackr');
    const image = {
      meta: this.meta,
      history: [...this.history.getRange({})].map((e) => [e.key, e.value]),
      index: [...this.index.getRange({})].map((e) => [e.key, e.value]),
    };
    yield pack(image);
  }

  /** Replaces the whole state with an exported image, in one transaction. */
  async restore(chunks: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
    const { unpack } = await import('msgpackr');
    let data: Uint8Array;
    if (chunks instanceof Uint8Array) data = chunks;
    else {
      const parts: Uint8Array[] = [];
      for await (const c of chunks) parts.push(c);
      data = Buffer.concat(parts);
    }
    const image = unpack(data) as { meta: Meta; history: [Buffer, KeyValue][]; index: [Buffer, Change[]][] };
    this.env.transactionSync(() => {
      this.history.clearSync();
      this.index.clearSync();
      for (const [k, v] of image.history) this.history.putSync(Buffer.from(k), v);
      for (const [k, v] of image.index) this.index.putSync(Buffer.from(k), v);
      this.meta = image.meta;
      this.metaDb.putSync('meta', this.meta);
    });
  }

  /** A checksum of every key's history up to `revision`: equal on members with equal data. */
  hashKV(revision = this.meta.revision): number {
    let h = 0;
    for (const { key, value } of this.history.getRange({})) {
      if (Number(key.readBigUInt64BE(0)) > revision) break;
      h = crc32(Buffer.from(value.value), crc32(Buffer.from(value.key), crc32(key, h)));
    }
    return h;
  }

  /** Resolves once every commit so far is flushed to disk (lmdb's overlapping sync). */
  async flushed(): Promise<void> {
    await this.env.flushed;
  }

  close(): void {
    void this.env.close();
  }
}

function latestAt(changes: Change[], at: number): Change | undefined {
  for (let i = changes.length - 1; i >= 0; i--) if (changes[i]![0] <= at) return changes[i];
  return undefined;
}

/** lmdb hands bytes back as Buffers; API layers expect plain Uint8Array views. */
function normalize(kv: KeyValue): KeyValue {
  return { ...kv, key: new Uint8Array(kv.key), value: new Uint8Array(kv.value) };
}

function matchesFilters(kv: KeyValue, r: RangeRequest): boolean {
  return (
    (!r.min_mod_revision || kv.mod_revision >= r.min_mod_revision) &&
    (!r.max_mod_revision || kv.mod_revision <= r.max_mod_revision) &&
    (!r.min_create_revision || kv.create_revision >= r.min_create_revision) &&
    (!r.max_create_revision || kv.create_revision <= r.max_create_revision)
  );
}

function sortKvs(kvs: KeyValue[], r: RangeRequest): KeyValue[] {
  const order = r.sort_order ?? 'NONE';
  const target = r.sort_target ?? 'KEY';
  if (order === 'NONE' && target === 'KEY') return kvs; // already in key order
  const key = (kv: KeyValue): number | Uint8Array => {
    switch (target) {
      case 'KEY':
        return kv.key;
      case 'VALUE':
        return kv.value;
      case 'VERSION':
        return kv.version;
      case 'CREATE':
        return kv.create_revision;
      case 'MOD':
        return kv.mod_revision;
    }
  };
  const cmp = (a: KeyValue, b: KeyValue) => {
    const x = key(a);
    const y = key(b);
    return typeof x === 'number' ? x - (y as number) : compareBytes(x, y as Uint8Array);
  };
  const sorted = [...kvs].sort(cmp);
  // etcd: a sort target without an order means ascending.
  return order === 'DESCEND' ? sorted.reverse() : sorted;
}

/** etcd rejects a txn with too many operations or two writes to one key in the same branch. */
function checkTxn(req: TxnRequest, maxOps: number): void {
  const count = (ops: RequestOp[] | undefined): number => (ops ?? []).length;
  if (Math.max(count(req.success), count(req.failure), (req.compare ?? []).length) > maxOps)
    throw ERR.tooManyOps();
  for (const branch of [req.success, req.failure]) {
    const puts = new Set<string>();
    const deletes: Array<[Uint8Array, Uint8Array | undefined]> = [];
    for (const op of branch ?? []) {
      if ('request_put' in op) {
        const k = Buffer.from(op.request_put.key).toString('hex');
        if (puts.has(k)) throw ERR.duplicateKey();
        puts.add(k);
      } else if ('request_delete_range' in op) {
        deletes.push([op.request_delete_range.key, op.request_delete_range.range_end]);
      }
    }
    for (const k of puts) {
      const key = Buffer.from(k, 'hex');
      if (deletes.some(([start, end]) => inRange(key, start, end))) throw ERR.duplicateKey();
    }
  }
}

function setHeaderRevision(res: WriteResponse, revision: number): void {
  res.header.revision = revision;
  if ('responses' in res) {
    for (const r of res.responses) {
      const inner = Object.values(r)[0] as { header: { revision: number } };
      setHeaderRevision(inner as WriteResponse, revision);
    }
  }
}
