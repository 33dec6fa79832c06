// Rebuilds the member's log from WAL records in write order.
//
// - The newest hard state wins.
// - An entry at an index the log already holds replaces it and everything after (Raft overwrites
//   an uncommitted suffix).
// - A snapshot marker drops the entries it covers. If the log holds the marker's own index with
//   another term, or ends before it, the whole log is stale (a snapshot installed from the leader)
//   and is dropped, as the Raft core does.
// - Entries need not start at 1 or be gap-free *below* the newest snapshot: releaseTo deletes old
//   segments, and those entries are covered. Above it, the log must start right after the snapshot
//   and be contiguous, or something is missing and replay fails.
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js';
import { WalCorruptionError } from './errors.js';
import type { WalRecord } from './record.js';

export interface WalState {
  hardState: HardState;
  snapshotMeta?: SnapshotMeta;
  entries: Entry[];
}

interface Location {
  file: string;
  offset: number;
}

export class LogBuilder {
  private hardState: HardState = { term: 0, vote: '', commit: 0 };
  private snapshotMeta: SnapshotMeta | undefined;
  /** Contiguous entries; a gap starts a new run, judged at the end. */
  private entries: Entry[] = [];
  /** Where the current run's first entry was read, to name it if the run turns out to be orphaned. */
  private runStart: Location = { file: '', offset: 0 };

  apply(rec: WalRecord, at: Location): void {
    switch (rec.type) {
      case 'hardState':
        this.hardState = rec.hardState;
        return;
      case 'snapshotMeta':
        this.applySnapshot(rec.meta);
        return;
      case 'entry':
        this.applyEntry(rec.entry, at);
    }
  }

  private applyEntry(e: Entry, at: Location): void {
    const first = this.entries[0]?.index;
    const last = this.entries.at(-1)?.index;
    if (first === undefined || last === undefined || e.index > last + 1 || e.index < first) {
      this.entries = [e];
      this.runStart = at;
      return;
    }
    this.entries.length = e.index - first;
    this.entries.push(e);
  }

  private applySnapshot(meta: SnapshotMeta): void {
    this.snapshotMeta = meta;
    const first = this.entries[0]?.index;
    if (first === undefined || first > meta.index) return;
    const at = this.entries[meta.index - first];
    this.entries = at?.term === meta.term ? this.entries.slice(meta.index - first + 1) : [];
  }

  /** The replayed state; throws if entries after the snapshot are missing. */
  result(): WalState {
    const base = this.snapshotMeta?.index ?? 0;
    // Raft never rewrites below a snapshot; such entries are covered by it either way.
    const entries = this.entries.filter((e) => e.index > base);
    const first = entries[0]?.index;
    if (first !== undefined && first !== base + 1) {
      const after = this.snapshotMeta ? `the snapshot at ${base}` : 'the start of the log';
      throw new WalCorruptionError(
        this.runStart.file,
        this.runStart.offset,
        `entries ${base + 1}..${first - 1} after ${after} are missing (log resumes at entry ${first})`,
      );
    }
    const state: WalState = { hardState: this.hardState, entries };
    if (this.snapshotMeta) state.snapshotMeta = this.snapshotMeta;
    return state;
  }
}
