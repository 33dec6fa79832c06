// Watch history: every change from a revision on, in revision order, each with the key's previous
// version (what etcd sends as prev_kv).
import type { Backend, Meta } from './backend.js';
import { inRange } from './key-range.js';
import { isTombstone, toKeyValue } from './records.js';
import { readRev, revBytes, type Revision } from './revision.js';
import { ERR, type Event, type KeyValue } from './types.js';

/**
 * Events need every change from `from` on. Compaction at C keeps each key's change at C (unless a
 * deletion), so as with etcd a watch may start at C itself, and only below C is refused.
 */
export function eventsSince(
  db: Backend,
  meta: Meta,
  from: number,
  key: Uint8Array,
  rangeEnd?: Uint8Array,
): Event[] {
  if (from < meta.compacted) throw ERR.compacted();
  const out: Event[] = [];
  // key (latin1) → its version as of the last event seen, undefined once deleted
  const latest = new Map<string, KeyValue | undefined>();
  // Only up to `meta`: rows of a commit this thread has not yet seen complete are published after it.
  const end = revBytes(meta.revision + 1);
  for (const { key: rev, value: r } of db.history.getRange({ start: revBytes(from), end })) {
    if (!inRange(r[0], key, rangeEnd)) continue;
    const k = r[0].toString('latin1');
    const at = readRev(rev);
    const prev = latest.has(k) ? latest.get(k) : versionBefore(db, r[0], at);
    const kv = toKeyValue(at.main, r);
    const type = isTombstone(r) ? 'DELETE' : 'PUT';
    out.push(prev ? { type, kv, prev_kv: prev } : { type, kv });
    latest.set(k, type === 'PUT' ? kv : undefined);
  }
  return out;
}

function versionBefore(db: Backend, key: Buffer, at: Revision): KeyValue | undefined {
  const c = db.index.newestBefore(key, at.main, at.sub);
  const r = c && !c.tombstone ? db.history.get(revBytes(c.main, c.sub)) : undefined;
  return r && toKeyValue(c!.main, r);
}
