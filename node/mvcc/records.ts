// History records: how one revision of one key is stored, and what it costs against the quota.
import { asBuffer } from './key-range.js';
import type { KeyValue } from './types.js';

/** [key, value, create_revision, version, lease]; the mod_revision is the record's history key. */
export type StoredRecord = [Buffer, Buffer, number, number, number];

const EMPTY = Buffer.alloc(0);

/**
 * lmdb's overhead for one record across history and revision-keys (node headers, revision keys),
 * roughly. The quota counts it so that a flood of tiny writes still reaches the limit.
 */
const RECORD_OVERHEAD = 64;

export function putRecord(kv: KeyValue): StoredRecord {
  return [asBuffer(kv.key), asBuffer(kv.value), kv.create_revision, kv.version, kv.lease];
}

/** A deletion is recorded like etcd's tombstone: the key with version 0. */
export function tombstoneRecord(key: Uint8Array): StoredRecord {
  return [asBuffer(key), EMPTY, 0, 0, 0];
}

export function isTombstone(r: StoredRecord): boolean {
  return r[3] === 0;
}

export function toKeyValue(modRevision: number, r: StoredRecord): KeyValue {
  return {
    key: r[0],
    value: r[1],
    create_revision: r[2],
    mod_revision: modRevision,
    version: r[3],
    lease: r[4],
  };
}

/** Deterministic on every member (unlike the file size), so all of them raise NOSPACE at the same entry. */
export function recordCost(r: StoredRecord): number {
  return r[0].length + r[1].length + RECORD_OVERHEAD;
}
