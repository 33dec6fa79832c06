// etcd's key ranges: an empty range_end means the single key, a range_end of one zero byte
// means every key from `key` on, anything else the half-open range [key, range_end).
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function isSingleKey(rangeEnd: Uint8Array | undefined): boolean {
  return !rangeEnd || rangeEnd.length === 0;
}

export function isFromKey(rangeEnd: Uint8Array | undefined): boolean {
  return rangeEnd?.length === 1 && rangeEnd[0] === 0;
}

export function inRange(k: Uint8Array, key: Uint8Array, rangeEnd: Uint8Array | undefined): boolean {
  if (isSingleKey(rangeEnd)) return compareBytes(k, key) === 0;
  if (compareBytes(k, key) < 0) return false;
  return isFromKey(rangeEnd) || compareBytes(k, rangeEnd!) < 0;
}

/** The range end that covers every key starting with `prefix` (every key, for a prefix of 0xff bytes only). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = Uint8Array.from(prefix.subarray(0, i + 1)); // a copy (a Buffer's slice is a view)
      end[i]!++;
      return end;
    }
  }
  return new Uint8Array([0]);
}

/** A zero-copy Buffer view, which is what lmdb's binary keys want. */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
