// etcd's key index (its treeIndex), in memory: for every key, the revisions at which it changed,
// oldest first, in key order. History on disk holds each change's record under its revision, and
// the index is rebuilt from it when the store opens; keeping the index off the disk is what makes a
// put cost one appended history row per commit instead of rewriting index pages scattered across
// the key space (a dupsort change list and a live-key table rewrote about 12 KiB per put).
// Keys are latin1 strings here: one character per byte, so string order is byte order.
import sortedBtree from 'sorted-btree';
import type { Change } from './revision.js';

const BTree = sortedBtree.default;

/** One key's changes, oldest first: main revisions, and sub-revisions doubled plus 1 for a deletion. */
class Changes {
  readonly mains: number[] = [];
  readonly subs: number[] = [];

  change(i: number): Change {
    const s = this.subs[i]!;
    return { main: this.mains[i]!, sub: Math.floor(s / 2), tombstone: s % 2 === 1 };
  }

  /** How many changes come before revision (main, sub). */
  countBefore(main: number, sub: number): number {
    let lo = 0;
    let hi = this.mains.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.mains[mid]!;
      if (m < main || (m === main && Math.floor(this.subs[mid]! / 2) < sub)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class KeyIndex {
  private readonly tree = new BTree<string, Changes>();

  /** How many keys have changes (live or deleted, until compaction drops them). */
  get size(): number {
    return this.tree.size;
  }

  /** Records a change; a key's changes must come in revision order. */
  add(key: Uint8Array, c: Change): void {
    const k = text(key);
    let changes = this.tree.get(k);
    if (!changes) {
      changes = new Changes();
      this.tree.set(k, changes);
    }
    changes.mains.push(c.main);
    changes.subs.push(c.sub * 2 + (c.tombstone ? 1 : 0));
  }

  /** The key's newest change at or before revision `at` (any of its sub-revisions), if any. */
  at(key: Uint8Array, at: number): Change | undefined {
    return this.newestBefore(key, at + 1, 0);
  }

  /** The key's newest change before revision (main, sub), if any. */
  newestBefore(key: Uint8Array, main: number, sub: number): Change | undefined {
    const changes = this.tree.get(text(key));
    const n = changes ? changes.countBefore(main, sub) : 0;
    return n > 0 ? changes!.change(n - 1) : undefined;
  }

  /** Keys with changes in [start, end) (to the last key when `end` is undefined), in key order. */
  *keys(start: Uint8Array, end: Uint8Array | undefined): Generator<Buffer> {
    const high = end === undefined ? undefined : text(end);
    for (const [k] of this.tree.entries(text(start))) {
      if (high !== undefined && k >= high) return;
      yield Buffer.from(k, 'latin1');
    }
  }

  /**
   * Drops and returns the key's changes that no read at `rev` or later can see: those at or before
   * it except the newest, and that one too when it is a deletion. A key left with none is dropped.
   */
  compact(key: Uint8Array, rev: number): Change[] {
    const k = text(key);
    const changes = this.tree.get(k);
    if (!changes) return [];
    const upTo = changes.countBefore(rev + 1, 0);
    const drop = upTo > 0 && !changes.change(upTo - 1).tombstone ? upTo - 1 : upTo;
    const dropped = Array.from({ length: drop }, (_, i) => changes.change(i));
    changes.mains.splice(0, drop);
    changes.subs.splice(0, drop);
    if (changes.mains.length === 0) this.tree.delete(k);
    return dropped;
  }
}

function text(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}
