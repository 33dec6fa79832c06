// The shape of the Raft log a WAL holds — where it starts and ends, the newest snapshot, the term
// of each index — without the entries themselves. Replay uses it to decide what every record does;
// the writer runs the same rules on a copy before writing, so it never writes a log that replay
// would refuse.
import type { Entry, SnapshotMeta } from '../raft/types.js';

/** The log would have a hole in it. */
export class LogGapError extends Error {}

export class LogShape {
  /** Index of the first entry held (or of the next one, when none are held). */
  start: number | undefined;
  /** Index of the last entry held, or `start - 1`. */
  last: number;
  snapshot: SnapshotMeta | undefined;
  /** Where each run of equal terms begins; terms change rarely, so this stays short. */
  private runs: Array<{ index: number; term: number }>;

  /**
   * `start` is 1 for a log kept from its beginning, and unknown when older segments were
   * released: the first record replayed then says where the log starts.
   */
  constructor(start: number | undefined) {
    this.start = start;
    this.last = (start ?? 1) - 1;
    this.snapshot = undefined;
    this.runs = [];
  }

  clone(): LogShape {
    const c = new LogShape(this.start);
    c.last = this.last;
    c.snapshot = this.snapshot;
    c.runs = [...this.runs];
    return c;
  }

  /** Adds an entry (overwriting from its index on); false if the snapshot already covers it. */
  addEntry(e: Entry): boolean {
    if (this.snapshot && e.index <= this.snapshot.index) return false;
    if (this.start === undefined || e.index < this.start) {
      // Only where the log's beginning was released: what came before it is gone anyway.
      this.start = e.index;
      this.runs = [];
    } else if (e.index > this.last + 1) {
      throw new LogGapError(`entry ${e.index} follows ${this.last}: entries ${this.last + 1}..${e.index - 1} are missing`);
    }
    while (this.runs.length > 0 && this.runs.at(-1)!.index >= e.index) this.runs.pop();
    if (this.runs.at(-1)?.term !== e.term) this.runs.push({ index: e.index, term: e.term });
    this.last = e.index;
    return true;
  }

  /**
   * Records a snapshot. Like Raft: if the log holds the snapshot's last entry (same index and
   * term), it is a compaction and the entries after it stay; otherwise the snapshot replaces the
   * log. Returns whether the entries after it stay.
   */
  addSnapshot(meta: SnapshotMeta): boolean {
    if (this.snapshot && meta.index < this.snapshot.index) {
      throw new LogGapError(`snapshot at ${meta.index} is older than the one at ${this.snapshot.index}`);
    }
    const start = this.start;
    const keep =
      start !== undefined && (meta.index < start || (meta.index <= this.last && this.termAt(meta.index) === meta.term));
    this.snapshot = meta;
    if (!keep) {
      this.start = meta.index + 1;
      this.last = meta.index;
      this.runs = [];
      return false;
    }
    const newStart = Math.max(start, meta.index + 1);
    while (this.runs.length > 1 && this.runs[1]!.index <= newStart) this.runs.shift();
    if (this.runs[0] && this.runs[0].index < newStart) this.runs[0] = { index: newStart, term: this.runs[0].term };
    if (newStart > this.last) this.runs = [];
    this.start = newStart;
    return true;
  }

  /** Throws if the log does not continue right after the snapshot (or begin at 1 without one). */
  checkContiguous(): void {
    const from = this.snapshot ? this.snapshot.index + 1 : 1;
    if (this.start !== from) {
      throw new LogGapError(`the log starts at ${this.start ?? '(nothing)'} but must start at ${from}`);
    }
  }

  private termAt(index: number): number | undefined {
    for (let i = this.runs.length - 1; i >= 0; i--) if (this.runs[i]!.index <= index) return this.runs[i]!.term;
    return undefined;
  }
}
