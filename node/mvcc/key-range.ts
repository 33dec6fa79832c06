// etcd's key ranges: an empty range_end means the single key, a range_end of one zero byte
// means every key from `key` on, anything else the half-open range [key, range_end).
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function isSingleKey(rangeEnd: Uint8Array | undefined): boolean {
  return !rangeEnd || rangeEnd.length === 0;
}

export function inRange(k: Uint8Array, key: Uint8Array, rangeEnd: Uint8Array | undefined): boolean {
  if (isSingleKey(rangeEnd)) return compareBytes(k, key) === 0;
  if (compareBytes(k, key) < 0) return false;
  if (rangeEnd!.length === 1 && rangeEnd![0] === 0) return true;
  return compareBytes(k, rangeEnd!) < 0;
}
