// Random histories from a simulated linearizable store: clients issue overlapping operations,
// each takes effect at a random instant inside its own call–return span, and outputs are
// whatever the store held at that instant. So every history generated is linearizable.
import type { Rng } from '../sim/rng.js';
import type { Operation, OpKind } from './history.js';

export interface GenOptions {
  clients: number;
  keys: number;
  opsPerClient: number;
  /** Share of operations left unanswered; half of those take effect anyway. */
  unknownRate?: number;
  /** Share of operations refused with an error that proves they did nothing. */
  failRate?: number;
}

const KINDS: OpKind[] = ['get', 'get', 'get', 'put', 'put', 'cas', 'cas', 'delete'];

export function generateHistory(rng: Rng, options: GenOptions): Operation[] {
  const { clients, keys, opsPerClient, unknownRate = 0, failRate = 0 } = options;
  const timed: { op: Operation; at: number; applies: boolean }[] = [];
  for (let clientId = 0; clientId < clients; clientId++) {
    let now = rng.int(0, 5);
    for (let seq = 0; seq < opsPerClient; seq++) {
      const kind = rng.pick(KINDS);
      const key = `k${rng.int(0, keys - 1)}`;
      const span = rng.int(1, 20);
      const op: Operation = { clientId, key, kind, input: {}, call: now, ret: now + span, status: 'ok' };
      if (kind === 'put' || kind === 'cas') op.input.value = `c${clientId}-${seq}`;
      let applies = true;
      if (rng.chance(unknownRate)) {
        op.status = 'unknown';
        op.ret = undefined;
        applies = rng.chance(0.5);
      } else if (rng.chance(failRate)) {
        op.status = 'fail';
        applies = false;
      }
      timed.push({ op, at: now + rng.next() * span, applies });
      // Integer times, so that one operation often returns at the instant the next one is called.
      now += span + rng.int(0, 3);
    }
  }
  // Play the operations in the order they take effect, against one map of registers.
  const store = new Map<string, string | null>();
  const values = new Map<string, string[]>();
  for (const { op, applies } of timed.sort((a, b) => a.at - b.at)) {
    const current = store.get(op.key) ?? null;
    if (op.kind === 'cas') {
      // The expected value is an input, so it may as well be chosen to make swaps succeed often.
      const seen = values.get(op.key) ?? [];
      op.input.expect = rng.chance(0.6)
        ? current
        : rng.chance(0.3)
          ? null
          : (seen[rng.int(0, seen.length)] ?? 'never');
    }
    const swaps = op.kind !== 'cas' || current === op.input.expect;
    if (op.status === 'ok') op.output = { ok: swaps, ...(op.kind === 'get' ? { value: current } : {}) };
    if (!applies || op.kind === 'get' || !swaps) continue;
    const next = op.input.value ?? null;
    store.set(op.key, next);
    if (next === null) continue;
    const written = values.get(op.key);
    if (written === undefined) values.set(op.key, [next]);
    else written.push(next);
  }
  return timed.map((t) => t.op);
}
