// Revisions as lmdb keys: an 8-byte big-endian main revision then a 4-byte sub-revision, so that
// byte order is revision order. A key's change in the key index adds one byte: 1 for a deletion.
export const REV_BYTES = 12;

export interface Revision {
  main: number;
  sub: number;
}

export interface Change extends Revision {
  tombstone: boolean;
}

const HIGH = 2 ** 32;

function writeRev(b: Buffer, main: number, sub: number): Buffer {
  b.writeUInt32BE(Math.floor(main / HIGH), 0);
  b.writeUInt32BE(main % HIGH, 4);
  b.writeUInt32BE(sub, 8);
  return b;
}

export function revBytes(main: number, sub = 0): Buffer {
  return writeRev(Buffer.allocUnsafe(REV_BYTES), main, sub);
}

export function readRev(b: Buffer): Revision {
  return { main: b.readUInt32BE(0) * HIGH + b.readUInt32BE(4), sub: b.readUInt32BE(8) };
}

export function changeBytes(main: number, sub: number, tombstone: boolean): Buffer {
  const b = writeRev(Buffer.allocUnsafe(REV_BYTES + 1), main, sub);
  b[REV_BYTES] = tombstone ? 1 : 0;
  return b;
}

export function readChange(b: Buffer): Change {
  return { ...readRev(b), tombstone: b[REV_BYTES] === 1 };
}

/** The history key of a change. */
export function changeRev(b: Buffer): Buffer {
  return b.subarray(0, REV_BYTES);
}
