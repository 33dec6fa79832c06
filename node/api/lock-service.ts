// etcd's Lock service (v3lockpb), served beside KV as etcd serves it: etcd's concurrency.Mutex run
// in the member (concurrency.ts). The lock named N is held by whichever key under N/ was created
// first; a caller's key is N/<its lease in hex>, attached to that lease, so a lock whose holder's
// lease ends is free again. A caller waits until every key created before its own is deleted.
import type { TxnResponse } from '../mvcc/types.js';
import type { Caller } from './auth-service.js';
import { Concurrency, FIRST_CREATED, type Found } from './concurrency.js';
import { prefixEnd } from '../mvcc/key-range.js';
import type { Header, KvService } from './service.js';

export interface LockResult {
  header: Header;
  key: Uint8Array;
}

export class LockService {
  private readonly steps: Concurrency;

  constructor(kv: KvService) {
    this.steps = new Concurrency(kv);
  }

  /** Resolves once the caller holds the lock. Aborted, it gives up its place (deletes its key). */
  async lock(name: Uint8Array, lease: number, caller: Caller, signal: AbortSignal): Promise<LockResult> {
    const { kv } = this.steps;
    const id = await this.steps.sessionLease(lease, caller);
    const prefix = Buffer.concat([name, Buffer.from('/')]);
    const key = Buffer.concat([prefix, Buffer.from(id.toString(16))]);
    const owner = { request_range: { key: prefix, range_end: prefixEnd(prefix), ...FIRST_CREATED } };
    const txn = (await kv.write(
      {
        txn: {
          compare: [{ target: 'CREATE', result: 'EQUAL', key, create_revision: 0 }],
          success: [{ request_put: { key, value: new Uint8Array(), lease: id } }, owner],
          failure: [{ request_range: { key } }, owner],
        },
      },
      caller,
    )) as TxnResponse & { header: Header };
    const [mine, first] = txn.responses.map((r) =>
      'response_range' in r ? (r.response_range as Found) : undefined,
    );
    // A retried lock on the same lease finds its key there already, and keeps its place.
    const myRevision = txn.succeeded ? txn.header.revision : mine!.kvs[0]!.create_revision;
    const holder = first!.kvs[0];
    if (!holder || holder.create_revision === myRevision) return { header: txn.header, key };
    try {
      return { header: await this.steps.waitDeletes(prefix, myRevision, caller, signal), key };
    } catch (e) {
      await kv.write({ delete_range: { key } }, caller).catch(() => {});
      throw e;
    }
  }

  /** Deletes the key a lock call returned, which frees the lock for the next caller. */
  async unlock(key: Uint8Array, caller: Caller): Promise<{ header: Header }> {
    const out = await this.steps.kv.write({ delete_range: { key } }, caller);
    return { header: out.header };
  }
}
