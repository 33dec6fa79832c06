// etcd's multi-version key-value store on lmdb: the state machine under Raft. Committed entries are
// applied into etcd-style batch transactions (batch-txn.ts), each committed durably together with
// the applied index, so a restart resumes where the disk says and replays only the entries of the
// last, uncommitted batch from the WAL. A request that etcd would refuse is refused before it
// writes, so it leaves no trace and the others go on.
import { existsSync } from 'node:fs';
import type { AuthData } from '../auth/state.js';
import { etcdSnapshot } from '../migrate/etcd-export.js';
import { Applier, type ApplyLimits } from './apply.js';
import { Backend, type Meta } from './backend.js';
import { BatchTxn, DEFAULT_BATCH_LIMITS, type BatchLimits } from './batch-txn.js';
import { decodeRequest } from './codec.js';
import { eventsSince } from './events.js';
import { hashKV, type HashKV } from './hash.js';
import { defragPath, hasStaged, installStaged, removeStaging, stagingPath, syncFile } from './install.js';
import { LeaseTable, type Lease } from './leases.js';
import { range } from './range.js';
import { exportSnapshot, snapshotParts, writeSnapshotFile, type Parts } from './snapshot.js';
import { KeyView } from './view.js';
import type { BatchState } from './writer.js';
import {
  ERR,
  MvccError,
  type AlarmType,
  type ApplyEntry,
  type ApplyResult,
  type Event,
  type Logger,
  type RangeRequest,
  type RangeResponse,
  type WriteRequest,
} from './types.js';

export interface StoreOptions {
  /** The NOSPACE alarm goes off when history holds more than this (etcd's default: 2 GiB). */
  quotaBackendBytes?: number;
  /** When applied batches are committed to disk (etcd's --backend-batch-interval and -limit). */
  batch?: BatchLimits;
  /** Told how long each backend commit took. */
  onCommit?: (seconds: number) => void;
  /** Told when a commit fails; the store then refuses reads and writes. */
  onFailure?: (e: unknown) => void;
  logger?: Logger;
}

export type EventListener = (events: Event[]) => void;

type Chunks = AsyncIterable<Uint8Array> | Uint8Array;

const SILENT: Logger = { info: () => {}, warn: () => {} };

export class MvccStore {
  private db!: Backend;
  private batch!: BatchTxn;
  /** As of the last applied batch, committed or not: reads, watches and the next batch go by it. */
  private meta!: Meta;
  /** The last defragmentation (they run one at a time, and a snapshot install waits for them). */
  private swaps: Promise<void> = Promise.resolve();
  /**
   * A batch that threw, or a commit that failed: the batch transaction was dropped with the
   * answered batches in it, so the store takes no more writes and serves no more reads.
   */
  private failure: unknown;
  /** From the start of a defragmentation's copy to its swap: a batch handed over now would be lost. */
  private defragmenting = false;
  /** Set while a defragmented file is swapped in (the store is closed meanwhile). */
  private reopening: Promise<void> | undefined;
  private sizeBeforeSwap = 0;
  private readonly listeners = new Set<EventListener>();
  private readonly limits: ApplyLimits;
  private readonly batchLimits: BatchLimits;
  private readonly onCommit: (seconds: number) => void;
  private readonly onFailure: (e: unknown) => void;
  private readonly logger: Logger;

  private constructor(
    private readonly path: string,
    opts: StoreOptions,
  ) {
    removeStaging(path);
    this.logger = opts.logger ?? SILENT;
    this.limits = { quotaBytes: opts.quotaBackendBytes ?? 2 * 1024 ** 3 };
    this.batchLimits = opts.batch ?? DEFAULT_BATCH_LIMITS;
    this.onCommit = opts.onCommit ?? (() => {});
    this.onFailure = opts.onFailure ?? (() => {});
    this.openBackend();
    try {
      const from = this.db.upgrade();
      if (from !== undefined) this.logger.info('store upgraded', { path, fromSchema: from });
      this.meta = this.db.readMeta();
    } catch (e) {
      void this.db.close();
      throw e;
    }
  }

  private openBackend(): void {
    this.db = Backend.open(this.path);
    this.batch = new BatchTxn(this.db.env, this.batchLimits, this.onCommit, (e) => this.failed(e));
  }

  /** Opens (or creates) the store file at `path`. */
  static open(path: string, opts: StoreOptions = {}): MvccStore {
    removeStaging(path); // a snapshot whose staging a crash cut short
    return new MvccStore(path, opts);
  }

  /** Replaces the store file at `path` (which must not be open) with the snapshot's state, then opens it. */
  static async restoreSnapshot(path: string, chunks: Chunks, opts: StoreOptions = {}): Promise<MvccStore> {
    await stage(path, streamParts(chunks));
    installStaged(path);
    return MvccStore.open(path, opts);
  }

  /**
   * Builds the store file at `path` from a backup's parts (see backup-file.ts), for a member of a
   * new cluster: keys, revisions, leases and users stay; the applied index starts over, as the new
   * cluster's log does. Every member of the new cluster is restored from the same file. Returns the
   * restored meta.
   */
  static async restoreBackup(parts: Parts, path: string): Promise<Meta> {
    if (existsSync(path)) throw new Error(`${path} exists: restore into a new data directory`);
    const meta = await stage(path, parts, true);
    installStaged(path);
    return meta;
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

  alarms(): AlarmType[] {
    return [...this.meta.alarms];
  }

  dbSize(): number {
    // While the file is swapped, the size it had: the member's metrics refresh goes on meanwhile.
    return this.reopening ? this.sizeBeforeSwap : this.reader.size();
  }

  /** The auth store as applied so far. Do not change it. */
  auth(): AuthData {
    return this.reader.auth();
  }

  /** Every lease, in ID order. */
  leases(): Lease[] {
    return new LeaseTable(this.reader).all();
  }

  lease(id: number): Lease | undefined {
    return new LeaseTable(this.reader).get(id);
  }

  /** The live keys a lease holds (empty for none or no such lease). */
  leaseKeys(id: number): Uint8Array[] {
    return new LeaseTable(this.reader).keys(id);
  }

  /**
   * Applies committed Raft entries, in order, into the batch transaction; reads and watches see
   * them on return. Entries at or below the applied index are skipped (a replay after a restart or
   * a restore). Once something is applied, a gap throws, as it means lost entries; the first entry
   * may be past 1, since the Raft log can start after a bootstrap snapshot. A request's own failure
   * is its result; anything else throws, and the store takes no more batches after that.
   */
  applyBatch(entries: ApplyEntry[]): ApplyResult[] {
    // Its commit would land in the file being replaced.
    if (this.defragmenting) throw new Error('mvcc: a batch handed over during a defragmentation');
    this.refuseIfFailed();
    try {
      const { state, results } = this.batch.run(
        () => this.applyInTxn(entries),
        entries.length,
        requestBytes(entries),
      );
      this.commitState(state);
      return results;
    } catch (e) {
      this.failure ??= e; // the member stops on the throw
      throw e;
    }
  }

  private applyInTxn(entries: ApplyEntry[]): { state: BatchState; results: ApplyResult[] } {
    const state: BatchState = { meta: { ...this.meta }, events: [] };
    const applier = new Applier(this.db, state, this.limits);
    const results = entries.map((e) => this.applyEntry(applier, state.meta, e));
    this.db.writeMeta(state.meta);
    return { state, results };
  }

  private applyEntry(applier: Applier, meta: Meta, e: ApplyEntry): ApplyResult {
    if (e.index <= meta.appliedIndex) return { skipped: true };
    if (meta.appliedIndex > 0 && e.index !== meta.appliedIndex + 1) {
      throw new Error(
        `mvcc: entry ${e.index} follows applied index ${meta.appliedIndex}: entries are missing`,
      );
    }
    meta.appliedIndex = e.index;
    meta.appliedTerm = e.term;
    const req = this.request(e);
    if (req instanceof MvccError || req === null) return req ?? { noop: true };
    try {
      return applier.apply(req);
    } catch (err) {
      if (err instanceof MvccError) return err; // refused before writing anything
      throw err;
    }
  }

  /** Decodes an entry's request; bytes that are not a request are that entry's error, on every member alike. */
  private request(e: ApplyEntry): WriteRequest | MvccError | null {
    if (!(e.request instanceof Uint8Array)) return e.request;
    if (e.request.length === 0) return null;
    try {
      return decodeRequest(e.request);
    } catch (err) {
      this.logger.warn('undecodable write request in the log', { index: e.index, error: String(err) });
      return ERR.malformed(String(err));
    }
  }

  private commitState(state: BatchState): void {
    const raised = state.meta.alarms.filter((a) => !this.meta.alarms.includes(a));
    this.meta = state.meta;
    for (const alarm of raised) {
      this.logger.warn('alarm raised', { alarm, usage: this.meta.usage, quota: this.limits.quotaBytes });
    }
    if (state.events.length > 0) this.publish(state.events);
  }

  private publish(events: Event[]): void {
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (err) {
        this.logger.warn('event listener failed', { error: String(err) });
      }
    }
  }

  /** Calls `listener` after each committed batch with its events, in revision order. Returns the unsubscribe. */
  onEvents(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A local read of applied data (the server decides whether it must be linearizable first). Its
   * revision comes from the same lmdb transaction as its rows: the open batch transaction, or a
   * read transaction when none is open.
   */
  range(req: RangeRequest): RangeResponse {
    const db = this.reader;
    const meta = db.readMeta();
    return range(new KeyView(db, meta.revision), meta.compacted, req);
  }

  /** The changes to keys in etcd's range [key, rangeEnd) from revision `from` on. */
  eventsSince(from: number, key: Uint8Array, rangeEnd?: Uint8Array): Event[] {
    return eventsSince(this.reader, this.meta, from, key, rangeEnd);
  }

  /** `revision` 0 (the default) means the current one. */
  hashKV(revision = 0): HashKV {
    return hashKV(this.reader, this.meta, revision);
  }

  /**
   * The whole state, from one consistent read transaction, for a member that fell behind the log
   * or a backup. The batch is committed first, so the stream holds everything applied so far.
   */
  exportSnapshot(): AsyncIterable<Uint8Array> {
    return this.exportCommitted(exportSnapshot);
  }

  /** The same state as an etcd snapshot file, for a backup that etcd's own tools read too. */
  exportBackup(): AsyncIterable<Uint8Array> {
    return this.exportCommitted(etcdSnapshot);
  }

  private exportCommitted(as: (db: Backend) => AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    const db = this.reader;
    this.commit();
    return as(db);
  }

  /**
   * Replaces this store's state with a snapshot's: stageSnapshot() then installStagedSnapshot().
   */
  async restore(chunks: Chunks): Promise<void> {
    const staged = await this.stageSnapshot(chunks);
    await this.installStagedSnapshot(staged.index);
  }

  /**
   * Builds a snapshot's state in a file beside the store, which keeps serving meanwhile; returns
   * the applied index and term it holds. A later stage replaces it.
   */
  async stageSnapshot(chunks: Chunks): Promise<{ index: number; term: number }> {
    const meta = await stage(this.path, streamParts(chunks));
    return { index: meta.appliedIndex, term: meta.appliedTerm };
  }

  /**
   * Swaps in the staged state (the store is closed for the swap). With nothing staged it is a
   * no-op if the store is already at `minIndex` (a newer stage was installed first), else an error.
   */
  async installStagedSnapshot(minIndex: number): Promise<void> {
    await this.swaps;
    if (!hasStaged(this.path)) {
      if (this.meta.appliedIndex >= minIndex) return;
      throw new Error(
        `no staged snapshot to install and the store is at index ${this.meta.appliedIndex} < ${minIndex}`,
      );
    }
    await this.swapIn(() => installStaged(this.path));
    if (this.meta.appliedIndex < minIndex) {
      throw new Error(`the installed snapshot is at index ${this.meta.appliedIndex}, behind ${minIndex}`);
    }
    this.logger.info('restored from snapshot', {
      appliedIndex: this.meta.appliedIndex,
      revision: this.meta.revision,
    });
  }

  /**
   * etcd's defragment: lmdb reuses the pages compaction frees but never shrinks its file, so the
   * file is rewritten by a compacting copy (from one read transaction, while reads go on) and
   * swapped in. No batch may be handed over until this resolves. Reads wait only for the swap
   * itself (whenOpen()). Returns the file's size before and after.
   */
  defragment(): Promise<{ before: number; after: number }> {
    const run = this.swaps.then(async () => {
      this.commit();
      this.defragmenting = true;
      try {
        const before = this.db.size();
        const copy = defragPath(this.path);
        removeStaging(this.path);
        await this.db.env.backup(copy, true);
        syncFile(copy);
        await this.swapIn(() => installStaged(this.path, copy));
        const after = this.db.size();
        this.logger.info('store defragmented', { before, after });
        return { before, after };
      } finally {
        this.defragmenting = false;
      }
    });
    this.swaps = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Closes the store, lets `install` replace its file, and opens it again. Meanwhile reads are
   * refused (a read on the closing lmdb env leaves a timer that throws later and ends the
   * process); whenOpen() tells when they may go on.
   */
  private async swapIn(install: () => void): Promise<void> {
    let reopened!: () => void;
    this.reopening = new Promise<void>((resolve) => (reopened = resolve));
    try {
      this.commit();
      this.sizeBeforeSwap = this.db.size();
      await this.db.close();
      install();
      this.openBackend();
      this.meta = this.db.readMeta();
    } finally {
      this.reopening = undefined;
      reopened();
    }
  }

  /** The open store for a read; refused (retryable) while the file is being swapped. */
  private get reader(): Backend {
    if (this.reopening) throw ERR.reopening();
    if (this.failure !== undefined) throw ERR.failed();
    return this.db;
  }

  /** While the file is being swapped (snapshot install, defragment), the moment it is open again. */
  whenOpen(): Promise<void> | undefined {
    return this.reopening;
  }

  /** Commits the batch transaction now; a failure is the store's failure. */
  private commit(): void {
    if (this.failure !== undefined) return;
    try {
      this.batch.commit();
    } catch (e) {
      this.failed(e);
      throw e;
    }
  }

  private refuseIfFailed(): void {
    if (this.failure !== undefined) throw new Error('mvcc: an earlier batch failed', { cause: this.failure });
  }

  /** A commit failed: the answered batches in it are gone from the backend, so the member must stop. */
  private failed(e: unknown): void {
    this.failure ??= e;
    this.onFailure(e);
  }

  /** Resolves once every applied batch is fully on disk: the WAL may then be trimmed past them. */
  async flushed(): Promise<void> {
    this.refuseIfFailed();
    this.commit();
    await this.db.sync();
  }

  /** Commits what is applied (unless the store failed) and closes. */
  async close(): Promise<void> {
    await this.swaps;
    if (this.failure === undefined) this.commit();
    else this.batch.abort();
    await this.db.close();
  }
}

const streamParts = (chunks: Chunks) => snapshotParts(chunks instanceof Uint8Array ? [chunks] : chunks);

async function stage(path: string, parts: Parts, startOver = false): Promise<Meta> {
  removeStaging(path);
  try {
    return await writeSnapshotFile(stagingPath(path), parts, startOver);
  } catch (err) {
    removeStaging(path);
    throw err;
  }
}

/** What the entries' requests weigh, toward the batch transaction's byte limit. */
function requestBytes(entries: ApplyEntry[]): number {
  let bytes = 0;
  for (const e of entries) if (e.request instanceof Uint8Array) bytes += e.request.byteLength;
  return bytes;
}
