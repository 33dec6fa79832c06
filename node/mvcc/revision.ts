// Revisions as lmdb keys: an 8-byte big-endian main revision then a 4-byte sub-revision, so that
// byte order is revision order.
export const REV_BYTES = 12;

export interface Revision {
  main: number;
  sub: number;
}

export interface Change extends Revision {
  tombstone: boolean;
}

const HIGH = 2 ** 32;

/** A number up to 2^53-1 as 8 big-endian bytes (revisions, lease IDs), so byte order is number order. */
function writeU64(b: Buffer, n: number): void {
  b.writeUInt32BE(Math.floor(n / HIGH), 0);
  b.writeUInt32BE(n % HIGH, 4);
}

export function u64Bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeU64(b, n);
  return b;
}

export function readU64(b: Buffer): number {
  return b.readUInt32BE(0) * HIGH + b.readUInt32BE(4);
}

function writeRev(b: Buffer, main: number, sub: number): Buffer {
  writeU64(b, main);
  b.writeUInt32BE(sub, 8);
  return b;
}

export function revBytes(main: number, sub = 0): Buffer {
  return writeRev(Buffer.allocUnsafe(REV_BYTES), main, sub);
}

export function readRev(b: Buffer): Revision {
  return { main: readU64(b), sub: b.readUInt32BE(8) };
}
