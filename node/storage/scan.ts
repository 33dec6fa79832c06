// Walks the records of one segment and tells a crash-torn tail from real damage.
//
// The last segment is preallocated: its records are followed by zeros up to the segment size, and
// the first record boundary with only zeros after it is the clean end of the log. A crash
// mid-write leaves a prefix of the last write: the final record of the last segment is cut short,
// or it is complete-looking but fails its checksum with only zeros after it. Anything else —
// damage in an earlier segment, a checksum failure followed by data, or a "cut short" record with
// intact records after it (a flipped bit in a length field) — is corruption.
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
  // Bytes from here on are all zeros: no record starts there (a zero header fails its checksum).
  const zerosFrom = isLast ? dataEnd(buf) : buf.length;
  let off = 0;
  while (off < zerosFrom) {
    const r = decodeRecord(buf, off);
    switch (r.kind) {
      case 'ok':
        onRecord(r.record, off);
        off = r.next;
        continue;
      case 'malformed':
        throw new WalCorruptionError(file, off, `malformed record: ${r.reason}`);
      case 'bad-crc':
        if (isLast && r.next >= zerosFrom) return { end: off, torn: 'checksum mismatch' };
        throw new WalCorruptionError(file, off, 'checksum mismatch');
      case 'short':
        if (!isLast) throw new WalCorruptionError(file, off, 'record cut short');
        // A torn write has nothing after it. (Should an entry's own bytes happen to hold a valid
        // record, this refuses to start rather than guess: the safe side.)
        if (intactRecordAfter(buf, off, zerosFrom))
          throw new WalCorruptionError(file, off, 'record cut short, but intact records follow');
        return { end: off, torn: 'record cut short' };
    }
  }
  return { end: off };
}

function intactRecordAfter(buf: Buffer, from: number, zerosFrom: number): boolean {
  for (let o = from + 1; o < zerosFrom && o + HEADER_BYTES <= buf.length; o++) {
    if (decodeRecord(buf, o).kind === 'ok') return true;
  }
  return false;
}

const ZEROS = Buffer.alloc(64 * 1024);

/** One past the last non-zero byte (0 if there is none): where a preallocated segment's data ends at most. */
export function dataEnd(buf: Buffer): number {
  let end = buf.length;
  while (end > 0) {
    const start = Math.max(0, end - ZEROS.length);
    if (buf.compare(ZEROS, 0, end - start, start, end) !== 0) {
      while (buf[end - 1] === 0) end--;
      return end;
    }
    end = start;
  }
  return 0;
}
