// Write requests as they travel inside Raft entries: a version byte, then msgpack.
import { Packr } from 'msgpackr';
import type { WriteRequest } from './types.js';

const VERSION = 1;
const packr = new Packr({ useRecords: false });

export function encodeRequest(r: WriteRequest): Uint8Array {
  const body = packr.pack(r);
  const out = new Uint8Array(body.length + 1);
  out[0] = VERSION;
  out.set(body, 1);
  return out;
}

export function decodeRequest(data: Uint8Array): WriteRequest {
  if (data[0] !== VERSION) throw new Error(`unknown write request encoding version ${data[0]}`);
  const r = packr.unpack(data.subarray(1)) as WriteRequest | undefined;
  if (
    !r ||
    typeof r !== 'object' ||
    !('put' in r || 'delete_range' in r || 'txn' in r || 'compaction' in r)
  ) {
    throw new Error('malformed write request in log entry');
  }
  return r;
}
