// Walks the records of one segment and tells a crash-torn tail from real damage.
//
// A crash mid-write leaves a prefix of the last write: the final record of the last segment is cut
// short, or (when the file system grew the file before the data landed) it is complete-looking but
// fails its checksum with only zeros after it. Anything else — damage in an earlier segment, a
// checksum failure followed by data, or a "cut short" record with intact records after it (a
// flipped bit in a length field) — is corruption.
import { WalCorruptionError } from './errors.js';
import { decodeRecord, HEADER_BYTES, type WalRecord } from './record.js';

export interface ScanResult {
  /** Bytes of intact records from the start of the segment. */
  end: number;
  /** Why the bytes after `end` are a torn tail, when there are any. */
  torn?: string;
}

export function scanSegment(
  buf: Buffer,
  file: string,
  isLast: boolean,
  onRecord: (rec: WalRecord, offset: number) => void,
): ScanResult {
  let off = 0;
  while (off < buf.length) {
    const r = decodeRecord(buf, off);
    switch (r.kind) {
      case 'ok':
        onRecord(r.record, off);
        off = r.next;
        continue;
      case 'malformed':
        throw new WalCorruptionError(file, off, `malformed record: ${r.reason}`);
      case 'bad-crc':
        if (isLast && buf.subarray(r.next).every((b) => b === 0))
          return { end: off, torn: 'checksum mismatch' };
        throw new WalCorruptionError(file, off, 'checksum mismatch');
      case 'short':
        if (!isLast) throw new WalCorruptionError(file, off, 'record cut short');
        // A torn write has nothing after it. (Should an entry's own bytes happen to hold a valid
        // record, this refuses to start rather than guess: the safe side.)
        if (intactRecordAfter(buf, off))
          throw new WalCorruptionError(file, off, 'record cut short, but intact records follow');
        return { end: off, torn: 'record cut short' };
    }
  }
  return { end: off };
}

function intactRecordAfter(buf: Buffer, from: number): boolean {
  for (let o = from + 1; o + HEADER_BYTES <= buf.length; o++) {
    if (decodeRecord(buf, o).kind === 'ok') return true;
  }
  return false;
}
