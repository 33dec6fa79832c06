// The safety properties of Raft (paper figure 3), checked as the simulation runs. Each check is
// incremental so that thousands of simulations stay cheap: entries are registered as members
// persist them, commits as members learn them.
import type { Entry, NodeId } from '../../node/raft/types.js';

export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

function fingerprint(e: Entry): string {
  return `${e.type}:${Buffer.from(e.data).toString('base64')}`;
}

export class SafetyChecker {
  private readonly leaders = new Map<number, NodeId>();
  /** (index, term) → what the entry holds and the term before it: log matching, inductively. */
  private readonly entries = new Map<string, { data: string; prevTerm: number | undefined }>();
  /** index → entry applied there by any member. */
  private readonly applied = new Map<number, { term: number; data: string }>();
  /** index → term of the entry known committed there. */
  private readonly committed = new Map<number, number>();
  /** The highest index any member has learned is committed. */
  maxCommitted = 0;

  /** Election safety: at most one leader per term. */
  leaderElected(id: NodeId, term: number): void {
    const other = this.leaders.get(term);
    if (other !== undefined && other !== id) {
      throw new SafetyViolation(`two leaders in term ${term}: ${other} and ${id}`);
    }
    this.leaders.set(term, id);
  }

  /**
   * Log matching: if two logs hold an entry with the same index and term, they hold the same
   * entry and agree on the term before it, hence (by induction) on everything before it.
   */
  entryPersisted(id: NodeId, e: Entry, prevTerm: number | undefined): void {
    const key = `${e.index}/${e.term}`;
    const data = fingerprint(e);
    const known = this.entries.get(key);
    if (!known) {
      this.entries.set(key, { data, prevTerm });
      return;
    }
    if (known.data !== data) {
      throw new SafetyViolation(
        `log matching: ${id} holds a different entry at index ${e.index} term ${e.term}`,
      );
    }
    if (known.prevTerm !== undefined && prevTerm !== undefined && known.prevTerm !== prevTerm) {
      throw new SafetyViolation(
        `log matching: ${id}'s entry ${e.index}/${e.term} follows term ${prevTerm}, another log's follows ${known.prevTerm}`,
      );
    }
    if (known.prevTerm === undefined) known.prevTerm = prevTerm;
  }

  /** A member learned that its log is committed up to `index`; `termAt` reads its log. */
  commitObserved(
    id: NodeId,
    index: number,
    termAt: (i: number) => number | undefined,
    firstIndex: number,
  ): void {
    for (let i = Math.max(firstIndex, this.maxCommitted + 1); i <= index; i++) {
      const t = termAt(i);
      if (t === undefined) continue;
      const known = this.committed.get(i);
      if (known !== undefined && known !== t) {
        throw new SafetyViolation(
          `${id} committed term ${t} at index ${i}, already committed with term ${known}`,
        );
      }
      this.committed.set(i, t);
    }
    this.maxCommitted = Math.max(this.maxCommitted, index);
  }

  /** Leader completeness: a new leader's log holds every entry committed in earlier terms. */
  leaderLogComplete(
    id: NodeId,
    term: number,
    termAt: (i: number) => number | undefined,
    firstIndex: number,
  ): void {
    for (const [i, t] of this.committed) {
      if (i < firstIndex || t >= term) continue;
      const mine = termAt(i);
      if (mine !== t) {
        throw new SafetyViolation(
          `leader completeness: ${id} leads term ${term} without committed entry ${i} (term ${t}, has ${mine})`,
        );
      }
    }
  }

  /** State machine safety: no two members apply different entries at the same index. */
  entryApplied(id: NodeId, e: Entry): void {
    const known = this.applied.get(e.index);
    const data = fingerprint(e);
    if (!known) {
      this.applied.set(e.index, { term: e.term, data });
      if (!this.committed.has(e.index)) this.committed.set(e.index, e.term);
      if (e.index > this.maxCommitted) this.maxCommitted = e.index;
      return;
    }
    if (known.term !== e.term || known.data !== data) {
      throw new SafetyViolation(`${id} applied a different entry at index ${e.index} than another member`);
    }
  }

  /** The commit index a member reports never goes back, in memory or on disk. */
  static commitMonotonic(id: NodeId, what: string, before: number, after: number): void {
    if (after < before)
      throw new SafetyViolation(`${id}'s ${what} commit index went back from ${before} to ${after}`);
  }

  /** Linearizable reads: the read index covers everything committed before the read began. */
  static readFresh(id: NodeId, context: string, readIndex: number, committedAtStart: number): void {
    if (readIndex < committedAtStart) {
      throw new SafetyViolation(
        `stale read ${context} on ${id}: read index ${readIndex} < ${committedAtStart} committed before it started`,
      );
    }
  }
}
