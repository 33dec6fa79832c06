// Leases in the store: which exist, with which TTL, and which live keys each one holds. Time is
// not here: only the leader tracks expiry (node/server/lessor.ts) and proposes a revoke through
// the log, so every member applies the same grants and revokes at the same entries.
import type { Transaction } from 'lmdb';
import type { Backend } from './backend.js';
import { asBuffer } from './key-range.js';
import { readU64, u64Bytes } from './revision.js';

export interface Lease {
  id: number;
  ttl: number;
}

/** A lease ID as an lmdb key: 8 bytes big-endian, so IDs sort numerically. */
const idBytes = u64Bytes;

export class LeaseTable {
  constructor(private readonly db: Backend) {}

  get(id: number): Lease | undefined {
    const r = this.db.leases.get(idBytes(id));
    return r && { id, ttl: r.ttl };
  }

  /** Every lease, in ID order (as of `transaction` when given). */
  all(transaction?: Transaction): Lease[] {
    return Array.from(this.db.leases.getRange({ transaction }), ({ key, value }) => ({
      id: readU64(key),
      ttl: value.ttl,
    }));
  }

  /** The live keys attached to the lease, in key order. */
  keys(id: number): Buffer[] {
    return Array.from(this.db.leaseKeys.getValues(idBytes(id)));
  }

  /** Call inside a write transaction, as for the rest. */
  grant(id: number, ttl: number): void {
    this.db.leases.putSync(idBytes(id), { ttl });
  }

  remove(id: number): void {
    this.db.leases.removeSync(idBytes(id));
    this.db.leaseKeys.removeSync(idBytes(id));
  }

  attach(id: number, key: Uint8Array): void {
    this.db.leaseKeys.putSync(idBytes(id), asBuffer(key));
  }

  detach(id: number, key: Uint8Array): void {
    this.db.leaseKeys.removeSync(idBytes(id), asBuffer(key));
  }
}
