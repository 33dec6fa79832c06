// etcd's v3 JSON gateway shapes: bytes as base64, 64-bit integers as strings (numbers accepted
// on input), proto field names (camelCase accepted on input), enums by name (or number), and
// zero values left out of responses. Input is validated field by field so a bad request gets a
// message that says which field is wrong.
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  KeyValue,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
} from '../mvcc/types.js';

import type { WatchSpec } from '../server/watch-hub.js';
import type { LeaderKey } from './election-service.js';

export class BadRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequest';
  }
}

type Obj = Record<string, unknown>;

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function field(o: Obj, name: string): unknown {
  return o[name] ?? o[camel(name)];
}

/** A member's peer URLs, as member add and member update take them: a non-empty list of URLs. */
export function peerURLsOf(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((u) => typeof u === 'string' && URL.canParse(u))) {
    throw new BadRequest('peerURLs must be a non-empty list of URLs');
  }
  return v as string[];
}

export function asObject(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new BadRequest(`${what} must be a JSON object`);
  return v as Obj;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function bytes(o: Obj, name: string, required = false): Uint8Array | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) {
    if (required) throw new BadRequest(`${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length % 4 === 1 || !BASE64.test(v)) {
    throw new BadRequest(`${name} must be base64-encoded bytes`);
  }
  return new Uint8Array(Buffer.from(v, 'base64'));
}

/** A bytes field, empty when absent (proto3's default). */
export function bytesOrEmpty(o: Obj, name: string): Uint8Array {
  return bytes(o, name) ?? new Uint8Array();
}

export function key(o: Obj, name = 'key'): Uint8Array {
  const k = bytes(o, name, true)!;
  if (k.length === 0) throw new BadRequest('etcdserver: key is not provided');
  return k;
}

export function int64(o: Obj, name: string): number | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : typeof v === 'number' ? v : NaN;
  if (!Number.isSafeInteger(n))
    throw new BadRequest(`${name} must be an integer (a number or a decimal string)`);
  return n;
}

export function bool(o: Obj, name: string): boolean | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new BadRequest(`${name} must be true or false`);
  return v;
}

function enumOf<T extends string>(o: Obj, name: string, values: readonly T[]): T | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < values.length) return values[v];
  if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
  throw new BadRequest(`${name} must be one of ${values.join(', ')}`);
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function rangeRequest(body: unknown): RangeRequest {
  const o = asObject(body, 'request');
  return defined({
    key: key(o),
    range_end: bytes(o, 'range_end'),
    limit: int64(o, 'limit'),
    revision: int64(o, 'revision'),
    sort_order: enumOf<SortOrder>(o, 'sort_order', ['NONE', 'ASCEND', 'DESCEND']),
    sort_target: enumOf<SortTarget>(o, 'sort_target', ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE']),
    serializable: bool(o, 'serializable'),
    keys_only: bool(o, 'keys_only'),
    count_only: bool(o, 'count_only'),
    min_mod_revision: int64(o, 'min_mod_revision'),
    max_mod_revision: int64(o, 'max_mod_revision'),
    min_create_revision: int64(o, 'min_create_revision'),
    max_create_revision: int64(o, 'max_create_revision'),
  });
}

export function putRequest(body: unknown): PutRequest {
  const o = asObject(body, 'request');
  return defined({
    key: key(o),
    value: bytesOrEmpty(o, 'value'),
    lease: int64(o, 'lease'),
    prev_kv: bool(o, 'prev_kv'),
    ignore_value: bool(o, 'ignore_value'),
    ignore_lease: bool(o, 'ignore_lease'),
  });
}

export function deleteRangeRequest(body: unknown): DeleteRangeRequest {
  const o = asObject(body, 'request');
  return defined({ key: key(o), range_end: bytes(o, 'range_end'), prev_kv: bool(o, 'prev_kv') });
}

function compare(v: unknown): Compare {
  const o = asObject(v, 'compare');
  const target =
    enumOf<CompareTarget>(o, 'target', ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE']) ?? 'VERSION';
  return defined({
    result: enumOf<CompareResult>(o, 'result', ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL']) ?? 'EQUAL',
    target,
    key: key(o),
    range_end: bytes(o, 'range_end'),
    version: int64(o, 'version'),
    create_revision: int64(o, 'create_revision'),
    mod_revision: int64(o, 'mod_revision'),
    value: bytes(o, 'value'),
    lease: int64(o, 'lease'),
  });
}

function requestOp(v: unknown): RequestOp {
  const o = asObject(v, 'txn operation');
  const range = field(o, 'request_range');
  if (range !== undefined) return { request_range: rangeRequest(range) };
  const put = field(o, 'request_put');
  if (put !== undefined) return { request_put: putRequest(put) };
  const del = field(o, 'request_delete_range');
  if (del !== undefined) return { request_delete_range: deleteRangeRequest(del) };
  const txn = field(o, 'request_txn');
  if (txn !== undefined) return { request_txn: txnRequest(txn) };
  throw new BadRequest(
    'a txn operation needs one of request_range, request_put, request_delete_range, request_txn',
  );
}

function list(o: Obj, name: string): unknown[] {
  const v = field(o, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadRequest(`${name} must be a list`);
  return v;
}

export function txnRequest(body: unknown): TxnRequest {
  const o = asObject(body, 'request');
  return {
    compare: list(o, 'compare').map(compare),
    success: list(o, 'success').map(requestOp),
    failure: list(o, 'failure').map(requestOp),
  };
}

/** An election's leader key as Proclaim and Resign carry it in `leader`, if they do. */
export function leaderKeyOf(o: Obj): LeaderKey | undefined {
  const v = field(o, 'leader');
  if (v === undefined || v === null) return undefined;
  const l = asObject(v, 'leader');
  return {
    name: bytesOrEmpty(l, 'name'),
    key: bytesOrEmpty(l, 'key'),
    rev: int64(l, 'rev') ?? 0,
    lease: int64(l, 'lease') ?? 0,
  };
}

export function watchCreateRequest(body: unknown): WatchSpec {
  const o = asObject(body, 'create_request');
  const filters = list(o, 'filters');
  return {
    key: key(o),
    rangeEnd: bytes(o, 'range_end'),
    startRevision: int64(o, 'start_revision') ?? 0,
    prevKv: bool(o, 'prev_kv') ?? false,
    noPut: filters.includes('NOPUT') || filters.includes(0),
    noDelete: filters.includes('NODELETE') || filters.includes(1),
    progressNotify: bool(o, 'progress_notify') ?? false,
  };
}

// ---- responses ------------------------------------------------------------------------------------

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const str = (n: number) => String(n);

export function kvJson(kv: KeyValue): Obj {
  return defined({
    key: b64(kv.key),
    create_revision: kv.create_revision ? str(kv.create_revision) : undefined,
    mod_revision: kv.mod_revision ? str(kv.mod_revision) : undefined,
    version: kv.version ? str(kv.version) : undefined,
    value: kv.value.length > 0 ? b64(kv.value) : undefined,
    lease: kv.lease ? str(kv.lease) : undefined,
  });
}

/** Turns a backend response into gateway JSON: bytes to base64, numbers to strings, no zero values. */
export function responseJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return v.length > 0 ? b64(v) : undefined;
  if (typeof v === 'number') return v === 0 ? undefined : str(v);
  if (typeof v === 'boolean') return v ? true : undefined;
  if (Array.isArray(v))
    return v.length > 0 ? v.map((x) => (isKv(x) ? kvJson(x) : responseJson(x))) : undefined;
  if (typeof v === 'object' && v !== null) {
    if (isKv(v)) return kvJson(v);
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) {
      const j = responseJson(x);
      if (j !== undefined) out[k] = j;
    }
    return out;
  }
  return v;
}

function isKv(v: unknown): v is KeyValue {
  return typeof v === 'object' && v !== null && 'key' in v && 'mod_revision' in v && 'create_revision' in v;
}
