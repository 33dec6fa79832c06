// One WAL record: [u32 length of body][u32 crc32 of body][body], body = msgpack of the record.
// Numbers (terms, indexes) are msgpack integers, exact up to 2^53-1 like the Raft core's.
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js';

export type WalRecord =
  | { type: 'entry'; entry: Entry }
  | { type: 'hardState'; hardState: HardState }
  | { type: 'snapshot'; meta: SnapshotMeta };

export const HEADER_BYTES = 8;
const packr = new Packr({ useRecords: false });

export function encodeRecord(r: WalRecord): Buffer {
  const body = packr.pack(r);
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out.writeUInt32LE(body.length, 0);
  out.writeUInt32LE(crc32(body), 4);
  body.copy(out, HEADER_BYTES);
  return out;
}

export type Decoded =
  | { kind: 'ok'; record: WalRecord; next: number }
  /** The buffer ends inside the record. */
  | { kind: 'short' }
  /** The record is complete but its checksum does not match; `next` is where it would end. */
  | { kind: 'bad-crc'; next: number };

export function decodeRecord(buf: Buffer, off: number): Decoded {
  if (buf.length - off < HEADER_BYTES) return { kind: 'short' };
  const len = buf.readUInt32LE(off);
  const next = off + HEADER_BYTES + len;
  if (next > buf.length) return { kind: 'short' };
  const body = buf.subarray(off + HEADER_BYTES, next);
  if (crc32(body) !== buf.readUInt32LE(off + 4)) return { kind: 'bad-crc', next };
  const record = packr.unpack(body) as WalRecord;
  if (record.type === 'entry') record.entry.data = new Uint8Array(record.entry.data);
  return { kind: 'ok', record, next };
}
