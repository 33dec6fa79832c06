// Request checks shared by reads and writes, with etcd's errors.
import { isSingleKey } from './key-range.js';
import { ERR } from './types.js';

/** etcd refuses empty keys; lmdb also limits their length. */
export function checkKey(key: Uint8Array, rangeEnd: Uint8Array | undefined, maxKeySize: number): void {
  if (key.length === 0) throw ERR.emptyKey();
  if (key.length > maxKeySize || (!isSingleKey(rangeEnd) && rangeEnd!.length > maxKeySize)) {
    throw ERR.keyTooLong(maxKeySize);
  }
}

/** A read at `rev` needs history that is neither compacted away nor in the future. */
export function checkRevision(rev: number, current: number, compacted: number): void {
  if (rev > current) throw ERR.futureRev();
  if (rev < compacted) throw ERR.compacted();
}
