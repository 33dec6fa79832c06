// Linearizability of a whole history: keys are independent registers, and linearizability is
// compositional (Herlihy & Wing), so each key is checked on its own. A key the search cannot
// decide before the deadline is 'unknown' — never 'ok'.
import { describeOp, type Operation } from './history.js';
import { registerModel, type Model } from './model.js';
import { search, type Checkable } from './search.js';

export type Verdict = 'ok' | 'illegal' | 'unknown';

export interface CheckOptions {
  /**
   * Budget for the whole history, in milliseconds. Keys still unchecked when it has passed get
   * a brief look each (up to a thousand search steps), so small violations are still found.
   */
  deadlineMs: number;
  /** The sequential specification of one key; a get/put/delete/cas register by default. */
  model?: Model<unknown>;
}

export interface Counterexample {
  key: string;
  /** Every operation on the key that took part in the check. */
  ops: Checkable[];
  /** The longest sequence of them that could be linearized, ... */
  linearized: Checkable[];
  /** ...the state it leaves the key in... */
  state: string;
  /** ...and the operations that could go next, none of which leads to a linearization. */
  next: Checkable[];
}

export interface CheckResult {
  result: Verdict;
  perKey: Map<string, { result: Verdict; ops: number; ms: number }>;
  counterexample?: Counterexample;
}

export function checkLinearizable(history: readonly Operation[], options: CheckOptions): CheckResult {
  const model = options.model ?? registerModel;
  const deadline = performance.now() + options.deadlineMs;
  const perKey: CheckResult['perKey'] = new Map();
  let counterexample: Counterexample | undefined;
  for (const [key, ops] of partition(history)) {
    const start = performance.now();
    const outcome = search(model.prepare?.(ops) ?? ops, model, deadline);
    perKey.set(key, { result: outcome.result, ops: ops.length, ms: performance.now() - start });
    if (outcome.result === 'illegal' && counterexample === undefined) {
      // Reported with the operations as recorded, not as prepared for the search.
      const linearized = outcome.linearized.map((i) => ops[i]!);
      let state = model.init();
      for (const op of linearized) state = model.step(state, op);
      counterexample = {
        key,
        ops,
        linearized,
        state: model.describe(state),
        next: outcome.next.map((i) => ops[i]!),
      };
    }
  }
  const verdicts = [...perKey.values()].map((k) => k.result);
  const result = verdicts.includes('illegal') ? 'illegal' : verdicts.includes('unknown') ? 'unknown' : 'ok';
  return counterexample === undefined ? { result, perKey } : { result, perKey, counterexample };
}

/** Operations grouped by key, normalized for the search; definite failures are left out. */
function partition(history: readonly Operation[]): Map<string, Checkable[]> {
  const byKey = new Map<string, Checkable[]>();
  for (const op of history) {
    const checkable = normalize(op);
    if (checkable === undefined) continue;
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push(checkable);
  }
  return byKey;
}

function normalize(op: Operation): Checkable | undefined {
  const fault = (why: string): Error => new Error(`malformed operation ${describeOp(op)}: ${why}`);
  if ((op.kind === 'put' || op.kind === 'cas') && op.input.value === undefined) throw fault('no value');
  if (op.kind === 'cas' && op.input.expect === undefined) throw fault('cas without expect');
  if (op.status === 'fail') return undefined;
  if (op.status === 'unknown' || op.ret === undefined || op.ret === Infinity) {
    // An unanswered read changes nothing and constrains nothing.
    if (op.kind === 'get') return undefined;
    return { ...op, status: 'unknown', ret: Infinity };
  }
  if (op.ret < op.call) throw fault('returns before its call');
  if (op.output === undefined) throw fault('ok without an output');
  if (op.kind === 'get' && op.output.value === undefined) throw fault('get without a value');
  return { ...op, status: 'ok', ret: op.ret };
}

/** A readable account of why a key is not linearizable: the end of the best prefix, and what is stuck. */
export function formatCounterexample(c: Counterexample, tail = 10): string {
  const shown = c.linearized.slice(-tail);
  const skipped = c.linearized.length - shown.length;
  return [
    `key ${c.key}: not linearizable (${c.ops.length} operations)`,
    `  longest linearizable prefix (${c.linearized.length} operations${skipped > 0 ? `, last ${tail} shown` : ''}):`,
    ...shown.map((op) => `    ${describeOp(op)}`),
    `  leaves the key ${c.state}; none of these can come next:`,
    ...c.next.map((op) => `    ${describeOp(op)}`),
  ].join('\n');
}
