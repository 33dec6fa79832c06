// etcd's HashKV: a checksum of the key-value history up to a revision. Members that applied the
// same log hold the same history, so a different hash at the same revision means corruption.
import { crc32 } from 'node:zlib';
import type { Backend, Meta } from './backend.js';
import type { StoredRecord } from './records.js';
import { revBytes } from './revision.js';
import { checkRevision } from './validate.js';

export interface HashKV {
  hash: number;
  /** The hashed history ends here. */
  hash_revision: number;
  compact_revision: number;
  /** The store's current revision. */
  revision: number;
}

/** `revision` 0 means the current one. */
export function hashKV(db: Backend, meta: Meta, revision: number): HashKV {
  const at = revision > 0 ? revision : meta.revision;
  checkRevision(at, meta.revision, meta.compacted);
  const hash = new HistoryHash();
  for (const { key, value } of db.history.getRange({ end: revBytes(at + 1) })) hash.add(key, value);
  return { hash: hash.value, hash_revision: at, compact_revision: meta.compacted, revision: meta.revision };
}

/** The HashKV checksum taken one history row at a time, in revision order. */
export class HistoryHash {
  value = 0;
  private readonly numbers = Buffer.alloc(24);

  add(rev: Buffer, r: StoredRecord): void {
    this.numbers.writeDoubleBE(r[2], 0);
    this.numbers.writeDoubleBE(r[3], 8);
    this.numbers.writeDoubleBE(r[4], 16);
    this.value = crc32(this.numbers, crc32(r[1], crc32(r[0], crc32(rev, this.value))));
  }
}
