// etcd v3's key-value requests and results, with proto field names. Keys and values are bytes;
// revisions are numbers (exact to 2^53-1). The HTTP/JSON and gRPC layers translate to and from
// these shapes.
import type { AuthOp } from '../auth/state.js';

export type Bytes = Uint8Array;

export interface KeyValue {
  key: Bytes;
  create_revision: number;
  mod_revision: number;
  version: number;
  value: Bytes;
  lease: number;
}

export interface ResponseHeader {
  revision: number;
}

export type SortOrder = 'NONE' | 'ASCEND' | 'DESCEND';
export type SortTarget = 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';

export interface RangeRequest {
  key: Bytes;
  range_end?: Bytes;
  limit?: number;
  revision?: number;
  sort_order?: SortOrder;
  sort_target?: SortTarget;
  /** Meaningful to the server (skip the ReadIndex round); the store reads locally either way. */
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
  min_mod_revision?: number;
  max_mod_revision?: number;
  min_create_revision?: number;
  max_create_revision?: number;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: Bytes;
  value?: Bytes;
  lease?: number;
  prev_kv?: boolean;
  ignore_value?: boolean;
  ignore_lease?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prev_kv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: Bytes;
  range_end?: Bytes;
  prev_kv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prev_kvs: KeyValue[];
}

export type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';
export type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';

export interface Compare {
  result: CompareResult;
  target: CompareTarget;
  key: Bytes;
  range_end?: Bytes;
  version?: number;
  create_revision?: number;
  mod_revision?: number;
  value?: Bytes;
  lease?: number;
}

export type RequestOp =
  | { request_range: RangeRequest }
  | { request_put: PutRequest }
  | { request_delete_range: DeleteRangeRequest }
  | { request_txn: TxnRequest };

export type ResponseOp =
  | { response_range: RangeResponse }
  | { response_put: PutResponse }
  | { response_delete_range: DeleteRangeResponse }
  | { response_txn: TxnResponse };

export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  /** etcd waits for the physical removal when set; here compaction is always complete on return. */
  physical?: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader;
}

export type AlarmType = 'NOSPACE';

/** etcd's AlarmRequest, minus GET (read `alarms()` locally). It goes through the log so that every member agrees. */
export interface AlarmRequest {
  action: 'ACTIVATE' | 'DEACTIVATE';
  alarm: AlarmType;
}

export interface AlarmResponse {
  header: ResponseHeader;
  alarms: AlarmType[];
}

/** etcd's LeaseGrantRequest once the member has chosen the ID (if 0) and raised the TTL to the minimum. */
export interface LeaseGrantRequest {
  ID: number;
  /** Seconds. */
  TTL: number;
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: number;
  TTL: number;
}

/** Revoking deletes the lease's keys, in one revision (none if it holds no keys). */
export interface LeaseRevokeRequest {
  ID: number;
}

export interface LeaseRevokeResponse {
  header: ResponseHeader;
}

/**
 * What a Raft entry asks the backend to do. `user` names who made a client's request ('' for no
 * one), checked against the auth store when applied, and `authRevision` the auth store's revision
 * its JWT was signed at (a request with an older one is refused, as etcd refuses it); the
 * members' own requests (a lease that
 * expired) have none.
 */
export type WriteRequest = (
  | { put: PutRequest }
  | { delete_range: DeleteRangeRequest }
  | { txn: TxnRequest }
  | { compaction: CompactionRequest }
  | { alarm: AlarmRequest }
  | { lease_grant: LeaseGrantRequest }
  | { lease_revoke: LeaseRevokeRequest }
  | { auth: AuthOp }
) & { user?: string; authRevision?: number };

/** The answer to a change of the auth store. */
export interface AuthResponse {
  header: ResponseHeader;
}

export type WriteResponse =
  | PutResponse
  | DeleteRangeResponse
  | TxnResponse
  | CompactionResponse
  | AlarmResponse
  | LeaseGrantResponse
  | LeaseRevokeResponse
  | AuthResponse;

/**
 * One committed Raft entry for `applyBatch`. `request` is null for an entry that carries no write
 * (a new leader's empty entry, a configuration change); it may also still be encoded, as the
 * server keeps it in the log.
 */
export interface ApplyEntry {
  index: number;
  term: number;
  request: WriteRequest | Uint8Array | null;
}

/** Per entry: the response, the request's own error, a no-op, or an entry applied before. */
export type ApplyResult = WriteResponse | MvccError | { noop: true } | { skipped: true };

export type EventType = 'PUT' | 'DELETE';

/** A watch event: for a DELETE, `kv` holds only the key and the deletion's mod_revision. */
export interface Event {
  type: EventType;
  kv: KeyValue;
  prev_kv?: KeyValue;
}

export interface Logger {
  info(message: string, meta?: object): void;
  warn(message: string, meta?: object): void;
}

export type MvccErrorCode =
  | 'compacted'
  | 'futureRev'
  | 'keyNotFound'
  | 'duplicateKey'
  | 'tooManyOps'
  | 'nospace'
  | 'invalid'
  | 'leaseNotFound'
  | 'leaseExists'
  | 'unavailable'
  // auth refusals (node/auth/state.ts), named by their gRPC codes
  | 'failedPrecondition'
  | 'permissionDenied'
  | 'unauthenticated'
  // an error etcd's server has no gRPC code for (gRPC Unknown, HTTP 500)
  | 'unknown';

export class MvccError extends Error {
  constructor(
    readonly code: MvccErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MvccError';
  }
}

export const ERR = {
  compacted: () => new MvccError('compacted', 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: () => new MvccError('futureRev', 'etcdserver: mvcc: required revision is a future revision'),
  keyNotFound: () => new MvccError('keyNotFound', 'etcdserver: key not found'),
  duplicateKey: () => new MvccError('duplicateKey', 'etcdserver: duplicate key given in txn request'),
  tooManyOps: () => new MvccError('tooManyOps', 'etcdserver: too many operations in txn request'),
  nospace: () => new MvccError('nospace', 'etcdserver: mvcc: database space exceeded'),
  emptyKey: () => new MvccError('invalid', 'etcdserver: key is not provided'),
  keyTooLong: (max: number) => new MvccError('invalid', `mvcc: keys are limited to ${max} bytes`),
  leaseNotFound: () => new MvccError('leaseNotFound', 'etcdserver: requested lease not found'),
  leaseExists: () => new MvccError('leaseExists', 'etcdserver: lease already exists'),
  malformed: (why: string) => new MvccError('invalid', `mvcc: malformed request: ${why}`),
  reopening: () =>
    new MvccError(
      'unavailable',
      'mvcc: the store file is being swapped (snapshot install or defragment); retry',
    ),
  failed: () =>
    new MvccError('unavailable', 'mvcc: the store failed to apply or commit; the member is stopping'),
};
