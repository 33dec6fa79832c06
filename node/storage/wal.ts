// The write-ahead log: Raft entries, hard states and snapshot markers appended to segment files,
// each record checksummed, one fdatasync per save (group commit). Replay rebuilds the log the
// member had: entries after the newest snapshot marker, later writes of an index replacing the
// earlier ones (Raft overwrites uncommitted suffixes). A torn record at the very end of the last
// segment — a crash mid-write — is cut off with a warning; damage anywhere else stops the member
// with the file and offset, because serving from a damaged log could return wrong data.
import { mkdir, open, readdir, readFile, rm, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js';
import { decodeRecord, encodeRecord, type WalRecord } from './record.js';

export class WalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`WAL corrupt: ${file} at offset ${offset}: ${reason}`);
    this.name = 'WalCorruptionError';
  }
}

export interface WalFaults {
  /** Runs before every fdatasync (a test can stall here: a slow disk). */
  beforeFsync?: () => Promise<void>;
  /** When it returns true, save() fails after writing and before syncing (a crash). */
  crashAfterWrite?: () => boolean;
}

export interface WalOptions {
  segmentBytes?: number;
  logger?: { warn(message: string, meta?: object): void };
  onFsync?: (seconds: number) => void;
  faults?: WalFaults;
}

export interface WalState {
  hardState: HardState;
  snapshotMeta?: SnapshotMeta;
  entries: Entry[];
}

const SEGMENT_RE = /^(\d{16})\.wal$/;

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.wal`;
}

interface Segment {
  seq: number;
  path: string;
  /** Highest entry index in the segment, and whether it holds a snapshot marker. */
  lastIndex: number;
  hasSnapshot: boolean;
}

export class Wal {
  private file: FileHandle | undefined;
  private size = 0;

  private constructor(
    private readonly dir: string,
    private readonly opts: WalOptions,
    private readonly segments: Segment[],
  ) {}

  static async open(dir: string, opts: WalOptions = {}): Promise<{ wal: Wal; state: WalState }> {
    await mkdir(dir, { recursive: true });
    const names = (await readdir(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    const segments: Segment[] = names.map((n) => ({
      seq: Number(SEGMENT_RE.exec(n)![1]),
      path: join(dir, n),
      lastIndex: 0,
      hasSnapshot: false,
    }));
    for (let i = 1; i < segments.length; i++) {
      if (segments[i]!.seq !== segments[i - 1]!.seq + 1) {
        throw new WalCorruptionError(segments[i]!.path, 0, `segment ${segments[i - 1]!.seq + 1} is missing`);
      }
    }
    const state: WalState = { hardState: { term: 0, vote: '', commit: 0 }, entries: [] };
    for (let i = 0; i < segments.length; i++) {
      await replaySegment(segments[i]!, i === segments.length - 1, state, opts);
    }
    const wal = new Wal(dir, opts, segments);
    await wal.openTail();
    return { wal, state };
  }

  private async openTail(): Promise<void> {
    if (this.segments.length === 0) await this.createSegment(1);
    const tail = this.segments.at(-1)!;
    this.file = await open(tail.path, 'a');
    this.size = (await this.file.stat()).size;
  }

  private async createSegment(seq: number): Promise<void> {
    const path = join(this.dir, segmentName(seq));
    this.segments.push({ seq, path, lastIndex: 0, hasSnapshot: false });
    const f = await open(path, 'a');
    await f.close();
    await syncDir(this.dir);
  }

  /** Appends the hard state and entries, then syncs once. */
  async save(hardState: HardState | undefined, entries: Entry[]): Promise<void> {
    const records: WalRecord[] = entries.map((e) => ({ type: 'entry', entry: e }));
    if (hardState) records.push({ type: 'hardState', hardState });
    const tail = this.segments.at(-1)!; // append() may roll to a new segment afterwards
    await this.append(records);
    if (entries.length > 0) tail.lastIndex = Math.max(tail.lastIndex, entries.at(-1)!.index);
  }

  /** Records a compaction point: replay starts from the newest one. */
  async saveSnapshot(meta: SnapshotMeta): Promise<void> {
    await this.roll();
    await this.append([{ type: 'snapshot', meta }]);
    this.segments.at(-1)!.hasSnapshot = true;
  }

  private async append(records: WalRecord[]): Promise<void> {
    if (records.length === 0) return;
    const buf = Buffer.concat(records.map(encodeRecord));
    await this.file!.write(buf, 0, buf.length, null);
    this.size += buf.length;
    if (this.opts.faults?.crashAfterWrite?.()) throw new Error('injected crash between write and fsync');
    await this.opts.faults?.beforeFsync?.();
    const t0 = process.hrtime.bigint();
    await this.file!.datasync();
    this.opts.onFsync?.(Number(process.hrtime.bigint() - t0) / 1e9);
    if (this.size >= (this.opts.segmentBytes ?? 64 * 1024 * 1024)) await this.roll();
  }

  /** Starts a new segment (at most one empty one at the tail). */
  private async roll(): Promise<void> {
    if (this.size === 0) return;
    await this.file!.close();
    await this.createSegment(this.segments.at(-1)!.seq + 1);
    await this.openTail();
  }

  /**
   * Deletes segments before the newest snapshot marker whose entries are all at or below
   * `index`. Replay starts at that marker, so nothing it needs is removed.
   */
  async releaseTo(index: number): Promise<void> {
    const newestSnap = this.segments.findLastIndex((s) => s.hasSnapshot);
    let n = 0;
    while (n < newestSnap && this.segments[n]!.lastIndex <= index) n++;
    if (n === 0) return;
    // Delete oldest first: a crash in between leaves a contiguous tail, which replays fine.
    for (const s of this.segments.splice(0, n)) await rm(s.path);
    await syncDir(this.dir);
  }

  async close(): Promise<void> {
    await this.file?.close();
    this.file = undefined;
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

async function replaySegment(
  seg: Segment,
  isLast: boolean,
  state: WalState,
  opts: WalOptions,
): Promise<void> {
  const buf = await readFile(seg.path);
  let off = 0;
  while (off < buf.length) {
    const r = decodeRecord(buf, off);
    if (r.kind === 'ok') {
      applyRecord(r.record, state, seg, off);
      off = r.next;
      continue;
    }
    // Damage reaching the end of the last segment is a write cut short by a crash.
    const rest = buf.subarray(off + (r.kind === 'bad-crc' ? r.next - off : 0));
    const tornTail = isLast && (r.kind === 'short' || (r.kind === 'bad-crc' && rest.every((b) => b === 0)));
    if (!tornTail) {
      throw new WalCorruptionError(
        seg.path,
        off,
        r.kind === 'short' ? 'record cut short' : 'checksum mismatch',
      );
    }
    opts.logger?.warn('WAL tail torn by a crash mid-write; truncating', { file: seg.path, offset: off });
    await truncate(seg.path, off);
    return;
  }
}

function applyRecord(rec: WalRecord, state: WalState, seg: Segment, offset: number): void {
  switch (rec.type) {
    case 'hardState':
      state.hardState = rec.hardState;
      return;
    case 'snapshot': {
      // A compaction keeps the entries after the snapshot; a snapshot installed from the leader
      // replaces a log that does not contain its last entry, as Raft does.
      const at = state.entries.find((e) => e.index === rec.meta.index);
      const keep = at?.term === rec.meta.term;
      state.snapshotMeta = rec.meta;
      state.entries = keep ? state.entries.filter((e) => e.index > rec.meta.index) : [];
      seg.hasSnapshot = true;
      return;
    }
    case 'entry': {
      const e = rec.entry;
      // Segments released by compaction may leave the log starting anywhere before a marker.
      const first = state.entries[0]?.index ?? (state.snapshotMeta ? state.snapshotMeta.index + 1 : e.index);
      const next = state.entries.length > 0 ? state.entries.at(-1)!.index + 1 : first;
      if (e.index > next) {
        throw new WalCorruptionError(
          seg.path,
          offset,
          `entry ${e.index} follows ${next - 1}: entries are missing`,
        );
      }
      if (e.index < first) return; // already covered by the snapshot
      state.entries.length = e.index - first;
      state.entries.push(e);
      seg.lastIndex = Math.max(seg.lastIndex, e.index);
    }
  }
}
