// etcd's Range on a key view: revision checks, then filters, sort, limit and keys_only in the order
// etcd's applier uses them. `count` is the number of keys in the range before the filters, as in etcd.
import { compareBytes } from './key-range.js';
import { checkKey, checkRevision } from './validate.js';
import type { KeyView } from './view.js';
import type { KeyValue, RangeRequest, RangeResponse, SortOrder, SortTarget } from './types.js';

const EMPTY = new Uint8Array(0);

export function range(view: KeyView, compacted: number, req: RangeRequest): RangeResponse {
  checkKey(req.key, req.range_end, view.db.maxKeySize);
  const at = req.revision && req.revision > 0 ? req.revision : view.revision;
  checkRevision(at, view.revision, compacted);
  const limit = req.limit && req.limit > 0 ? req.limit : 0;
  const target = req.sort_target ?? 'KEY';
  const order = effectiveOrder(req.sort_order ?? 'NONE', target);
  const filtered = Boolean(
    req.min_mod_revision || req.max_mod_revision || req.min_create_revision || req.max_create_revision,
  );
  // Fetch one more than the limit to learn `more`, or everything when filters or a sort come first.
  const fetch = req.count_only ? 0 : limit === 0 || order !== 'NONE' || filtered ? Infinity : limit + 1;
  const { kvs: found, count } = view.scan(req.key, req.range_end, at, fetch);
  let kvs = filtered ? found.filter((kv) => matchesFilters(kv, req)) : found;
  if (order !== 'NONE') kvs = sortKvs(kvs, target, order);
  const more = limit > 0 && kvs.length > limit;
  if (more) kvs = kvs.slice(0, limit);
  if (req.keys_only) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
  return { header: { revision: view.revision }, kvs, more, count };
}

/** Keys come out in ascending key order: etcd sorts only when that is not already the answer. */
function effectiveOrder(order: SortOrder, target: SortTarget): SortOrder {
  if (order === 'NONE' && target !== 'KEY') return 'ASCEND';
  if (order === 'ASCEND' && target === 'KEY') return 'NONE';
  return order;
}

function matchesFilters(kv: KeyValue, r: RangeRequest): boolean {
  return (
    (!r.min_mod_revision || kv.mod_revision >= r.min_mod_revision) &&
    (!r.max_mod_revision || kv.mod_revision <= r.max_mod_revision) &&
    (!r.min_create_revision || kv.create_revision >= r.min_create_revision) &&
    (!r.max_create_revision || kv.create_revision <= r.max_create_revision)
  );
}

/** A stable sort, so that ties stay in key order. */
function sortKvs(kvs: KeyValue[], target: SortTarget, order: SortOrder): KeyValue[] {
  const sign = order === 'DESCEND' ? -1 : 1;
  const by = SORT_BY[target];
  return [...kvs].sort((a, b) => sign * by(a, b));
}

const SORT_BY: Record<SortTarget, (a: KeyValue, b: KeyValue) => number> = {
  KEY: (a, b) => compareBytes(a.key, b.key),
  VALUE: (a, b) => compareBytes(a.value, b.value),
  VERSION: (a, b) => a.version - b.version,
  CREATE: (a, b) => a.create_revision - b.create_revision,
  MOD: (a, b) => a.mod_revision - b.mod_revision,
};
