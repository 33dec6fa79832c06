// etcd's Lock service (v3lockpb), served beside KV as etcd serves it: etcd's concurrency.Mutex
// run in the member on the caller's behalf, with the caller's permissions at each step. The lock
// named N is held by whichever key under N/ was created first; a caller's key is N/<its lease in
// hex>, attached to that lease, so a lock whose holder's lease ends is free again. A caller waits
// until every key created before its own is deleted.
import { prefixEnd } from '../mvcc/key-range.js';
import type { Event, KeyValue, RangeResponse, TxnResponse } from '../mvcc/types.js';
import type { Caller } from './auth-service.js';
import type { Header, KvService } from './service.js';

/** The TTL of the lease etcd grants a lock asked for without one (its session default). */
const SESSION_TTL = 60;

export interface LockResult {
  header: Header;
  key: Uint8Array;
}

export class LockService {
  constructor(private readonly kv: KvService) {}

  /** Resolves once the caller holds the lock. Aborted, it gives up its place (deletes its key). */
  async lock(name: Uint8Array, lease: number, caller: Caller, signal: AbortSignal): Promise<LockResult> {
    const id =
      lease || ((await this.kv.leaseGrant(0, SESSION_TTL, caller)) as { header: Header; ID: number }).ID;
    const prefix = Buffer.concat([name, Buffer.from('/')]);
    const key = Buffer.concat([prefix, Buffer.from(id.toString(16))]);
    const owner = { request_range: { key: prefix, range_end: prefixEnd(prefix), ...FIRST_CREATED } };
    const txn = (await this.kv.write(
      {
        txn: {
          compare: [{ target: 'CREATE', result: 'EQUAL', key, create_revision: 0 }],
          success: [{ request_put: { key, value: new Uint8Array(), lease: id } }, owner],
          failure: [{ request_range: { key } }, owner],
        },
      },
      caller,
    )) as TxnResponse & { header: Header };
    const [mine, first] = txn.responses.map((r) => ('response_range' in r ? r.response_range : undefined));
    // A retried lock on the same lease finds its key there already, and keeps its place.
    const myRevision = txn.succeeded ? txn.header.revision : mine!.kvs[0]!.create_revision;
    const holder = first!.kvs[0];
    if (!holder || holder.create_revision === myRevision) return { header: txn.header, key };
    try {
      const header = await this.waitForEarlier(prefix, myRevision, caller, signal);
      return { header, key };
    } catch (e) {
      await this.kv.write({ delete_range: { key } }, caller).catch(() => {});
      throw e;
    }
  }

  /** Deletes the key a lock call returned, which frees the lock for the next caller. */
  async unlock(key: Uint8Array, caller: Caller): Promise<{ header: Header }> {
    const out = await this.kv.write({ delete_range: { key } }, caller);
    return { header: out.header };
  }

  /** Waits until no key under `prefix` created before `revision` is left; the last read's header. */
  private async waitForEarlier(
    prefix: Buffer,
    revision: number,
    caller: Caller,
    signal: AbortSignal,
  ): Promise<Header> {
    for (;;) {
      signal.throwIfAborted();
      const r = (await this.kv.range(
        {
          key: prefix,
          range_end: prefixEnd(prefix),
          max_create_revision: revision - 1,
          ...LAST_CREATED,
        },
        caller,
      )) as RangeResponse & { header: Header };
      const last = r.kvs[0];
      if (!last) return r.header;
      await this.deleted(last, r.header.revision, signal);
    }
  }

  /** Resolves when `kv`'s key is deleted after revision `seen`. */
  private deleted(kv: KeyValue, seen: number, signal: AbortSignal): Promise<void> {
    const hub = this.kv.watches;
    return new Promise((resolve, reject) => {
      let id: number | undefined;
      let done = false;
      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', aborted);
        if (id !== undefined) hub.cancel(id);
        if (error) reject(error);
        else resolve();
      };
      const aborted = () => finish(signal.reason as Error);
      signal.addEventListener('abort', aborted);
      const spec = { key: kv.key, startRevision: seen + 1, prevKv: false, noPut: true, noDelete: false };
      try {
        id = hub.create(
          { ...spec, progressNotify: false },
          {
            events: (_id, events: Event[]) => events.length > 0 && finish(),
            canceled: (_id, reason) => finish(new Error(reason)),
            progress: () => {},
          },
        );
      } catch (e) {
        finish(e as Error);
      }
      // The history may have held the deletion already, delivered before `id` was known.
      if (done && id !== undefined) hub.cancel(id);
    });
  }
}

const FIRST_CREATED = { sort_target: 'CREATE', sort_order: 'ASCEND', limit: 1 } as const;
const LAST_CREATED = { sort_target: 'CREATE', sort_order: 'DESCEND', limit: 1 } as const;
