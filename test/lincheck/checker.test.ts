// Hand-made histories with known verdicts. Spans are [client, call, return].
import { checkLinearizable, formatCounterexample } from './checker.js';
import type { Operation } from './history.js';
import { registerModel, type Model, type Register } from './model.js';
import { cas, del, failed, get, put, unanswered } from './ops.js';

const verdict = (history: Operation[]) => checkLinearizable(history, { deadlineMs: 5_000 }).result;

describe('linearizable histories', () => {
  test('a sequential history', () => {
    expect(
      verdict([
        get([1, 0, 1], null),
        put([1, 2, 3], 'a'),
        get([2, 4, 5], 'a'),
        put([2, 6, 7], 'b'),
        get([1, 8, 9], 'b'),
        del([1, 10, 11]),
        get([2, 12, 13], null),
      ]),
    ).toBe('ok');
  });

  test('overlapping writes may take effect in either order, whatever their calls', () => {
    const writes = [put([1, 0, 10], 'a'), put([2, 1, 11], 'b')];
    expect(verdict([...writes, get([3, 12, 13], 'a'), get([3, 14, 15], 'a')])).toBe('ok');
    expect(verdict([...writes, get([3, 12, 13], 'b'), get([3, 14, 15], 'b')])).toBe('ok');
    // Reads during the writes see one order as it happens: b, then a on top of it.
    expect(verdict([...writes, get([3, 2, 3], 'b'), get([4, 4, 5], 'a'), get([3, 12, 13], 'a')])).toBe('ok');
  });

  test('a read concurrent with a write may see the old or the new value', () => {
    const write = put([1, 2, 8], 'b');
    expect(verdict([put([1, 0, 1], 'a'), write, get([2, 3, 4], 'a'), get([2, 5, 6], 'b')])).toBe('ok');
    expect(verdict([put([1, 0, 1], 'a'), write, get([2, 3, 4], 'b'), get([2, 9, 10], 'b')])).toBe('ok');
  });

  test('operations that touch at one instant count as concurrent', () => {
    expect(verdict([put([1, 0, 5], 'a'), get([2, 5, 6], null)])).toBe('ok');
  });

  test('an unanswered write may take effect late, long after its call', () => {
    const history = [put([1, 0, 1], 'a'), unanswered(put([2, 2, 3], 'b'))];
    expect(verdict([...history, get([1, 10, 11], 'a'), get([1, 20, 21], 'b'), get([3, 30, 31], 'b')])).toBe(
      'ok',
    );
  });

  test('an unanswered write may never take effect', () => {
    expect(verdict([put([1, 0, 1], 'a'), unanswered(put([2, 2, 3], 'b')), get([1, 10, 11], 'a')])).toBe('ok');
  });

  test('unanswered reads constrain nothing', () => {
    expect(verdict([put([1, 0, 1], 'a'), unanswered(get([2, 2, 3], 'zzz')), get([1, 4, 5], 'a')])).toBe('ok');
  });

  test('keys are independent registers', () => {
    const result = checkLinearizable(
      [
        put([1, 0, 1], 'a', 'x'),
        put([1, 2, 3], 'b', 'y'),
        get([2, 4, 5], 'a', 'x'),
        get([2, 6, 7], 'b', 'y'),
      ],
      { deadlineMs: 5_000 },
    );
    expect(result.result).toBe('ok');
    expect([...result.perKey].map(([key, k]) => [key, k.result, k.ops])).toEqual([
      ['x', 'ok', 2],
      ['y', 'ok', 2],
    ]);
    expect(result.counterexample).toBeUndefined();
  });

  test('an empty history is linearizable', () => {
    expect(verdict([])).toBe('ok');
  });
});

describe('histories that are not linearizable', () => {
  test('a stale read after a completed write', () => {
    expect(verdict([put([1, 0, 1], 'a'), put([1, 2, 3], 'b'), get([2, 4, 5], 'a')])).toBe('illegal');
  });

  test('a lost write: acknowledged, then a later read sees the older value', () => {
    const history = [put([1, 0, 1], 'a'), put([2, 2, 6], 'b'), get([3, 3, 4], 'a'), get([3, 7, 8], 'a')];
    expect(verdict(history)).toBe('illegal');
  });

  test('reads of a value only a failed or aborted operation wrote', () => {
    // The cas compared against something else, so it reported failure and wrote nothing.
    expect(verdict([put([1, 0, 1], 'a'), cas([1, 2, 3], 'z', 'b', false), get([2, 4, 5], 'b')])).toBe(
      'illegal',
    );
    // An error that proves the operation did not happen.
    expect(verdict([put([1, 0, 1], 'a'), failed(cas([1, 2, 3], 'a', 'b', true)), get([2, 4, 5], 'b')])).toBe(
      'illegal',
    );
    expect(verdict([put([1, 0, 1], 'a'), failed(put([1, 2, 3], 'b')), get([2, 4, 5], 'b')])).toBe('illegal');
  });

  test('a read of a value never written', () => {
    expect(verdict([put([1, 0, 1], 'a'), get([2, 2, 3], 'ghost')])).toBe('illegal');
  });

  test('two sequential reads going backwards', () => {
    const history = [put([1, 0, 1], 'a'), put([1, 2, 10], 'b'), get([2, 3, 4], 'b'), get([2, 5, 6], 'a')];
    expect(verdict(history)).toBe('illegal');
  });

  test('a read of a write that was not yet called', () => {
    expect(verdict([get([2, 0, 1], 'b'), unanswered(put([1, 2, 3], 'b'))])).toBe('illegal');
  });

  test('an unanswered write takes effect once: its value cannot vanish and come back', () => {
    const history = [put([1, 0, 1], 'a'), unanswered(put([2, 2, 3], 'b'))];
    expect(verdict([...history, get([1, 10, 11], 'b'), get([1, 12, 13], 'a')])).toBe('illegal');
  });

  test('reads after a delete see the key absent', () => {
    expect(verdict([put([1, 0, 1], 'a'), del([1, 2, 3]), get([2, 4, 5], 'a')])).toBe('illegal');
  });

  test('the counterexample names the key, how far it got and what is stuck', () => {
    // The last read would be fine; the one before it is stuck.
    const y = [
      put([1, 0, 1], 'a', 'y'),
      put([1, 2, 3], 'b', 'y'),
      get([2, 4, 5], 'a', 'y'),
      get([2, 6, 7], 'b', 'y'),
    ];
    const result = checkLinearizable([...y, get([3, 0, 9], null)], { deadlineMs: 5_000 });
    expect(result.result).toBe('illegal');
    expect(result.perKey.get('x')?.result).toBe('ok');
    const c = result.counterexample!;
    expect(c.key).toBe('y');
    expect(c.linearized.map((op) => op.input.value)).toEqual(['a', 'b']);
    expect(c.state).toBe("'b'");
    expect(c.next).toEqual([expect.objectContaining({ clientId: 2, kind: 'get', call: 4 })]);
    expect(formatCounterexample(c)).toBe(
      [
        'key y: not linearizable (4 operations)',
        '  longest linearizable prefix (2 operations):',
        "    c1 put(y, 'a') [0, 1] = ok",
        "    c1 put(y, 'b') [2, 3] = ok",
        "  leaves the key 'b'; none of these can come next:",
        "    c2 get(y) [4, 5] = 'a'",
      ].join('\n'),
    );
  });
  test('the counterexample shows values as recorded, even ones no read returned', () => {
    const c = checkLinearizable([put([1, 0, 1], 'a'), put([1, 2, 3], 'unread'), get([2, 4, 5], 'a')], {
      deadlineMs: 5_000,
    }).counterexample!;
    expect(c.linearized.map((op) => op.input.value)).toEqual(['a', 'unread']);
    expect(c.state).toBe("'unread'");
  });
});

describe('compare-and-swap', () => {
  test('succeeds exactly when the value matches; null expects the key absent', () => {
    expect(
      verdict([cas([1, 0, 1], null, 'a', true), cas([1, 2, 3], 'a', 'b', true), get([2, 4, 5], 'b')]),
    ).toBe('ok');
    expect(verdict([put([1, 0, 1], 'a'), cas([1, 2, 3], null, 'b', true)])).toBe('illegal');
    expect(verdict([put([1, 0, 1], 'a'), cas([1, 2, 3], 'a', 'b', false)])).toBe('illegal');
    expect(verdict([cas([1, 0, 1], 'a', 'b', true)])).toBe('illegal');
    expect(verdict([del([1, 0, 1]), cas([1, 2, 3], null, 'a', true)])).toBe('ok');
  });

  test('of two concurrent swaps from the same value, only one can win', () => {
    const start = put([1, 0, 1], 'a');
    expect(verdict([start, cas([2, 2, 5], 'a', 'b', true), cas([3, 3, 6], 'a', 'c', true)])).toBe('illegal');
    expect(
      verdict([start, cas([2, 2, 5], 'a', 'b', true), cas([3, 3, 6], 'a', 'c', false), get([1, 7, 8], 'b')]),
    ).toBe('ok');
    // A chain is fine in either order of calls: c's swap from b may go after b's.
    expect(
      verdict([start, cas([2, 2, 5], 'b', 'c', true), cas([3, 3, 6], 'a', 'b', true), get([1, 7, 8], 'c')]),
    ).toBe('ok');
  });

  test('an unanswered cas applies exactly when its comparison holds', () => {
    const history = [put([1, 0, 1], 'a'), unanswered(cas([2, 2, 3], 'a', 'b', true))];
    expect(verdict([...history, get([1, 10, 11], 'b')])).toBe('ok');
    expect(verdict([...history, get([1, 10, 11], 'a')])).toBe('ok');
    expect(
      verdict([put([1, 0, 1], 'z'), unanswered(cas([2, 2, 3], 'a', 'b', true)), get([1, 10, 11], 'b')]),
    ).toBe('illegal');
  });
});

describe('malformed records are refused rather than guessed at', () => {
  test.each([
    ['a put without a value', { ...put([1, 0, 1], 'a'), input: {} }],
    ['a cas without expect', { ...cas([1, 0, 1], null, 'a', true), input: { value: 'a' } }],
    ['a return before the call', put([1, 5, 4], 'a')],
    ['an answered get without a value', { ...get([1, 0, 1], 'a'), output: { ok: true } }],
  ])('%s', (_, op) => {
    expect(() => verdict([op])).toThrow(/malformed operation/);
  });
});

test('another sequential specification can be plugged in', () => {
  // A write-once register: a put over an existing value is impossible.
  const writeOnce: Model<Register> = {
    ...registerModel,
    step: (state, op) => (op.kind === 'put' && state !== null ? undefined : registerModel.step(state, op)),
  };
  const history = [put([1, 0, 1], 'a'), put([1, 2, 3], 'b'), get([2, 4, 5], 'b')];
  expect(verdict(history)).toBe('ok');
  expect(checkLinearizable(history, { deadlineMs: 5_000, model: writeOnce }).result).toBe('illegal');
});

describe('the deadline', () => {
  // n concurrent writes, then two reads that disagree with every order of them: refuting it
  // means trying every subset of the writes, 2^n configurations.
  const pathological = (n: number): Operation[] => [
    ...Array.from({ length: n }, (_, i) => put([i, 0, 10], `v${i}`)),
    get([n, 11, 12], 'v0'),
    get([n, 13, 14], 'v1'),
  ];

  test('a history the search can refute in time is illegal', () => {
    expect(verdict(pathological(10))).toBe('illegal');
  });

  test('a history it cannot decide in time is unknown, never ok', () => {
    const result = checkLinearizable(pathological(40), { deadlineMs: 5 });
    expect(result.result).toBe('unknown');
    expect(result.perKey.get('x')).toEqual({ result: 'unknown', ops: 42, ms: expect.any(Number) });
  });

  test('an undecided key does not hide an illegal one, even one checked after the deadline', () => {
    const illegal = [put([1, 0, 1], 'a', 'y'), get([2, 2, 3], 'ghost', 'y')];
    const result = checkLinearizable([...pathological(40), ...illegal], { deadlineMs: 5 });
    expect(result.result).toBe('illegal');
    expect([...result.perKey].map(([key, k]) => [key, k.result])).toEqual([
      ['x', 'unknown'],
      ['y', 'illegal'],
    ]);
  });
});
