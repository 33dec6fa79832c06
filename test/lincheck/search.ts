// The Wing–Gong search for one key, with Lowe's memoization as in porcupine: calls and returns
// sit in a time-ordered doubly-linked list; linearizing an operation lifts its call and return
// out of the list, backtracking puts them back. A cache of (set of linearized operations, state)
// prunes any configuration already explored, which keeps moderate concurrency near-linear.
// Unknown operations (no answer, so no return) are what makes the search blow up; they get a
// list of their own, are tried last, and are pruned by dominance and by symmetry (see below).
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
  const lists = new Lists(ops);
  const { next, HEAD, UHEAD, UTAIL } = lists;
  const answered = (i: number): boolean => ops[i]!.status === 'ok';

  const linearized = new Linearized(ops);
  const cache = new Cache<S>(model);
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
  const twin = twins(ops);

  // Unknown operations never need to be linearized: they may take effect after everything else.
  let remaining = ops.filter((op) => op.status === 'ok').length;
  let state = model.init();
  cache.add(linearized, state);
  // Candidates are tried in two passes, answered operations first, then (late) unknown ones
  // called before the first return, so that configurations without an unknown operation are
  // explored before, and dominate, those with it. `bound[d]` keeps that return's time per depth.
  let late = false;
  const bound = new Float64Array(n + 1);
  let node = next[HEAD]!;
  for (let steps = 1; remaining > 0; steps++) {
    if (steps % CLOCK_EVERY === 0 && performance.now() > deadline) return { result: 'unknown' };
    if (late ? node !== UTAIL && ops[node]!.call <= bound[depth]! : node < n) {
      const op = ops[node]!;
      const after = twin[node] === -1 || linearized.has(twin[node]!) ? model.step(state, op) : undefined;
      if (after !== undefined && !(late && redundant(op, after))) {
        linearized.add(node);
        if (cache.add(linearized, after)) {
          states[depth] = state;
          stack[depth++] = node;
          anchor[depth] = answered(node) ? depth : anchor[depth - 1]!;
          if (depth > bestDepth) {
            best.set(stack.subarray(agreed, depth), agreed);
            bestDepth = agreed = depth;
          }
          state = after;
          if (answered(node)) remaining--;
          lists.lift(node);
          late = false;
          node = next[HEAD]!;
          continue;
        }
        linearized.delete(node);
      }
      node = next[node]!;
    } else if (!late) {
      // The first return: every answered candidate has been tried.
      late = true;
      bound[depth] = ops[node - n]!.ret;
      node = next[UHEAD]!;
    } else {
      // Every candidate has been tried: undo the latest choice.
      if (depth === 0) return illegal(ops, best.subarray(0, bestDepth));
      const undone = stack[--depth]!;
      agreed = Math.min(agreed, depth);
      state = states[depth]!;
      linearized.delete(undone);
      if (answered(undone)) remaining++;
      lists.unlift(undone);
      late = !answered(undone);
      node = next[undone]!;
    }
  }
  return { result: 'ok' };
}

/**
 * Two doubly-linked lists over one pair of arrays. Node i < n is the call of ops[i], n + i its
 * return. The Wing–Gong list holds answered calls and returns in time order; unknown calls sit
 * in a list of their own, in call order (their returns, at infinity, would never be reached).
 */
class Lists {
  readonly HEAD: number;
  private readonly TAIL: number;
  readonly UHEAD: number;
  readonly UTAIL: number;
  readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly n: number;
  private readonly answered: boolean[];

  constructor(ops: readonly Checkable[]) {
    const n = (this.n = ops.length);
    this.answered = ops.map((op) => op.status === 'ok');
    [this.HEAD, this.TAIL, this.UHEAD, this.UTAIL] = [2 * n, 2 * n + 1, 2 * n + 2, 2 * n + 3];
    this.next = new Int32Array(2 * n + 4);
    this.prev = new Int32Array(2 * n + 4);
    const time = (node: number): number => (node < n ? ops[node]!.call : ops[node - n]!.ret);
    // On equal times calls go first: touching operations are concurrent, never ordered.
    const byTime = (a: number, b: number): number =>
      time(a) - time(b) || (a < n ? -1 : 0) + (b < n ? 1 : 0) || a - b;
    const answered = [...ops.keys()].filter((i) => this.answered[i]);
    const unknown = [...ops.keys()].filter((i) => !this.answered[i]);
    this.chain(this.HEAD, [...answered, ...answered.map((i) => i + n)].sort(byTime), this.TAIL);
    this.chain(this.UHEAD, unknown.sort(byTime), this.UTAIL);
  }

  /** Takes an operation's call, and its return if it has one, out of the lists. */
  lift(i: number): void {
    this.unlink(i);
    if (this.answered[i]) this.unlink(this.n + i);
  }

  /** Undoes the latest lift, which must be of i. */
  unlift(i: number): void {
    if (this.answered[i]) this.relink(this.n + i);
    this.relink(i);
  }

  private chain(head: number, nodes: number[], tail: number): void {
    let last = head;
    for (const node of nodes) {
      this.next[last] = node;
      this.prev[node] = last;
      last = node;
    }
    this.next[last] = tail;
    this.prev[tail] = last;
  }

  private unlink(node: number): void {
    this.next[this.prev[node]!] = this.next[node]!;
    this.prev[this.next[node]!] = this.prev[node]!;
  }

  // Dancing links: a node's own pointers survive its removal, so it goes back where it was.
  private relink(node: number): void {
    this.next[this.prev[node]!] = node;
    this.prev[this.next[node]!] = node;
  }
}

/**
 * Unknown operations with the same kind and input are interchangeable, so only the earliest
 * called of those still open is tried: it is a candidate whenever a later twin is. twin[i] is
 * the previous such operation, or -1.
 */
function twins(ops: readonly Checkable[]): Int32Array {
  const twin = new Int32Array(ops.length).fill(-1);
  const last = new Map<string, number>();
  const byCall = [...ops.keys()].sort((a, b) => ops[a]!.call - ops[b]!.call || a - b);
  for (const i of byCall) {
    const op = ops[i]!;
    if (op.status === 'ok') continue;
    const kind = `${op.kind} ${JSON.stringify(op.input.expect)} ${JSON.stringify(op.input.value)}`;
    twin[i] = last.get(kind) ?? -1;
    last.set(kind, i);
  }
  return twin;
}

function illegal(ops: readonly Checkable[], order: Int32Array): SearchOutcome {
  const done = new Set(order);
  const open = [...ops.keys()].filter((i) => !done.has(i));
  // What could go next: every open operation called before the first open one returned.
  const firstReturn = open.reduce((min, i) => Math.min(min, ops[i]!.ret), Infinity);
  return { result: 'illegal', linearized: [...order], next: open.filter((i) => ops[i]!.call <= firstReturn) };
}

/**
 * The set of linearized operations, as two bitsets ranked by call time: answered operations,
 * with an incrementally maintained (Zobrist) hash, and unknown ones, which the cache compares
 * by inclusion instead. Linearized answered operations are mostly a run of full words and then
 * a narrow frontier, and only the frontier is copied and compared.
 */
class Linearized {
  readonly unknown: Uint32Array;
  hash = 0;
  /** Words of `answered` below `low` are full, and from `high` on empty. */
  low = 0;
  private high = 0;
  private readonly answered: Uint32Array;
  /** Each operation's bit within its own bitset. */
  private readonly rank: Int32Array;
  private readonly isAnswered: boolean[];

  constructor(ops: readonly Checkable[]) {
    this.isAnswered = ops.map((op) => op.status === 'ok');
    const counts = [0, 0];
    this.rank = new Int32Array(ops.length);
    for (const i of [...ops.keys()].sort((a, b) => ops[a]!.call - ops[b]!.call || a - b)) {
      this.rank[i] = counts[this.isAnswered[i] ? 0 : 1]!++;
    }
    this.answered = new Uint32Array((counts[0]! + 31) >>> 5);
    this.unknown = new Uint32Array((counts[1]! + 31) >>> 5);
  }

  /** What `answered` holds beyond its first `low` full words. */
  frontier(): Uint32Array {
    return this.answered.subarray(this.low, this.high);
  }

  has(i: number): boolean {
    const r = this.rank[i]!;
    return (((this.isAnswered[i] ? this.answered : this.unknown)[r >>> 5]! >>> (r & 31)) & 1) === 1;
  }

  add(i: number): void {
    const r = this.rank[i]!;
    const w = r >>> 5;
    if (!this.isAnswered[i]) {
      this.unknown[w]! |= 1 << (r & 31);
      return;
    }
    this.answered[w]! |= 1 << (r & 31);
    this.hash ^= zobrist(r);
    this.high = Math.max(this.high, w + 1);
    while (this.low < this.high && this.answered[this.low] === 0xffffffff) this.low++;
  }

  delete(i: number): void {
    const r = this.rank[i]!;
    const w = r >>> 5;
    if (!this.isAnswered[i]) {
      this.unknown[w]! &= ~(1 << (r & 31));
      return;
    }
    this.answered[w]! &= ~(1 << (r & 31));
    this.hash ^= zobrist(r);
    this.low = Math.min(this.low, w);
    while (this.high > 0 && this.answered[this.high - 1] === 0) this.high--;
  }
}

/** A fixed pseudo-random 32-bit value per index (an integer hash), so set hashes XOR together. */
function zobrist(i: number): number {
  let x = Math.imul(i + 0x9e3779b9, 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Configurations already explored, or being explored further up the stack, grouped by their
 * answered operations. A configuration is redundant if one with the same state, the same
 * answered operations and a subset of its unknown ones is there: everything that can follow it
 * can follow that one too.
 */
class Cache<S> {
  private readonly buckets = new Map<
    number,
    { low: number; frontier: Uint32Array; seen: { unknown: Uint32Array; state: S }[] }[]
  >();

  constructor(private readonly model: Model<S>) {}

  /** False if redundant; otherwise records it. */
  add(set: Linearized, state: S): boolean {
    let groups = this.buckets.get(set.hash);
    if (groups === undefined) this.buckets.set(set.hash, (groups = []));
    const frontier = set.frontier();
    let group = groups.find((g) => g.low === set.low && sameWords(g.frontier, frontier));
    if (group === undefined) groups.push((group = { low: set.low, frontier: frontier.slice(), seen: [] }));
    for (const seen of group.seen) {
      if (this.model.equal(seen.state, state) && subset(seen.unknown, set.unknown)) return false;
    }
    group.seen.push({ unknown: set.unknown.length === 0 ? set.unknown : set.unknown.slice(), state });
    return true;
  }
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function subset(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i]! & ~b[i]!) !== 0) return false;
  return true;
}
