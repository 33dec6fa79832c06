// etcd's Lock service (v3lockpb), served beside KV as etcd serves it: etcd's concurrency.Mutex run
// in the member (concurrency.ts). The lock named N is held by whichever key under N/ was created
// first; a caller's key is N/<its lease in hex>, attached to that lease, so a lock whose holder's
// lease ends is free again. A caller waits until every key created before its own is deleted.
import type { Caller } from './auth-service.js';
import { Concurrency, firstCreated, prefixOf } from './concurrency.js';
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
    const id = await this.steps.sessionLease(lease, caller);
    const prefix = prefixOf(name);
    // The holder is read in the same txn that makes the caller's key.
    const { key, header, created, also } = await this.steps.claim(
      prefix,
      id,
      new Uint8Array(),
      caller,
      firstCreated(prefix),
    );
    const holder = also!.kvs[0];
    if (!holder || holder.create_revision === created) return { header, key };
    try {
      return { header: await this.steps.waitDeletes(prefix, created, caller, signal), key };
    } catch (e) {
      await this.unlock(key, caller).catch(() => {});
      throw e;
    }
  }

  /** Deletes the key a lock call returned, which frees the lock for the next caller. */
  async unlock(key: Uint8Array, caller: Caller): Promise<{ header: Header }> {
    const out = await this.steps.kv.write({ delete_range: { key } }, caller);
    return { header: out.header };
  }
}
