// The Wing–Gong search for one key, with Lowe's memoization as in porcupine: calls and returns
// sit in one time-ordered doubly-linked list; linearizing an operation lifts its call and return
// out of the list, backtracking puts them back. A cache of (set of linearized operations, state)
// prunes any configuration already explored, which keeps moderate concurrency near-linear.
import type { Operation } from './history.js';
import type { Model } from './model.js';

/** An operation ready for the search: 'ok' with a finite return, or 'unknown' with ret = Infinity. */
export type Checkable = Operation & { ret: number; status: 'ok' | 'unknown' };

export type SearchOutcome =
  | { result: 'ok' }
  | { result: 'unknown' }
  | {
      result: 'illegal';
      /** Indexes of the longest sequence that could be linearized... */
      linearized: number[];
      /** ...and of the operations that could have come next, none of which leads anywhere. */
      next: number[];
    };

/** How often (in search steps) to look at the clock: often enough for a 1 ms deadline. */
const CLOCK_EVERY = 1024;

export function search<S>(ops: readonly Checkable[], model: Model<S>, deadline: number): SearchOutcome {
  const n = ops.length;
  // Node i < n is the call of ops[i], node n + i its return; HEAD and TAIL are sentinels.
  const HEAD = 2 * n;
  const TAIL = 2 * n + 1;
  const nodes = Array.from({ length: 2 * n }, (_, i) => i);
  const time = nodes.map((node) => (node < n ? ops[node]!.call : ops[node - n]!.ret));
  // On equal times calls go first: touching operations are treated as concurrent, never ordered.
  // (No subtraction of times: unknown returns are all Infinity.)
  nodes.sort((a, b) => Math.sign(time[a]! - time[b]!) || (a < n ? -1 : 0) + (b < n ? 1 : 0) || a - b);
  const next = new Int32Array(2 * n + 2);
  const prev = new Int32Array(2 * n + 2);
  let last = HEAD;
  for (const node of nodes) {
    next[last] = node;
    prev[node] = last;
    last = node;
  }
  next[last] = TAIL;
  prev[TAIL] = last;

  const unlink = (node: number): void => {
    next[prev[node]!] = next[node]!;
    prev[next[node]!] = prev[node]!;
  };
  // Dancing links: a node's own pointers survive its removal, so it goes back where it was.
  const relink = (node: number): void => {
    next[prev[node]!] = node;
    prev[next[node]!] = node;
  };

  // Only answered operations count towards the cache's hash: configurations that differ just
  // in which unknown operations they took are compared by dominance within one bucket.
  const linearized = new Bitset(Uint32Array.from(ops, (op, i) => (op.status === 'ok' ? zobrist(i) : 0)));
  const cache = new Cache<S>(model, ops);
  const stack = new Int32Array(n);
  const states: S[] = [];
  let depth = 0;
  /** For the configuration at each depth, the depth where its trailing run of unknown operations began. */
  const anchor = new Int32Array(n + 1);
  // An unknown operation after other unknown ones is redundant if, taken alone straight after
  // the last answered operation, it reaches the same state: that dominating configuration is
  // explored from there (the anchor is an ancestor, and its candidates include this one).
  const redundant = (op: Checkable, after: S): boolean => {
    const from = anchor[depth]!;
    if (from === depth) return false;
    const direct = model.step(states[from]!, op);
    return direct !== undefined && model.equal(direct, after);
  };
  // The longest linearized prefix seen, kept up to date by copying only what changed since.
  const best = new Int32Array(n);
  let bestDepth = 0;
  let agreed = 0;

  // Unknown operations with the same kind and input are interchangeable, so only the earliest
  // called of those still open is tried: it is a candidate whenever a later twin is.
  const twin = new Int32Array(n).fill(-1);
  const lastOfKind = new Map<string, number>();
  for (const i of nodes) {
    const op = ops[i]!;
    if (i >= n || op.status === 'ok') continue;
    const kind = `${op.kind} ${JSON.stringify(op.input.expect)} ${JSON.stringify(op.input.value)}`;
    twin[i] = lastOfKind.get(kind) ?? -1;
    lastOfKind.set(kind, i);
  }

  // Unknown operations never need to be linearized: they may take effect after everything else.
  let remaining = ops.filter((op) => op.status === 'ok').length;
  let state = model.init();
  cache.add(linearized, state);
  // Candidates are tried in two passes, answered operations first and unknown ones late, so
  // that configurations without an unknown operation are explored before (and dominate) those with it.
  let late = false;
  let node = next[HEAD]!;
  for (let steps = 1; remaining > 0; steps++) {
    if (steps % CLOCK_EVERY === 0 && performance.now() > deadline) return { result: 'unknown' };
    if (node < n) {
      const op = ops[node]!;
      const eligible =
        (op.status === 'unknown') === late && (twin[node] === -1 || linearized.has(twin[node]!));
      const after = eligible ? model.step(state, op) : undefined;
      if (after !== undefined && !(late && redundant(op, after))) {
        linearized.add(node);
        if (cache.add(linearized, after)) {
          states[depth] = state;
          stack[depth++] = node;
          anchor[depth] = op.status === 'ok' ? depth : anchor[depth - 1]!;
          if (depth > bestDepth) {
            best.set(stack.subarray(agreed, depth), agreed);
            bestDepth = agreed = depth;
          }
          state = after;
          if (op.status === 'ok') remaining--;
          unlink(node);
          unlink(node + n);
          late = false;
          node = next[HEAD]!;
          continue;
        }
        linearized.delete(node);
      }
      node = next[node]!;
    } else if (!late) {
      late = true;
      node = next[HEAD]!;
    } else {
      // A return: its operation had to be linearized by now, so undo the latest choice.
      if (depth === 0) return illegal(ops, best.subarray(0, bestDepth));
      const undone = stack[--depth]!;
      agreed = Math.min(agreed, depth);
      state = states[depth]!;
      linearized.delete(undone);
      if (ops[undone]!.status === 'ok') remaining++;
      relink(undone + n);
      relink(undone);
      late = ops[undone]!.status === 'unknown';
      node = next[undone]!;
    }
  }
  return { result: 'ok' };
}

function illegal(ops: readonly Checkable[], order: Int32Array): SearchOutcome {
  const done = new Set(order);
  const open = [...ops.keys()].filter((i) => !done.has(i));
  // What could go next: every open operation called before the first open one returned.
  const firstReturn = open.reduce((min, i) => Math.min(min, ops[i]!.ret), Infinity);
  return { result: 'illegal', linearized: [...order], next: open.filter((i) => ops[i]!.call <= firstReturn) };
}

/** A set of operation indexes with an incrementally maintained (Zobrist) hash. */
class Bitset {
  readonly words: Uint32Array;
  hash = 0;

  /** `weights` holds each index's share of the hash. */
  constructor(private readonly weights: Uint32Array) {
    this.words = new Uint32Array((weights.length + 31) >>> 5);
  }

  has(i: number): boolean {
    return ((this.words[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  add(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
    this.hash ^= this.weights[i]!;
  }

  delete(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
    this.hash ^= this.weights[i]!;
  }
}

/** A fixed pseudo-random 32-bit value per index (an integer hash), so set hashes XOR together. */
function zobrist(i: number): number {
  let x = Math.imul(i + 0x9e3779b9, 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Configurations already explored, or being explored further up the stack. A configuration is
 * redundant if one with the same state and the same answered operations, but a subset of its
 * unknown ones, is there: everything that can follow it can follow that one too.
 */
class Cache<S> {
  private readonly buckets = new Map<number, { words: Uint32Array; state: S }[]>();
  private readonly answered: Uint32Array;

  constructor(
    private readonly model: Model<S>,
    ops: readonly Checkable[],
  ) {
    this.answered = new Uint32Array((ops.length + 31) >>> 5);
    ops.forEach((op, i) => {
      if (op.status === 'ok') this.answered[i >>> 5]! |= 1 << (i & 31);
    });
  }

  /** False if redundant; otherwise records it. */
  add(set: Bitset, state: S): boolean {
    let bucket = this.buckets.get(set.hash);
    if (bucket === undefined) this.buckets.set(set.hash, (bucket = []));
    for (const seen of bucket) {
      if (this.model.equal(seen.state, state) && this.dominates(seen.words, set.words)) return false;
    }
    bucket.push({ words: set.words.slice(), state });
    return true;
  }

  /** a ⊆ b, and b adds only unknown operations. */
  private dominates(a: Uint32Array, b: Uint32Array): boolean {
    for (let i = 0; i < a.length; i++) {
      if ((a[i]! & ~b[i]!) !== 0 || (b[i]! & ~a[i]! & this.answered[i]!) !== 0) return false;
    }
    return true;
  }
}
