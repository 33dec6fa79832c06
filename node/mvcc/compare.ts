// etcd's txn compares: every key in the compare's range must satisfy it. A missing key compares as
// a key-value of zeros, except that a VALUE compare on missing keys always fails (as in etcd: an
// empty value and no value cannot be told apart).
import { compareBytes } from './key-range.js';
import type { KeyView } from './view.js';
import type { Compare, KeyValue } from './types.js';

const ZERO: KeyValue = {
  key: new Uint8Array(0),
  value: new Uint8Array(0),
  create_revision: 0,
  mod_revision: 0,
  version: 0,
  lease: 0,
};

export function compare(view: KeyView, c: Compare): boolean {
  const { kvs } = view.scan(c.key, c.range_end);
  if (kvs.length === 0) return c.target !== 'VALUE' && holds(c, ZERO);
  return kvs.every((kv) => holds(c, kv));
}

function holds(c: Compare, kv: KeyValue): boolean {
  const cmp = order(c, kv);
  switch (c.result) {
    case 'EQUAL':
      return cmp === 0;
    case 'NOT_EQUAL':
      return cmp !== 0;
    case 'GREATER':
      return cmp > 0;
    case 'LESS':
      return cmp < 0;
  }
}

/** The key-value's target field against the compare's operand. */
function order(c: Compare, kv: KeyValue): number {
  switch (c.target) {
    case 'VALUE':
      return compareBytes(kv.value, c.value ?? ZERO.value);
    case 'VERSION':
      return Math.sign(kv.version - (c.version ?? 0));
    case 'CREATE':
      return Math.sign(kv.create_revision - (c.create_revision ?? 0));
    case 'MOD':
      return Math.sign(kv.mod_revision - (c.mod_revision ?? 0));
    case 'LEASE':
      return Math.sign(kv.lease - (c.lease ?? 0));
  }
}
