// The steps of etcd's client-side concurrency package (its Mutex and Election) that etcd's Lock and
// Election services run on the server, here in the member on the caller's behalf: each read and
// write goes through the KV service with the caller's permissions, and waiting is a watch on the
// member's watch hub, which replays history from a revision so that nothing between a read and
// the wait is missed.
import { prefixEnd } from '../mvcc/key-range.js';
import type { Event, KeyValue, RangeRequest, RangeResponse, RequestOp, TxnResponse } from '../mvcc/types.js';
import type { Caller } from './auth-service.js';
import type { Header, KvService } from './service.js';

/** The TTL of the lease etcd grants a lock or campaign asked for without one (its session default). */
const SESSION_TTL = 60;

const FIRST_CREATED = { sort_target: 'CREATE', sort_order: 'ASCEND', limit: 1 } as const;
const LAST_CREATED = { sort_target: 'CREATE', sort_order: 'DESCEND', limit: 1 } as const;

export type Found = RangeResponse & { header: Header };
type Txn = TxnResponse & { header: Header };

/** The prefix of the keys of lock or election `name`: `name/`. */
export function prefixOf(name: Uint8Array): Buffer {
  return Buffer.concat([name, Buffer.from('/')]);
}

/** The read of the key created first under `prefix` (the lock's holder, the election's leader). */
export function firstCreated(prefix: Uint8Array): RangeRequest {
  return { key: prefix, range_end: prefixEnd(prefix), ...FIRST_CREATED };
}

export class Concurrency {
  constructor(readonly kv: KvService) {}

  /** The caller's lease, or a new one of etcd's session TTL when it gave none. */
  async sessionLease(lease: number, caller: Caller): Promise<number> {
    if (lease) return lease;
    return ((await this.kv.leaseGrant(0, SESSION_TTL, caller)) as { header: Header; ID: number }).ID;
  }

  /** The key created first under `prefix` (the lock's holder, the election's leader). */
  first(prefix: Uint8Array, caller: Caller): Promise<Found> {
    return this.kv.range(firstCreated(prefix), caller) as Promise<Found>;
  }

  /** A txn whose `then` runs if `key` was created at `revision` (0: if it does not exist), else `otherwise`. */
  ifCreatedAt(
    key: Uint8Array,
    revision: number,
    then: RequestOp[],
    otherwise: RequestOp[],
    caller: Caller,
  ): Promise<Txn> {
    const compare = [{ target: 'CREATE' as const, result: 'EQUAL' as const, key, create_revision: revision }];
    return this.kv.write({ txn: { compare, success: then, failure: otherwise } }, caller) as Promise<Txn>;
  }

  /**
   * The caller's key under `prefix`, N/<lease in hex>: created on `lease` with `value` unless it is
   * there already (a retry on the same lease keeps its place). Gives the key, the txn's header, its
   * creation revision, the value it holds, and `also` read in the same txn.
   */
  async claim(prefix: Uint8Array, lease: number, value: Uint8Array, caller: Caller, also?: RangeRequest) {
    const key = Buffer.concat([prefix, Buffer.from(lease.toString(16))]);
    const read: RequestOp[] = also ? [{ request_range: also }] : [];
    const txn = await this.ifCreatedAt(
      key,
      0,
      [{ request_put: { key, value, lease } }, ...read],
      [{ request_range: { key } }, ...read],
      caller,
    );
    const [mine, extra] = txn.responses.map((r) =>
      'response_range' in r ? (r.response_range as Found) : undefined,
    );
    const existing = txn.succeeded ? undefined : mine!.kvs[0]!;
    return {
      key,
      header: txn.header,
      created: existing?.create_revision ?? txn.header.revision,
      value: existing?.value ?? value,
      also: extra,
    };
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
