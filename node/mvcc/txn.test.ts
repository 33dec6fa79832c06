// Txn against etcd's semantics: compares on every target and result, one revision per txn,
// reads that see the txn's earlier writes, nested txns, and the checks that refuse a whole txn.
import { Harness, b, str } from './test-harness.js';
import { checkTxnOps } from './txn-check.js';
import { MvccError } from './types.js';
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  RequestOp,
  TxnRequest,
  TxnResponse,
} from './types.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.close());

const putOp = (k: string, v: string): RequestOp => ({ request_put: { key: b(k), value: b(v) } });
const txn = (req: TxnRequest) => h.ok<TxnResponse>({ txn: req });
const holds = (...compare: Compare[]) => txn({ compare }).succeeded;

test('each target and result, against key a (value "m", create 2, mod 3, version 2, lease 5)', () => {
  h.grant(5);
  h.put('a', 'x', { lease: 5 }); // 2
  h.put('a', 'm', { lease: 5 }); // 3
  const cases: Array<[CompareTarget, Partial<Compare>, Partial<Compare>, Partial<Compare>]> = [
    // target, operand equal to a's, a smaller operand, a greater operand
    ['VALUE', { value: b('m') }, { value: b('a') }, { value: b('z') }],
    ['VERSION', { version: 2 }, { version: 1 }, { version: 3 }],
    ['CREATE', { create_revision: 2 }, { create_revision: 1 }, { create_revision: 3 }],
    ['MOD', { mod_revision: 3 }, { mod_revision: 2 }, { mod_revision: 4 }],
    ['LEASE', { lease: 5 }, { lease: 4 }, { lease: 6 }],
  ];
  for (const [target, equal, smaller, greater] of cases) {
    const c = (result: CompareResult, operand: Partial<Compare>): Compare => ({
      key: b('a'),
      target,
      result,
      ...operand,
    });
    const outcomes = [
      holds(c('EQUAL', equal)),
      holds(c('EQUAL', smaller)),
      holds(c('NOT_EQUAL', smaller)),
      holds(c('NOT_EQUAL', equal)),
      holds(c('GREATER', smaller)),
      holds(c('GREATER', equal)),
      holds(c('LESS', greater)),
      holds(c('LESS', equal)),
    ];
    expect({ target, outcomes }).toEqual({
      target,
      outcomes: [true, false, true, false, true, false, true, false],
    });
  }
});

test('a missing key compares as zeros, but a VALUE compare on it always fails', () => {
  expect(holds({ key: b('nope'), target: 'CREATE', result: 'EQUAL', create_revision: 0 })).toBe(true);
  expect(holds({ key: b('nope'), target: 'VERSION', result: 'EQUAL', version: 0 })).toBe(true);
  expect(holds({ key: b('nope'), target: 'MOD', result: 'LESS', mod_revision: 1 })).toBe(true);
  expect(holds({ key: b('nope'), target: 'VALUE', result: 'EQUAL', value: new Uint8Array(0) })).toBe(false);
  expect(holds({ key: b('nope'), target: 'VALUE', result: 'NOT_EQUAL', value: b('x') })).toBe(false);
});

test('a compare with range_end must hold for every key in the range', () => {
  h.put('k1', 'a');
  h.put('k2', 'b');
  const prefix = { key: b('k'), range_end: b('l') };
  expect(holds({ ...prefix, target: 'VERSION', result: 'EQUAL', version: 1 })).toBe(true);
  expect(holds({ ...prefix, target: 'VALUE', result: 'EQUAL', value: b('a') })).toBe(false);
  expect(holds({ ...prefix, target: 'MOD', result: 'GREATER', mod_revision: 2 })).toBe(false);
  expect(
    holds({ key: b('x'), range_end: b('y'), target: 'CREATE', result: 'EQUAL', create_revision: 0 }),
  ).toBe(true);
});

test('no compares succeed; the chosen branch runs; the others do not', () => {
  expect(txn({ success: [putOp('s', '1')], failure: [putOp('f', '1')] }).succeeded).toBe(true);
  const res = txn({
    compare: [{ key: b('s'), target: 'VALUE', result: 'EQUAL', value: b('2') }],
    success: [putOp('s', '2')],
    failure: [putOp('f', '1')],
  });
  expect(res.succeeded).toBe(false);
  expect([str(h.get('s')!.value), str(h.get('f')!.value)]).toEqual(['1', '1']);
});

test('a txn is one revision whatever it writes; reads inside it see its earlier writes', () => {
  h.put('a', '1'); // 2
  h.put('gone', 'x'); // 3
  const res = txn({
    success: [
      { request_range: { key: b('a') } },
      putOp('a', '2'),
      putOp('b', '1'),
      { request_delete_range: { key: b('gone'), prev_kv: true } },
      { request_range: { key: b('a'), range_end: b('z') } },
    ],
  });
  expect(res.header.revision).toBe(4);
  expect(h.store.currentRevision()).toBe(4);
  const [before, put, , del, after] = res.responses;
  expect(str((before as { response_range: RangeResponse }).response_range.kvs[0]!.value)).toBe('1');
  expect((put as { response_put: PutResponse }).response_put.header.revision).toBe(4);
  expect((del as { response_delete_range: DeleteRangeResponse }).response_delete_range.deleted).toBe(1);
  const seen = (after as { response_range: RangeResponse }).response_range.kvs;
  expect(seen.map((kv) => `${str(kv.key)}=${str(kv.value)}@${kv.mod_revision}`)).toEqual(['a=2@4', 'b=1@4']);
  expect([h.get('a')!.mod_revision, h.get('b')!.mod_revision, h.get('b')!.create_revision]).toEqual([
    4, 4, 4,
  ]);
});

test('a txn that only reads, or whose branch is empty, keeps the revision', () => {
  h.put('a', '1');
  expect(txn({ success: [{ request_range: { key: b('a') } }] }).header.revision).toBe(2);
  expect(
    txn({ compare: [{ key: b('a'), target: 'VERSION', result: 'EQUAL', version: 9 }] }).header.revision,
  ).toBe(2);
  expect(h.store.currentRevision()).toBe(2);
});

test('nested txns: compares all see the state before the outer txn', () => {
  h.put('a', '1');
  const res = txn({
    success: [
      putOp('a', '2'),
      {
        request_txn: {
          // Sees a=1 although the outer txn has just put a=2 (etcd decides every branch up front).
          compare: [{ key: b('a'), target: 'VALUE', result: 'EQUAL', value: b('1') }],
          success: [putOp('inner', 'then')],
          failure: [putOp('inner', 'else')],
        },
      },
    ],
  });
  const inner = (res.responses[1] as { response_txn: TxnResponse }).response_txn;
  expect([inner.succeeded, inner.header.revision]).toEqual([true, 3]);
  expect(str(h.get('inner')!.value)).toBe('then');
  expect(h.get('inner')!.mod_revision).toBe(3);
});

test('two writes to one key in one pass are refused as duplicate keys', () => {
  const duplicate = (req: TxnRequest) => h.fails({ txn: req }).message;
  const msg = 'etcdserver: duplicate key given in txn request';
  expect(duplicate({ success: [putOp('a', '1'), putOp('a', '2')] })).toBe(msg);
  expect(duplicate({ failure: [putOp('a', '1'), putOp('a', '2')] })).toBe(msg);
  expect(
    duplicate({ success: [{ request_delete_range: { key: b('a'), range_end: b('c') } }, putOp('b', '1')] }),
  ).toBe(msg);
  expect(
    duplicate({
      success: [{ request_delete_range: { key: b('a'), range_end: new Uint8Array([0]) } }, putOp('z', '1')],
    }),
  ).toBe(msg);
  expect(duplicate({ success: [putOp('a', '1'), { request_txn: { success: [putOp('a', '2')] } }] })).toBe(
    msg,
  );
  expect(
    duplicate({
      success: [{ request_delete_range: { key: b('a') } }, { request_txn: { failure: [putOp('a', '2')] } }],
    }),
  ).toBe(msg);
  // Allowed: the two branches of a nested txn, puts beside a disjoint delete, two deletes.
  txn({ success: [{ request_txn: { success: [putOp('a', '1')], failure: [putOp('a', '2')] } }] });
  txn({ success: [{ request_delete_range: { key: b('a'), range_end: b('c') } }, putOp('c', '1')] });
  h.put('a', '3');
  txn({
    success: [
      { request_delete_range: { key: b('a') } },
      { request_delete_range: { key: b('a'), range_end: b('b') } },
    ],
  });
  expect([h.get('a'), h.store.currentRevision()]).toEqual([undefined, 5]);
});

test('--max-txn-ops: more compares, success or failure ops than the budget are refused; a nested txn spends what its parent left', () => {
  const puts = (n: number) => Array.from({ length: n }, (_, i) => putOp(`k${i}`, 'v'));
  expect(() => checkTxnOps({ success: puts(129) }, 128)).toThrow(
    'etcdserver: too many operations in txn request',
  );
  expect(() => checkTxnOps({ success: puts(128) }, 128)).not.toThrow();
  expect(() => checkTxnOps({ failure: puts(4) }, 3)).toThrow(MvccError);
  const compares: Compare[] = Array.from({ length: 4 }, () => ({
    key: b('a'),
    target: 'VERSION',
    result: 'EQUAL',
  }));
  expect(() => checkTxnOps({ compare: compares }, 3)).toThrow(MvccError);
  // The outer txn's 3 ops leave 4 - 3 = 1 for the nested txn's 2; 5 - 3 = 2 are enough.
  const nested = { success: [putOp('x', '1'), putOp('y', '1'), { request_txn: { success: puts(2) } }] };
  expect(() => checkTxnOps(nested, 4)).toThrow(MvccError);
  expect(() => checkTxnOps(nested, 5)).not.toThrow();
});

test('the budget is left to the member a client calls (members may differ): the store applies a txn of 200 ops', () => {
  txn({ success: Array.from({ length: 200 }, (_, i) => putOp(`k${i}`, 'v')) });
  expect([str(h.get('k0')!.value), str(h.get('k199')!.value)]).toEqual(['v', 'v']);
});

test('a refused txn writes nothing: ignore_value on a missing key, a range at a future revision', () => {
  h.put('a', '1');
  const missing = h.fails({
    txn: { success: [putOp('b', '1'), { request_put: { key: b('nope'), ignore_value: true } }] },
  });
  expect(missing.code).toBe('keyNotFound');
  const future = h.fails({
    txn: { success: [putOp('b', '1'), { request_range: { key: b('a'), revision: 3 } }] },
  });
  expect(future.code).toBe('futureRev');
  expect(h.get('b')).toBeUndefined();
  expect(h.store.currentRevision()).toBe(2);
  // Checks follow the branch that runs: the failure branch's bad put does not matter here.
  txn({ success: [putOp('b', '1')], failure: [{ request_put: { key: b('nope'), ignore_value: true } }] });
  expect(h.store.currentRevision()).toBe(3);
});

test('a range inside a txn at a compacted revision is refused', () => {
  h.put('a', '1');
  h.put('a', '2');
  h.ok({ compaction: { revision: 3 } });
  expect(h.fails({ txn: { success: [{ request_range: { key: b('a'), revision: 2 } }] } }).code).toBe(
    'compacted',
  );
});
