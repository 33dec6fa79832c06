// Reading the key space as of a revision. Reads at the view's own revision walk `live`; older
// ones seek each key's newest change at or before the revision. Inside applyBatch
// the same code sees the write transaction's uncommitted state, since lmdb serves reads in a
// write transaction from it.
import type { Backend } from './backend.js';
import { asBuffer, compareBytes, isFromKey, isSingleKey } from './key-range.js';
import { toKeyValue } from './records.js';
import { changeBytes, changeRev, readChange, readRev } from './revision.js';
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
    const k = asBuffer(key);
    if (at >= this.revision) {
      const rev = this.db.live.get(k);
      return rev && this.record(rev);
    }
    // The key's newest change at or before `at`: changes sort by revision, and none sorts after
    // (at, the highest sub-revision, tombstone).
    const start = changeBytes(at, 0xffffffff, true);
    for (const c of this.db.changes.getValues(k, { start, reverse: true, limit: 1 })) {
      return readChange(c).tombstone ? undefined : this.record(changeRev(c));
    }
    return undefined;
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
    if (at >= this.revision) {
      const rows = limit === 0 ? [] : this.db.live.getRange({ start, end, limit: finite(limit) });
      return {
        kvs: Array.from(rows, ({ value }) => this.record(value)),
        count: this.db.live.getCount({ start, end }),
      };
    }
    const out: Scan = { kvs: [], count: 0 };
    for (const k of this.db.changes.getKeys({ start, end })) {
      const kv = this.get(k, at);
      if (!kv) continue;
      out.count++;
      if (out.kvs.length < limit) out.kvs.push(kv);
    }
    return out;
  }

  private record(rev: Buffer): KeyValue {
    const r = this.db.history.get(rev);
    if (!r)
      throw new Error(`mvcc: the key index points at revision ${readRev(rev).main}, missing from history`);
    return toKeyValue(readRev(rev).main, r);
  }
}

function finite(limit: number): number | undefined {
  return limit === Infinity ? undefined : limit;
}
