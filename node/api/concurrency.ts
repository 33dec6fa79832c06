// The steps of etcd's client-side concurrency package (its Mutex and Election) that etcd's Lock and
// Election services run on the server, here in the member on the caller's behalf: each read and
// write goes through the KV service with the caller's permissions, and waiting is a watch on the
// member's watch hub, which replays history from a revision so that nothing between a read and
// the wait is missed.
import { prefixEnd } from '../mvcc/key-range.js';
import type { Event, KeyValue, RangeResponse } from '../mvcc/types.js';
import type { Caller } from './auth-service.js';
import type { Header, KvService } from './service.js';

/** The TTL of the lease etcd grants a lock or campaign asked for without one (its session default). */
const SESSION_TTL = 60;

export const FIRST_CREATED = { sort_target: 'CREATE', sort_order: 'ASCEND', limit: 1 } as const;
const LAST_CREATED = { sort_target: 'CREATE', sort_order: 'DESCEND', limit: 1 } as const;

export type Found = RangeResponse & { header: Header };

export class Concurrency {
  constructor(readonly kv: KvService) {}

  /** The caller's lease, or a new one of etcd's session TTL when it gave none. */
  async sessionLease(lease: number, caller: Caller): Promise<number> {
    if (lease) return lease;
    return ((await this.kv.leaseGrant(0, SESSION_TTL, caller)) as { header: Header; ID: number }).ID;
  }

  /** The key created first under `prefix` (the lock's holder, the election's leader). */
  first(prefix: Uint8Array, caller: Caller): Promise<Found> {
    return this.kv.range(
      { key: prefix, range_end: prefixEnd(prefix), ...FIRST_CREATED },
      caller,
    ) as Promise<Found>;
  }

  /** Waits until no key under `prefix` created before `revision` is left; the last read's header. */
  async waitDeletes(
    prefix: Uint8Array,
    revision: number,
    caller: Caller,
    signal: AbortSignal,
  ): Promise<Header> {
    for (;;) {
      signal.throwIfAborted();
      const range = { key: prefix, range_end: prefixEnd(prefix), max_create_revision: revision - 1 };
      const r = (await this.kv.range({ ...range, ...LAST_CREATED }, caller)) as Found;
      const last: KeyValue | undefined = r.kvs[0];
      if (!last) return r.header;
      await this.nextEvents({ key: last.key, from: r.header.revision + 1, only: 'DELETE' }, signal);
    }
  }

  /**
   * The first events on `key` (or under it, with `rangeEnd`) from revision `from` on, of one type
   * if `only` says so. The caller has read the range, so its permission is checked already.
   */
  nextEvents(
    w: { key: Uint8Array; rangeEnd?: Uint8Array; from: number; only?: Event['type'] },
    signal: AbortSignal,
  ): Promise<Event[]> {
    const hub = this.kv.watches;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let id: number | undefined;
      let done = false;
      const finish = (events: Event[] | undefined, error?: unknown) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', aborted);
        if (id !== undefined) hub.cancel(id);
        if (events) resolve(events);
        else reject(error);
      };
      const aborted = () => finish(undefined, signal.reason);
      signal.addEventListener('abort', aborted);
      const spec = {
        key: w.key,
        ...(w.rangeEnd ? { rangeEnd: w.rangeEnd } : {}),
        startRevision: w.from,
        prevKv: false,
        noPut: w.only === 'DELETE',
        noDelete: w.only === 'PUT',
        progressNotify: false,
      };
      try {
        id = hub.create(spec, {
          events: (_id, events) => events.length > 0 && finish(events),
          canceled: (_id, reason) => finish(undefined, new Error(reason)),
          progress: () => {},
        });
      } catch (e) {
        finish(undefined, e);
      }
      // The history may have held the events, delivered before `id` was known.
      if (done && id !== undefined) hub.cancel(id);
    });
  }
}
