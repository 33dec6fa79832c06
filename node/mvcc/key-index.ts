// etcd's key index (its treeIndex), in memory: for every key, the revisions at which it changed,
// oldest first, in key order. History on disk holds each change's record under its revision, and
// the index is rebuilt when the store opens (backend.ts); keeping it off the disk is what makes a
// put cost rows appended at the end of a table instead of rewriting index pages scattered across
// the key space (a dupsort change list and a live-key table rewrote about 12 KiB per put).
// Keys are latin1 strings here: one character per byte, so string order is byte order. A key's
// changes are one flat array, [main, sub * 2 + deleted, main, ...]: one object per key, 17.8 MiB
// of heap for 64,000 keys with 450,000 changes in all (29.0 MiB with two arrays and a wrapper),
// 19.3 MiB with the map by key beside the tree.
import sortedBtree from 'sorted-btree';
import type { Change } from './revision.js';

const BTree = sortedBtree.default;

/** One key's changes, oldest first: pairs of main revision and sub-revision * 2 + (1 if deleted). */
type Changes = number[];

function changeAt(changes: Changes, i: number): Change {
  const s = changes[2 * i + 1]!;
  return { main: changes[2 * i]!, sub: Math.floor(s / 2), tombstone: s % 2 === 1 };
}

/** How many of the key's changes come before revision (main, sub). */
function countBefore(changes: Changes, main: number, sub: number): number {
  let lo = 0;
  let hi = changes.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = changes[2 * mid]!;
    if (m < main || (m === main && Math.floor(changes[2 * mid + 1]! / 2) < sub)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class KeyIndex {
  /** Key order, for ranges; it changes only when a key comes or goes. */
  private readonly tree = new BTree<string, Changes>();
  /** The same arrays by key: a put's two lookups cost a hash each instead of a walk down the tree. */
  private readonly byKey = new Map<string, Changes>();

  /** How many keys have changes (live or deleted, until compaction drops them). */
  get size(): number {
    return this.byKey.size;
  }

  /** Records a change; a key's changes must come in revision order. */
  add(key: Uint8Array, c: Change): void {
    const k = text(key);
    const sub = c.sub * 2 + (c.tombstone ? 1 : 0);
    const changes = this.byKey.get(k);
    if (changes) {
      changes.push(c.main, sub);
      return;
    }
    const created = [c.main, sub];
    this.byKey.set(k, created);
    this.tree.set(k, created);
  }

  /** The key's newest change at or before revision `at` (any of its sub-revisions), if any. */
  at(key: Uint8Array, at: number): Change | undefined {
    return this.newestBefore(key, at + 1, 0);
  }

  /** The key's newest change before revision (main, sub), if any. */
  newestBefore(key: Uint8Array, main: number, sub: number): Change | undefined {
    const changes = this.byKey.get(text(key));
    const n = changes ? countBefore(changes, main, sub) : 0;
    return n > 0 ? changeAt(changes!, n - 1) : undefined;
  }

  /**
   * Each key in [start, end) (to the last key when `end` is undefined) that has a change at or
   * before revision `at`, with the newest such change, in key order.
   */
  *changesAt(start: Uint8Array, end: Uint8Array | undefined, at: number): Generator<[Buffer, Change]> {
    const high = end === undefined ? undefined : text(end);
    for (const [k, changes] of this.tree.entries(text(start))) {
      if (high !== undefined && k >= high) return;
      const n = countBefore(changes, at + 1, 0);
      if (n > 0) yield [Buffer.from(k, 'latin1'), changeAt(changes, n - 1)];
    }
  }

  /**
   * Drops and returns the key's changes that no read at `rev` or later can see: those at or before
   * it except the newest, and that one too when it is a deletion. A key left with none is dropped.
   */
  compact(key: Uint8Array, rev: number): Change[] {
    const k = text(key);
    const changes = this.byKey.get(k);
    if (!changes) return [];
    const upTo = countBefore(changes, rev + 1, 0);
    const drop = upTo > 0 && !changeAt(changes, upTo - 1).tombstone ? upTo - 1 : upTo;
    const dropped = Array.from({ length: drop }, (_, i) => changeAt(changes, i));
    changes.splice(0, 2 * drop);
    if (changes.length === 0) {
      this.tree.delete(k);
      this.byKey.delete(k);
    }
    return dropped;
  }
}

function text(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}
