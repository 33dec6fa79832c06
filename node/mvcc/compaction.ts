// Compaction at revision R drops every record that no read at R or later can see: for each key,
// its changes at or before R except the newest, and that one too when it is a deletion. Only keys
// changed since the previous compaction can hold such records, so only those are visited.
import type { Backend, Meta } from './backend.js';
import { recordCost } from './records.js';
import { revBytes } from './revision.js';
import { ERR, type CompactionResponse } from './types.js';

export function compact(db: Backend, meta: Meta, rev: number): CompactionResponse {
  if (rev <= meta.compacted) throw ERR.compacted();
  if (rev > meta.revision) throw ERR.futureRev();
  const touched = new Map<string, Buffer>();
  const window = { start: revBytes(meta.compacted + 1), end: revBytes(rev + 1) };
  for (const { value } of db.history.getRange(window)) touched.set(value[0].toString('latin1'), value[0]);
  for (const key of touched.values()) dropHidden(db, meta, key, rev);
  meta.compacted = rev;
  return { header: { revision: meta.revision } };
}

function dropHidden(db: Backend, meta: Meta, key: Buffer, rev: number): void {
  for (const c of db.index.compact(key, rev)) {
    const record = db.removeRecord(c.main, c.sub);
    if (record) meta.usage -= recordCost(record);
  }
}
