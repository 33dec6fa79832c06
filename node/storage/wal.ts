// The write-ahead log: Raft entries, hard states and snapshot markers appended to segment files
// (format in record.ts, naming in segments.ts), one fdatasync per save (group commit), none for a
// hard state that only moves the commit index (etcd does not sync those either). Replay rules
// are in replay.ts, torn-tail detection in scan.ts.
import { fdatasyncSync, writeSync } from 'node:fs';
import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js';
import { encodeRecord, type WalRecord } from './record.js';
import { LogBuilder, type WalState } from './replay.js';
import { scanSegment, type ScanResult } from './scan.js';
import { ensureDir, listSegments, segmentPath, syncDir } from './segments.js';

export { WalCorruptionError } from './errors.js';
export type { WalState } from './replay.js';

export interface WalFaults {
  /** Runs before every fdatasync (a test can stall here: a slow disk). */
  beforeFsync?: () => Promise<void>;
  /** When it returns true, save() fails after writing and before syncing (a crash). */
  crashAfterWrite?: () => boolean;
  /** The segment at `path` is durable up to `size` bytes (after each fdatasync and each new segment). */
  synced?: (path: string, size: number) => Promise<void>;
}

export interface WalOptions {
  /** A segment is closed once the next write would take it past this size. Default 64 MiB. */
  segmentBytes?: number;
  logger?: { warn(message: string, meta?: object): void };
  /** Duration of each fdatasync, for etcd_disk_wal_fsync_duration_seconds. */
  onFsync?: (seconds: number) => void;
  faults?: WalFaults;
}

interface Segment {
  seq: number;
  path: string;
  /** Highest entry index written to the segment (0 if none). */
  maxIndex: number;
  /** Index of the last snapshot marker in the segment. */
  snapshotIndex?: number;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

/**
 * How save() makes its records durable: not at all (they survive a crash of the process, not of
 * the machine, until a later save syncs them); by an fdatasync on libuv's thread pool, while this
 * thread serves other work; or by one on this thread, which then serves nothing else meanwhile but
 * saves the hand-off to a pool thread and the wake-up back (0.3 ms a save on average on a loaded
 * 2-core machine, and most of a lightly loaded member's slow requests).
 */
export type SyncMode = 'none' | 'thread-pool' | 'inline';

export class Wal {
  private file!: FileHandle;
  private size = 0;
  /** After a failed write or sync the page cache can no longer be trusted (fsyncgate): stop. */
  private failed: unknown;
  /** Serialises operations so records of concurrent calls never interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly opts: WalOptions,
    private readonly segments: Segment[],
    private hardState: HardState,
    /** Last entry index written, to label new segments. */
    private lastIndex: number,
  ) {}

  static async open(dir: string, opts: WalOptions = {}): Promise<{ wal: Wal; state: WalState }> {
    await ensureDir(dir);
    const files = await listSegments(dir);
    const builder = new LogBuilder();
    const segments: Segment[] = [];
    let tail: ScanResult = { end: 0 };
    for (const [i, f] of files.entries()) {
      const seg: Segment = { seq: f.seq, path: f.path, maxIndex: 0 };
      segments.push(seg);
      const scan = scanSegment(await readFile(f.path), f.path, i === files.length - 1, (rec, offset) => {
        builder.apply(rec, { file: f.path, offset });
        if (rec.type === 'entry') seg.maxIndex = Math.max(seg.maxIndex, rec.entry.index);
        if (rec.type === 'snapshotMeta') seg.snapshotIndex = rec.meta.index;
      });
      if (scan.torn) {
        opts.logger?.warn('WAL tail torn by a crash mid-write; truncating', {
          file: f.path,
          offset: scan.end,
          reason: scan.torn,
        });
      }
      tail = scan;
    }
    const state = builder.result();
    const lastIndex = state.entries.at(-1)?.index ?? state.snapshotMeta?.index ?? 0;
    const wal = new Wal(dir, opts, segments, state.hardState, lastIndex);
    await wal.openTail(tail);
    return { wal, state };
  }

  private get segmentBytes(): number {
    return this.opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  }

  /** Appends go on after the last intact record; a torn one is cut off first (its bytes zeroed). */
  private async openTail(scan: ScanResult): Promise<void> {
    const tail = this.segments.at(-1);
    if (!tail) return this.createSegment(1);
    this.file = await open(tail.path, 'r+');
    if (scan.torn) {
      await this.file.truncate(scan.end);
      await this.file.sync();
    }
    this.size = scan.end;
    if ((await this.file.stat()).size < this.segmentBytes) await this.file.truncate(this.segmentBytes);
  }

  /**
   * A new segment is preallocated to its full size (sparse; the first fdatasync makes that
   * durable), as etcd does: appends then never change the file's size, so an fdatasync flushes
   * the data without a journal commit for the size. About a fifth less time per fdatasync here.
   */
  private async createSegment(seq: number): Promise<void> {
    const path = segmentPath(this.dir, seq, this.lastIndex + 1);
    this.file = await open(path, 'wx');
    await this.file.truncate(this.segmentBytes);
    this.size = 0;
    this.segments.push({ seq, path, maxIndex: 0 });
    await syncDir(this.dir);
    await this.opts.faults?.synced?.(path, 0);
  }

  /** Appends the entries and the hard state, then syncs once as `sync` says. Nothing to write is a no-op. */
  save(hardState: HardState | undefined, entries: Entry[], sync: SyncMode = 'thread-pool'): Promise<void> {
    return this.exclusive('write', async () => {
      const records: WalRecord[] = entries.map((entry) => ({ type: 'entry', entry }));
      if (hardState) records.push({ type: 'hardState', hardState });
      if (records.length === 0) return;
      const buf = Buffer.concat(records.map(encodeRecord));
      if (this.size > 0 && this.size + buf.length > this.segmentBytes) {
        await this.roll();
      }
      this.write(buf);
      if (sync !== 'none') await this.sync(sync);
      const last = entries.at(-1);
      if (last) {
        const tail = this.segments.at(-1)!;
        tail.maxIndex = entries.reduce((max, e) => Math.max(max, e.index), tail.maxIndex);
        this.lastIndex = last.index;
      }
      if (hardState) this.hardState = hardState;
    });
  }

  /**
   * Records a compaction point: replay starts from the newest one. It opens a new segment so the
   * older ones can be released whole, and repeats the hard state so that releasing them never
   * loses it.
   */
  saveSnapshot(meta: SnapshotMeta): Promise<void> {
    return this.exclusive('write', async () => {
      if (this.size > 0) await this.roll();
      const hardState = this.hardState;
      this.write(
        Buffer.concat([
          encodeRecord({ type: 'snapshotMeta', meta }),
          encodeRecord({ type: 'hardState', hardState }),
        ]),
      );
      await this.sync();
      this.segments.at(-1)!.snapshotIndex = meta.index;
      this.lastIndex = Math.max(this.lastIndex, meta.index);
    });
  }

  /**
   * Deletes the oldest segments whose entries are all at or below `index`. Never the segment with
   * the newest snapshot marker or anything after it (replay starts there), and never the one with
   * the entry at the snapshot's own index (replay checks the snapshot's term against it).
   */
  releaseTo(index: number): Promise<void> {
    return this.exclusive('release', async () => {
      const newest = this.segments.findLastIndex((s) => s.snapshotIndex !== undefined);
      if (newest <= 0) return;
      const limit = Math.min(index, this.segments[newest]!.snapshotIndex! - 1);
      let n = 0;
      while (n < newest && this.segments[n]!.maxIndex <= limit) n++;
      if (n === 0) return;
      // Oldest first: a crash part-way leaves a contiguous run of segments, which replays fine.
      for (const s of this.segments.slice(0, n)) {
        await rm(s.path);
        this.segments.shift();
      }
      await syncDir(this.dir);
    });
  }

  /** Closes the file; waits for operations in flight. */
  async close(): Promise<void> {
    await this.queue;
    await this.file.close();
  }

  /** A failed write leaves the log in an unknown state and stops it; a failed release does not. */
  private exclusive(kind: 'write' | 'release', op: () => Promise<void>): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.failed !== undefined) {
        throw new Error('WAL unusable after an earlier write failure; restart the member', {
          cause: this.failed,
        });
      }
      try {
        await op();
      } catch (e) {
        if (kind === 'write') this.failed = e;
        throw e;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Only the last segment has a preallocated tail: a full one is cut to its records. */
  private async roll(): Promise<void> {
    await this.file.truncate(this.size);
    await this.file.sync();
    await this.file.close();
    await this.createSegment(this.segments.at(-1)!.seq + 1);
  }

  private write(buf: Buffer): void {
    // Into the page cache on this thread (a copy, microseconds): a trip through the thread pool
    // for it cost as much as the fdatasync after it on a busy machine.
    for (let done = 0; done < buf.length;) {
      done += writeSync(this.file.fd, buf, done, buf.length - done, this.size + done);
    }
    this.size += buf.length;
  }

  private async sync(mode: Exclude<SyncMode, 'none'> = 'thread-pool'): Promise<void> {
    if (this.opts.faults?.crashAfterWrite?.()) throw new Error('injected crash between write and fsync');
    await this.opts.faults?.beforeFsync?.();
    const t0 = process.hrtime.bigint();
    if (mode === 'inline') fdatasyncSync(this.file.fd);
    else await this.file.datasync();
    this.opts.onFsync?.(Number(process.hrtime.bigint() - t0) / 1e9);
    await this.opts.faults?.synced?.(this.segments.at(-1)!.path, this.size);
  }
}
