// Randomized checks: histories from a simulated linearizable store must pass, one corrupted read
// must fail, and on tiny random histories the search must agree with brute-force enumeration.
// Every case names its seed; LINCHECK_FIRST_SEED shifts the seeds to explore new ones.
import { Rng } from '../sim/rng.js';
import { checkLinearizable } from './checker.js';
import { generateHistory } from './gen.js';
import type { Operation } from './history.js';
import { registerModel, type Register } from './model.js';

const firstSeed = Number(process.env.LINCHECK_FIRST_SEED ?? 1);
const seeds = (count: number): number[] => Array.from({ length: count }, (_, i) => firstSeed + i);

const smallHistory = (rng: Rng): Operation[] =>
  generateHistory(rng, {
    clients: rng.int(2, 6),
    keys: rng.int(1, 3),
    opsPerClient: rng.int(5, 40),
    unknownRate: 0.1,
    failRate: 0.05,
  });

test('histories of a linearizable store are linearizable', () => {
  for (const seed of seeds(300)) {
    const result = checkLinearizable(smallHistory(new Rng(seed)), { deadlineMs: 5_000 }).result;
    expect({ seed, result }).toEqual({ seed, result: 'ok' });
  }
});

test('corrupting one read makes them illegal', () => {
  for (const seed of seeds(300)) {
    const rng = new Rng(seed);
    const history = smallHistory(rng);
    const reads = history.filter((op) => op.kind === 'get' && op.status === 'ok' && op.ret !== undefined);
    if (reads.length === 0) continue;
    const read = rng.pick(reads);
    // A value first written after the read returned, or else one never written at all.
    const later = history.find(
      (op) =>
        op.key === read.key &&
        op.status === 'ok' &&
        op.output?.ok === true &&
        op.call > read.ret! &&
        op.input.value,
    );
    read.output = { ok: true, value: later?.input.value ?? 'never written' };
    const result = checkLinearizable(history, { deadlineMs: 5_000 });
    expect({ seed, result: result.result, key: result.counterexample?.key }).toEqual({
      seed,
      result: 'illegal',
      key: read.key,
    });
  }
});

test('on tiny random histories the search agrees with brute force', () => {
  const tally = { ok: 0, illegal: 0 };
  for (const seed of seeds(5_000)) {
    const history = tinyRandomHistory(new Rng(seed));
    const expected = bruteForce(history) ? 'ok' : 'illegal';
    const result = checkLinearizable(history, { deadlineMs: 5_000 }).result;
    expect({ seed, result }).toEqual({ seed, result: expected });
    tally[expected]++;
  }
  // Both verdicts must be well represented, or the agreement says little.
  expect(tally.ok).toBeGreaterThan(500);
  expect(tally.illegal).toBeGreaterThan(500);
});

test('10 keys × 2,000 operations from 8 clients are checked well within a second each', () => {
  const history = generateHistory(new Rng(firstSeed), {
    clients: 8,
    keys: 10,
    opsPerClient: 2_500,
    unknownRate: 0.02,
  });
  const result = checkLinearizable(history, { deadlineMs: 10_000 });
  expect(result.result).toBe('ok');
  expect(result.perKey.size).toBe(10);
  for (const { ms } of result.perKey.values()) expect(ms).toBeLessThan(1_000);
});

/**
 * Few operations on one key with arbitrary outputs, so that about half are illegal. Writes use
 * one more value than reads return, and up to half the operations go unanswered, to exercise
 * the search's shortcuts for unread values and unknown operations.
 */
function tinyRandomHistory(rng: Rng): Operation[] {
  const unknownShare = rng.next() * 0.5;
  const history: Operation[] = [];
  for (let clientId = 0; clientId < 3; clientId++) {
    let now = rng.int(0, 3);
    for (let i = rng.int(0, 3); i > 0; i--) {
      const span = rng.int(0, 4);
      const op: Operation = {
        clientId,
        key: 'x',
        kind: rng.pick(['get', 'get', 'put', 'delete', 'cas'] as const),
        input: {},
        call: now,
        ret: now + span,
        status: rng.chance(unknownShare) ? 'unknown' : rng.chance(0.1) ? 'fail' : 'ok',
        output: { ok: rng.chance(0.5), value: rng.pick([null, 'a', 'b']) },
      };
      if (op.kind === 'put' || op.kind === 'cas') op.input.value = rng.pick(['a', 'b', 'c']);
      if (op.kind === 'cas') op.input.expect = rng.pick([null, 'a', 'b']);
      history.push(op);
      now += span + rng.int(0, 2);
    }
  }
  return history;
}

/**
 * Linearizable iff some order of the answered operations, plus any unanswered writes, respects
 * real time and the register. Tried exhaustively, independently of the search's pruning.
 */
function bruteForce(history: Operation[]): boolean {
  const ops = history
    .filter((op) => op.status !== 'fail' && !(op.status === 'unknown' && op.kind === 'get'))
    .map((op) => (op.status === 'unknown' ? { ...op, ret: Infinity } : op));
  const placed = new Set<Operation>();
  const extend = (state: Register): boolean => {
    if (ops.every((op) => op.status === 'unknown' || placed.has(op))) return true;
    return ops.some((op) => {
      if (placed.has(op) || ops.some((o) => !placed.has(o) && o.ret! < op.call)) return false;
      const after = registerModel.step(state, op);
      if (after === undefined) return false;
      placed.add(op);
      const found = extend(after);
      placed.delete(op);
      return found;
    });
  };
  return extend(registerModel.init());
}
