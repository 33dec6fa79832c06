// Checksummed framing for WAL records: [u32 length][u32 crc32][u8 type][payload], little-endian.
// `length` counts the type byte and the payload. The crc covers the length bytes too, so a garbled
// length is caught like any other flipped bit, and a zero-filled header (a crash after the file
// grew but before its data landed) never passes: crc32 of zero bytes is not zero.
import { crc32 } from 'node:zlib';

export const HEADER_BYTES = 8;

export interface Frame {
  type: number;
  payload: Uint8Array;
}

function frameCrc(buf: Buffer, off: number, end: number): number {
  return crc32(buf.subarray(off + HEADER_BYTES, end), crc32(buf.subarray(off, off + 4)));
}

/** Encodes frames back to back into one buffer (one write() per batch). */
export function encodeFrames(frames: Frame[]): Buffer {
  const total = frames.reduce((n, f) => n + HEADER_BYTES + 1 + f.payload.length, 0);
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  for (const f of frames) {
    const end = off + HEADER_BYTES + 1 + f.payload.length;
    buf.writeUInt32LE(1 + f.payload.length, off);
    buf.writeUInt8(f.type, off + HEADER_BYTES);
    buf.set(f.payload, off + HEADER_BYTES + 1);
    buf.writeUInt32LE(frameCrc(buf, off, end), off + 4);
    off = end;
  }
  return buf;
}

export type ReadFrame =
  | { kind: 'ok'; frame: Frame; next: number }
  /** The buffer ends before the frame does. */
  | { kind: 'short' }
  /** The frame's bytes are there but do not check out. */
  | { kind: 'bad' };

export function readFrame(buf: Buffer, off: number): ReadFrame {
  if (buf.length - off < HEADER_BYTES + 1) return { kind: 'short' };
  const len = buf.readUInt32LE(off);
  if (len === 0) return { kind: 'bad' };
  const next = off + HEADER_BYTES + len;
  if (next > buf.length) return { kind: 'short' };
  if (frameCrc(buf, off, next) !== buf.readUInt32LE(off + 4)) return { kind: 'bad' };
  const frame = { type: buf[off + HEADER_BYTES]!, payload: buf.subarray(off + HEADER_BYTES + 1, next) };
  return { kind: 'ok', frame, next };
}

/**
 * Whether an intact frame starts anywhere after `off`. Damage followed by intact data is not a
 * write cut short by a crash (that only ever damages the end), so it must not be truncated away.
 */
export function intactFrameAfter(buf: Buffer, off: number): boolean {
  for (let p = off + 1; p + HEADER_BYTES < buf.length; p++) {
    if (readFrame(buf, p).kind === 'ok') return true;
  }
  return false;
}
