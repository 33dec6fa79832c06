// Test helpers: a store in a fresh temp dir, fed one Raft entry per request.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MvccStore, type StoreOptions } from './store.js';
import {
  MvccError,
  type ApplyResult,
  type KeyValue,
  type PutRequest,
  type RangeRequest,
  type WriteRequest,
  type WriteResponse,
} from './types.js';

export const b = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (u: Uint8Array): string => Buffer.from(u).toString();

export class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), 'raftkv-mvcc-'));
  readonly path = join(this.dir, 'db');
  store: MvccStore;
  private index = 0;

  constructor(opts: StoreOptions = {}) {
    this.store = MvccStore.open(this.path, opts);
  }

  /** One entry per request, at the next indexes. */
  apply(...reqs: WriteRequest[]): ApplyResult[] {
    return this.store.applyBatch(reqs.map((request) => ({ index: ++this.index, term: 1, request })));
  }

  /** Applies one request that must succeed. */
  ok<T extends WriteResponse = WriteResponse>(req: WriteRequest): T {
    const [res] = this.apply(req);
    if (res instanceof MvccError || !res || !('header' in res))
      throw new Error(`expected success: ${String(res)}`);
    return res as T;
  }

  /** Applies one request that must fail, and returns its error. */
  fails(req: WriteRequest): MvccError {
    const [res] = this.apply(req);
    if (!(res instanceof MvccError)) throw new Error('expected an MvccError');
    return res;
  }

  put(key: string, value: string, extra: Omit<PutRequest, 'key' | 'value'> = {}): void {
    this.ok({ put: { key: b(key), value: b(value), ...extra } });
  }

  /** Grants leases with a 60 s TTL. */
  grant(...ids: number[]): void {
    for (const ID of ids) this.ok({ lease_grant: { ID, TTL: 60 } });
  }

  del(key: string, rangeEnd?: string): void {
    this.ok({ delete_range: { key: b(key), ...(rangeEnd ? { range_end: b(rangeEnd) } : {}) } });
  }

  get(key: string, revision?: number): KeyValue | undefined {
    return this.store.range({ key: b(key), revision }).kvs[0];
  }

  /** The keys a range returns, as strings. */
  keys(req: RangeRequest): string[] {
    return this.store.range(req).kvs.map((kv) => str(kv.key));
  }

  async reopen(opts: StoreOptions = {}): Promise<void> {
    await this.store.close();
    this.store = MvccStore.open(this.path, opts);
  }

  async close(): Promise<void> {
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** [value, create_revision, mod_revision, version] of a key-value, for compact expectations. */
export function summary(kv: KeyValue | undefined): [string, number, number, number] | undefined {
  return kv && [str(kv.value), kv.create_revision, kv.mod_revision, kv.version];
}
