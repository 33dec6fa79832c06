// Watch history: every change from a revision on, in revision order, each with the key's previous
// version (what etcd sends as prev_kv).
import type { Backend, Meta } from './backend.js';
import { inRange } from './key-range.js';
import { isTombstone, toKeyValue } from './records.js';
import { changeRev, readChange, readRev, revBytes } from './revision.js';
import { ERR, type Event, type KeyValue } from './types.js';

/** Events need every change from `from` on, so `from` must be above the compacted revision. */
export function eventsSince(
  db: Backend,
  meta: Meta,
  from: number,
  key: Uint8Array,
  rangeEnd?: Uint8Array,
): Event[] {
  if (from <= meta.compacted) throw ERR.compacted();
  const out: Event[] = [];
  // key (latin1) → its version as of the last event seen, undefined once deleted
  const latest = new Map<string, KeyValue | undefined>();
  // Only up to `meta`: rows of a commit this thread has not yet seen complete are published after it.
  const end = revBytes(meta.revision + 1);
  for (const { key: rev, value: r } of db.history.getRange({ start: revBytes(from), end })) {
    if (!inRange(r[0], key, rangeEnd)) continue;
    const k = r[0].toString('latin1');
    const prev = latest.has(k) ? latest.get(k) : versionBefore(db, r[0], rev);
    const kv = toKeyValue(readRev(rev).main, r);
    const type = isTombstone(r) ? 'DELETE' : 'PUT';
    out.push(prev ? { type, kv, prev_kv: prev } : { type, kv });
    latest.set(k, type === 'PUT' ? kv : undefined);
  }
  return out;
}

function versionBefore(db: Backend, key: Buffer, rev: Buffer): KeyValue | undefined {
  for (const c of db.changes.getValues(key, { reverse: true })) {
    if (Buffer.compare(changeRev(c), rev) >= 0) continue;
    const change = readChange(c);
    const r = change.tombstone ? undefined : db.history.get(changeRev(c));
    return r && toKeyValue(change.main, r);
  }
  return undefined;
}
