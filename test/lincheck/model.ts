// The sequential specification one key must obey. The checker is generic over it; the default is
// a register with get/put/delete/cas, which is what one etcd key is.
import type { Operation } from './history.js';

export interface Model<S> {
  init(): S;
  /**
   * The state after `op`, or undefined if `op` cannot happen in `state`. Operations reach here
   * with status 'ok' (the output must match) or 'unknown' (any output is fine). It may depend
   * only on the operation's kind, input, status and output: the search takes unknown operations
   * of equal kind and input to be interchangeable.
   */
  step(state: S, op: Operation): S | undefined;
  equal(a: S, b: S): boolean;
  describe(state: S): string;
  /** Optionally rewrites one key's operations (same order) into an equivalent history that is cheaper to search. */
  prepare?<T extends Operation>(ops: readonly T[]): T[];
}

/** The key's value; null when absent. */
export type Register = string | null;

export const registerModel: Model<Register> = {
  init: () => null,
  step(state, op) {
    const known = op.status === 'ok';
    switch (op.kind) {
      case 'get':
        return !known || op.output?.value === state ? state : undefined;
      case 'put':
        return op.input.value ?? null;
      case 'delete':
        return null;
      case 'cas': {
        // Deterministic even when unanswered: a cas applies exactly when its comparison holds.
        const applies = state === op.input.expect;
        if (known && op.output?.ok !== applies) return undefined;
        return applies ? (op.input.value ?? null) : state;
      }
    }
  },
  equal: (a, b) => a === b,
  describe: (state) => (state === null ? 'absent' : `'${state}'`),
  prepare(ops) {
    // A value that no read returns and no cas compares against behaves like any other such
    // value, so they all become one placeholder and the cache merges states that held them.
    const observed = new Set<string>();
    for (const op of ops) {
      if (op.kind === 'get' && typeof op.output?.value === 'string') observed.add(op.output.value);
      if (op.kind === 'cas' && typeof op.input.expect === 'string') observed.add(op.input.expect);
    }
    let placeholder = 'unobserved';
    while (observed.has(placeholder)) placeholder += "'";
    return ops.map((op) =>
      op.input.value === undefined || observed.has(op.input.value)
        ? op
        : { ...op, input: { ...op.input, value: placeholder } },
    );
  },
};
