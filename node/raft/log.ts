// The Raft log as the core sees it: a snapshot followed by the entries after it, plus how far the
// caller has persisted, been told to persist, been told to apply, and what is committed.
// Everything is in memory; the caller keeps the durable copy (WAL) and trims this one by taking
// snapshots, so its size is bounded by the snapshot interval.
//
// The log also owns the cluster configuration: as in the Raft thesis (§4.1), a member uses the
// latest configuration in its log, committed or not, so a change takes effect when appended and
// is undone if the entry is overwritten.
import { applyToConfState, decodeConfChange } from './confchange.js';
import { RaftRangeError, type ConfState, type Entry, type Snapshot } from './types.js';

export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}

export class RaftLog {
  /** The snapshot the entries follow; index 0 / term 0 on an empty member. */
  snapshot: Snapshot;
  private entries: Entry[];
  committed: number;
  /** Highest index handed to the caller to apply (a snapshot counts as applying up to its index). */
  applied: number;
  /** Highest index the caller has confirmed durable. */
  persisted: number;
  /** Highest index handed to the caller to persist. */
  handed: number;
  /** A snapshot received from the leader that the caller has not yet been handed. */
  pendingSnapshot: Snapshot | undefined;

  /** Indexes of the configuration entries among `entries`, ascending. */
  private confIndexes: number[] = [];
  private confCache: ConfState | undefined;
  /** Bumped whenever the configuration may have changed, so the leader can follow it cheaply. */
  confVersion = 0;

  constructor(snapshot: Snapshot, entries: Entry[], committed: number) {
    this.snapshot = snapshot;
    this.entries = entries;
    this.confIndexes = entries.filter((e) => e.type === 'conf').map((e) => e.index);
    const last = this.lastIndex();
    if (entries.length > 0 && entries[0]!.index !== snapshot.meta.index + 1) {
      throw new Error(`log entries start at ${entries[0]!.index}, expected ${snapshot.meta.index + 1}`);
    }
    if (committed > last) throw new Error(`commit index ${committed} is past the last log index ${last}`);
    this.committed = Math.max(committed, snapshot.meta.index);
    this.applied = snapshot.meta.index;
    this.persisted = last;
    this.handed = last;
  }

  firstIndex(): number {
    return this.snapshot.meta.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.meta.index + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  /** The term of entry i, or undefined when i is compacted away or not in the log. */
  term(i: number): number | undefined {
    const snap = this.snapshot.meta;
    if (i === snap.index) return snap.term;
    if (i < snap.index || i > this.lastIndex()) return undefined;
    return this.entries[i - snap.index - 1]!.term;
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi), at most maxBytes of them but always at least one. */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo < this.firstIndex()) throw new Error(`slice(${lo}) is below the first index ${this.firstIndex()}`);
    const first = this.firstIndex();
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < Math.min(hi, this.lastIndex() + 1); i++) {
      const e = this.entries[i - first]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Appends new entries, dropping any existing suffix they replace. Returns the last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index;
    if (after <= this.committed) {
      throw new Error(`refusing to overwrite committed entry ${after} (committed ${this.committed})`);
    }
    if (after > this.lastIndex() + 1) throw new Error(`gap: appending ${after} after ${this.lastIndex()}`);
    if (ents[ents.length - 1]!.index > Number.MAX_SAFE_INTEGER - 1) throw new RaftRangeError('log index');
    this.entries.length = after - this.firstIndex();
    for (const e of ents) this.entries.push(e);
    const kept = this.confIndexes.filter((i) => i < after);
    const added = ents.filter((e) => e.type === 'conf').map((e) => e.index);
    if (kept.length !== this.confIndexes.length || added.length > 0) this.setConfIndexes([...kept, ...added]);
    // A rewritten suffix must be persisted again.
    this.handed = Math.min(this.handed, after - 1);
    this.persisted = Math.min(this.persisted, after - 1);
    return this.lastIndex();
  }

  /**
   * The follower side of the consistency check: if our entry at `index` has `logTerm`, append
   * `ents` (keeping entries that already match) and commit up to `commit`. Returns the index of
   * the last new entry, or undefined when the check fails.
   */
  maybeAppend(index: number, logTerm: number, commit: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const conflict = ents.findIndex((e) => !this.matchTerm(e.index, e.term));
    if (conflict >= 0) this.append(ents.slice(conflict));
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /**
   * For fast backtracking: the largest index at or below `index` whose term is at most `term`,
   * with its term. Entries above it cannot match a leader whose entry at `index` has `term`.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snapshot.meta.index) {
      const t = this.term(i)!;
      if (t <= term) return { index: i, term: t };
      i--;
    }
    return { index: this.snapshot.meta.index, term: this.snapshot.meta.term };
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    if (i > this.lastIndex()) throw new Error(`commit ${i} is past the last index ${this.lastIndex()}`);
    this.committed = i;
  }

  /** Entries not yet handed to the caller to persist. */
  unhandedEntries(): Entry[] {
    if (this.handed >= this.lastIndex()) return [];
    return this.entries.slice(Math.max(0, this.handed - this.snapshot.meta.index));
  }

  /** Committed entries not yet handed to apply that will be durable once this batch is persisted. */
  committedToApply(maxBytes: number): Entry[] {
    const hi = Math.min(this.committed, this.lastIndex());
    if (hi <= this.applied) return [];
    return this.slice(this.applied + 1, hi + 1, maxBytes);
  }

  /** Replaces the whole log with a snapshot from the leader. */
  restore(snap: Snapshot): void {
    this.snapshot = snap;
    this.entries = [];
    this.setConfIndexes([]);
    this.committed = snap.meta.index;
    this.pendingSnapshot = snap;
    // The snapshot is handed over whole; only entries appended after it are new.
    this.handed = snap.meta.index;
    this.persisted = Math.min(this.persisted, snap.meta.index);
  }

  /** Drops entries up to and including snap.meta.index, which must be applied and durable. */
  compact(snap: Snapshot): void {
    const i = snap.meta.index;
    if (i <= this.snapshot.meta.index) return;
    if (i > this.applied || i > this.persisted) {
      throw new Error(`cannot compact to ${i}: applied ${this.applied}, persisted ${this.persisted}`);
    }
    this.entries = this.entries.slice(i - this.snapshot.meta.index);
    this.snapshot = snap;
    this.setConfIndexes(this.confIndexes.filter((c) => c > i));
  }

  private setConfIndexes(indexes: number[]): void {
    this.confIndexes = indexes;
    this.confCache = undefined;
    this.confVersion++;
  }

  /** The configuration in effect: the latest one in the log. */
  confState(): ConfState {
    this.confCache ??= this.confStateAt(this.lastIndex());
    return this.confCache;
  }

  /** The configuration as of entry `index` (at or after the snapshot). */
  confStateAt(index: number): ConfState {
    let cs = this.snapshot.meta.confState;
    for (const i of this.confIndexes) {
      if (i > index) break;
      cs = applyToConfState(cs, decodeConfChange(this.entries[i - this.firstIndex()]!.data));
    }
    return cs;
  }

  /** Index of the latest configuration entry, or the snapshot's index when the log holds none. */
  lastConfIndex(): number {
    return this.confIndexes.at(-1) ?? this.snapshot.meta.index;
  }
}
