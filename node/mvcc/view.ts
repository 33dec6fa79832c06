// Reading the key space as of a revision: the key index (in memory) says which revision of each
// key is visible, history holds its record. Inside applyBatch the same code sees the write
// transaction's uncommitted state: the index has the batch's changes, and lmdb serves reads in a
// write transaction from it.
import type { Backend } from './backend.js';
import { asBuffer, compareBytes, isFromKey, isSingleKey } from './key-range.js';
import { toKeyValue } from './records.js';
import { revBytes } from './revision.js';
import type { KeyValue } from './types.js';

export interface Scan {
  /** The first `limit` keys in key order. */
  kvs: KeyValue[];
  /** How many keys the range holds at that revision. */
  count: number;
}

export class KeyView {
  constructor(
    readonly db: Backend,
    /** The newest revision this view sees. */
    readonly revision: number,
  ) {}

  /** The key's record at revision `at`, unless the key did not exist then. */
  get(key: Uint8Array, at = this.revision): KeyValue | undefined {
    const c = this.db.index.at(key, at);
    return c && !c.tombstone ? this.record(c.main, c.sub) : undefined;
  }

  /** Every key that exists at revision `at`, with its record, in key order, read one at a time. */
  *all(at = this.revision): Generator<KeyValue> {
    for (const [, c] of this.db.index.changesAt(Buffer.alloc(0), undefined, at)) {
      if (!c.tombstone) yield this.record(c.main, c.sub);
    }
  }

  /** The keys that exist at revision `at` in etcd's range [key, rangeEnd). */
  scan(key: Uint8Array, rangeEnd: Uint8Array | undefined, at = this.revision, limit = Infinity): Scan {
    if (isSingleKey(rangeEnd)) {
      const kv = this.get(key, at);
      return { kvs: kv && limit > 0 ? [kv] : [], count: kv ? 1 : 0 };
    }
    const start = asBuffer(key);
    const end = isFromKey(rangeEnd) ? undefined : asBuffer(rangeEnd!);
    if (end && compareBytes(end, start) <= 0) return { kvs: [], count: 0 };
    const out: Scan = { kvs: [], count: 0 };
    for (const [, c] of this.db.index.changesAt(start, end, at)) {
      if (c.tombstone) continue;
      out.count++;
      if (out.kvs.length < limit) out.kvs.push(this.record(c.main, c.sub));
    }
    return out;
  }

  private record(main: number, sub: number): KeyValue {
    const r = this.db.history.get(revBytes(main, sub));
    if (!r) throw new Error(`mvcc: the key index points at revision ${main}, missing from history`);
    return toKeyValue(main, r);
  }
}
