// Write requests as they travel inside Raft entries: a version byte, then msgpack.
import { Packr } from 'msgpackr';
import type { WriteRequest } from './types.js';

const VERSION = 1;
const KINDS = ['put', 'delete_range', 'txn', 'compaction', 'alarm', 'lease_grant', 'lease_revoke', 'auth'];
const packr = new Packr({ useRecords: false });

export function encodeRequest(r: WriteRequest): Uint8Array {
  const body = packr.pack(r);
  const out = new Uint8Array(body.length + 1);
  out[0] = VERSION;
  out.set(body, 1);
  return out;
}

/** Throws an Error saying what is wrong with the bytes. */
export function decodeRequest(data: Uint8Array): WriteRequest {
  if (data.length === 0) throw new Error('write request: empty entry data');
  if (data[0] !== VERSION) throw new Error(`write request: unknown encoding version ${data[0]}`);
  let r: unknown;
  try {
    r = packr.unpack(data.subarray(1));
  } catch (e) {
    throw new Error(`write request: bad msgpack (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof r !== 'object' || r === null) throw new Error('write request: not an object');
  const kinds = Object.keys(r).filter((k) => KINDS.includes(k));
  if (kinds.length !== 1) throw new Error(`write request: expected one of ${KINDS.join(', ')}`);
  return r as WriteRequest;
}
