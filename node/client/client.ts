// A small client for raftkv's (and etcd's) v3 JSON API: what raftkvctl and the tests use.
// It tries the endpoints in order and moves on when one is unreachable. undici (the fetch that
// Node bundles, as a package) because only its Agent takes a CA and a client certificate.
import type { ConnectionOptions } from 'node:tls';
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { prefixEnd } from '../mvcc/key-range.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');
const text = (s: string | undefined) => (s === undefined ? '' : Buffer.from(s, 'base64').toString());

/** A key or, with `prefix`, every key starting with it (an empty prefix means all keys, as in etcdctl). */
function keyRange(key: string, prefix = false): Json {
  if (!prefix) return { key: b64(key) };
  if (key === '') return { key: b64('\0'), range_end: b64('\0') };
  return { key: b64(key), range_end: b64(prefixEnd(Buffer.from(key))) };
}

export interface Kv {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The lease ID (decimal), '0' for none. */
  lease: string;
}

export interface LeaseInfo {
  /** Decimal, as etcd's JSON API gives int64s. */
  id: string;
  /** Seconds left; -1 if the lease does not exist (expired or revoked). */
  ttl: number;
  grantedTtl: number;
  keys: string[];
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: Kv;
}

export type Json = Record<string, unknown>;

function toKv(kv: Json): Kv {
  return {
    key: text(kv.key as string),
    value: text(kv.value as string | undefined),
    createRevision: Number(kv.create_revision ?? 0),
    modRevision: Number(kv.mod_revision ?? 0),
    version: Number(kv.version ?? 0),
    lease: String(kv.lease ?? '0'),
  };
}

/** Requests that change nothing (a keepalive changes only the leader's clock), so another member may be tried. */
const READS = new Set([
  '/v3/kv/range',
  '/v3/cluster/member/list',
  '/v3/maintenance/status',
  '/v3/lease/keepalive',
  '/v3/lease/timetolive',
  '/v3/lease/leases',
]);

/** A failed fetch as an error that names the endpoint and the cause ("fetch failed" alone says neither). */
function unreachable(endpoint: string, e: unknown): Error {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause ? ` (${err.cause.code ?? err.cause.message})` : '';
  return new Error(`${endpoint} unreachable: ${err.message ?? String(e)}${cause}`, { cause: err.cause });
}

export class KvClient {
  private readonly agent: Agent | undefined;

  /**
   * `tls` applies to https:// endpoints: the CA to trust, and the certificate to present.
   * `retryUnavailable`: a read that every endpoint refuses as unavailable (no leader: an
   * election) is tried again with backoff until `timeoutMs` has passed, as etcd's clients retry.
   */
  constructor(
    readonly endpoints: string[],
    private readonly timeoutMs = 10_000,
    tls?: ConnectionOptions,
    private readonly retryUnavailable = false,
  ) {
    this.agent = tls && new Agent({ connect: tls });
  }

  /** Closes the TLS agent's connections (plain endpoints use fetch's shared pool). */
  async close(): Promise<void> {
    await this.agent?.close();
  }

  /** A client for one piece of work, closed after it (so a TLS one leaves no connection open). */
  static async using<T>(
    endpoints: string[],
    timeoutMs: number,
    tls: ConnectionOptions | undefined,
    work: (c: KvClient) => Promise<T>,
  ): Promise<T> {
    const c = new KvClient(endpoints, timeoutMs, tls);
    try {
      return await work(c);
    } finally {
      await c.close();
    }
  }

  private fetch(url: URL, init: RequestInit): Promise<Response> {
    return fetch(url, this.agent ? { ...init, dispatcher: this.agent } : init);
  }

  /** Sent with every call once set (by `authenticate`, or from another client's). */
  token: string | undefined;

  /** etcd's Authenticate: calls from now on carry the token it grants. */
  async authenticate(name: string, password: string): Promise<void> {
    const r = await this.call('/v3/auth/authenticate', { name, password });
    this.token = String(r.token);
  }

  /** `token`: an auth token (etcd's Authenticate), sent as the gateway's Authorization header. */
  async call(path: string, body: Json = {}, token = this.token): Promise<Json> {
    const deadline = performance.now() + this.timeoutMs;
    for (let pauseMs = 50; ; pauseMs = Math.min(2 * pauseMs, 500)) {
      const r = await this.callEach(path, body, token);
      if (!(r instanceof ApiError)) return r;
      if (!this.retryUnavailable || performance.now() + pauseMs >= deadline) throw r;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  /**
   * One round over the endpoints: the first answer, or the 503 of a read that no endpoint could
   * serve (returned, for call() to retry); any other failure is thrown.
   */
  private async callEach(path: string, body: Json, token: string | undefined): Promise<Json | ApiError> {
    let lastError: unknown;
    let unavailable: ApiError | undefined;
    for (const ep of this.endpoints) {
      let res: Response;
      try {
        res = await this.fetch(new URL(path, ep), {
          method: 'POST',
          body: JSON.stringify(body),
          ...(token ? { headers: { authorization: token } } : {}),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (e) {
        lastError = unreachable(ep, e);
        continue;
      }
      const json = (await res.json()) as Json;
      if (res.ok) return json;
      const err = new ApiError(res.status, Number(json.code ?? 0), String(json.message ?? res.statusText));
      // A read may go to the next member when this one cannot serve; a write might have
      // happened, so its error goes back to the caller.
      if (res.status !== 503 || !READS.has(path)) throw err;
      unavailable = err;
    }
    if (unavailable) return unavailable;
    throw lastError ?? new Error('no endpoint given');
  }

  async put(key: string, value: string, opts: { lease?: string } = {}): Promise<number> {
    const body: Json = { key: b64(key), value: b64(value) };
    if (opts.lease) body.lease = opts.lease;
    const r = await this.call('/v3/kv/put', body);
    return Number((r.header as Json).revision);
  }

  /** Grants a lease of `ttl` seconds (the member picks the ID unless given); returns its ID and TTL. */
  async leaseGrant(ttl: number, id?: string): Promise<{ id: string; ttl: number }> {
    const r = await this.call('/v3/lease/grant', { TTL: String(ttl), ...(id ? { ID: id } : {}) });
    return { id: String(r.ID), ttl: Number(r.TTL ?? 0) };
  }

  /** Revokes a lease, deleting the keys it holds. */
  async leaseRevoke(id: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id });
  }

  /** One keepalive: the lease's TTL, or 0 if it no longer exists. */
  async leaseKeepAlive(id: string): Promise<number> {
    const r = await this.call('/v3/lease/keepalive', { ID: id });
    return Number(((r.result ?? {}) as Json).TTL ?? 0);
  }

  async leaseTimeToLive(id: string, keys = false): Promise<LeaseInfo> {
    const r = await this.call('/v3/lease/timetolive', { ID: id, keys });
    return {
      id: String(r.ID ?? id),
      ttl: Number(r.TTL ?? 0),
      grantedTtl: Number(r.grantedTTL ?? 0),
      keys: ((r.keys as string[] | undefined) ?? []).map(text),
    };
  }

  /** The IDs of every lease. */
  async leases(): Promise<string[]> {
    const r = await this.call('/v3/lease/leases');
    return ((r.leases as Json[] | undefined) ?? []).map((l) => String(l.ID));
  }

  async get(
    key: string,
    opts: { prefix?: boolean; serializable?: boolean; revision?: number } = {},
  ): Promise<{ kvs: Kv[]; revision: number }> {
    const body = keyRange(key, opts.prefix);
    if (opts.serializable) body.serializable = true;
    if (opts.revision) body.revision = String(opts.revision);
    const r = await this.call('/v3/kv/range', body);
    const kvs = ((r.kvs as Json[] | undefined) ?? []).map(toKv);
    return { kvs, revision: Number((r.header as Json).revision) };
  }

  /**
   * Watches a key or prefix from `startRevision` (0: from now on) on the first endpoint that
   * answers, yielding each batch of events as it arrives. Ends when the stream does (the member
   * went away) or `signal` aborts; throws when the member cancels the watch (e.g. compacted).
   */
  async *watch(
    key: string,
    opts: { prefix?: boolean; startRevision?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<WatchEvent[]> {
    const create: Json = keyRange(key, opts.prefix);
    if (opts.startRevision) create.start_revision = String(opts.startRevision);
    let res: Response | undefined;
    let lastError: unknown;
    for (const ep of this.endpoints) {
      try {
        res = await this.fetch(new URL('/v3/watch', ep), {
          method: 'POST',
          body: JSON.stringify({ create_request: create }),
          signal: opts.signal,
        });
        break;
      } catch (e) {
        lastError = unreachable(ep, e);
      }
    }
    if (!res) throw lastError ?? new Error('no endpoint given');
    if (!res.ok || !res.body) {
      const json = (await res.json()) as Json;
      throw new ApiError(res.status, Number(json.code ?? 0), String(json.message ?? res.statusText));
    }
    let buffered = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() === '') continue;
        const result = ((JSON.parse(line) as Json).result ?? {}) as Json;
        if (result.canceled) throw new Error(`watch canceled: ${String(result.cancel_reason ?? '')}`);
        const events = (result.events as Json[] | undefined) ?? [];
        if (events.length > 0) {
          yield events.map((e) => ({ type: e.type === 'DELETE' ? 'DELETE' : 'PUT', kv: toKv(e.kv as Json) }));
        }
      }
    }
  }

  async del(key: string, opts: { prefix?: boolean } = {}): Promise<number> {
    const r = await this.call('/v3/kv/deleterange', keyRange(key, opts.prefix));
    return Number(r.deleted ?? 0);
  }

  /**
   * Compare-and-swap in one txn: set key to `next` only if its value is `expected` (undefined =
   * absent). Returns whether it did, and the revision the txn was answered at.
   */
  async cas(
    key: string,
    expected: string | undefined,
    next: string,
  ): Promise<{ succeeded: boolean; revision: number }> {
    const compare =
      expected === undefined
        ? { key: b64(key), target: 'VERSION', result: 'EQUAL', version: '0' }
        : { key: b64(key), target: 'VALUE', result: 'EQUAL', value: b64(expected) };
    const r = await this.call('/v3/kv/txn', {
      compare: [compare],
      success: [{ request_put: { key: b64(key), value: b64(next) } }],
    });
    return { succeeded: r.succeeded === true, revision: Number((r.header as Json).revision) };
  }

  /** The membership; `linearizable: false` takes the member's own view, which needs no leader. */
  async members({ linearizable = true } = {}): Promise<
    Array<{ ID: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner?: boolean }>
  > {
    const r = await this.call('/v3/cluster/member/list', linearizable ? {} : { linearizable: false });
    return r.members as never;
  }

  async memberAdd(peerURL: string, isLearner: boolean): Promise<string> {
    const r = await this.call('/v3/cluster/member/add', { peerURLs: [peerURL], isLearner });
    return String((r.member as Json).ID);
  }

  async memberRemove(id: string): Promise<void> {
    await this.call('/v3/cluster/member/remove', { ID: id });
  }

  async memberPromote(id: string): Promise<void> {
    await this.call('/v3/cluster/member/promote', { ID: id });
  }

  async memberUpdate(id: string, peerURLs: string[]): Promise<void> {
    await this.call('/v3/cluster/member/update', { ID: id, peerURLs });
  }

  async status(): Promise<{
    leader: string;
    raftTerm: number;
    raftIndex: number;
    raftAppliedIndex: number;
    memberId: string;
    isLearner: boolean;
    dbSize: number;
    version: string;
  }> {
    const r = await this.call('/v3/maintenance/status');
    return {
      leader: String(r.leader ?? '0'),
      raftTerm: Number(r.raftTerm ?? 0),
      raftIndex: Number(r.raftIndex ?? 0),
      raftAppliedIndex: Number(r.raftAppliedIndex ?? 0),
      memberId: String((r.header as Json).member_id),
      isLearner: r.isLearner === true,
      dbSize: Number(r.dbSize ?? 0),
      version: String(r.version ?? ''),
    };
  }

  async health(): Promise<{ health: string; reason: string }> {
    const res = await this.fetch(new URL('/health', this.endpoints[0]), {
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return (await res.json()) as { health: string; reason: string };
  }
}
