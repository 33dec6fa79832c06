// etcd's v3 gRPC API (KV, Watch, Lease, Cluster, Maintenance, Auth) on the client port's neighbour, so etcdctl and
// etcd client libraries work unchanged. @grpc/grpc-js serves it; @grpc/proto-loader reads the
// .proto files in ./proto (written from etcd's documented field names and numbers).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  MvccError,
  type Compare,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
} from '../mvcc/types.js';
import type { WatchSink, WatchSpec } from '../server/watch-hub.js';
import { parseMemberId } from '../server/ids.js';
import { grpcCode } from './errors.js';
import { BadRequest, peerURLsOf } from './json.js';
import { authCalls, type Fields } from './auth-calls.js';
import { PROTO_DIR } from './proto-dir.js';
import type { Caller } from './auth-service.js';
import type { KvService } from './service.js';
import type { GrpcMetrics } from './grpc-metrics.js';
import { LockService } from './lock-service.js';
import { ElectionService, type LeaderKey } from './election-service.js';

type Obj = Record<string, unknown>;

/** Decoded with longs as strings and enums as names; numbers come back as JS numbers here. */
const num = (v: unknown): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new BadRequest(`integer out of range: ${String(v)}`);
  return n === 0 ? undefined : n;
};
const bytesOrUndefined = (v: unknown): Uint8Array | undefined =>
  v instanceof Uint8Array && v.length > 0 ? new Uint8Array(v) : undefined;
const bytesOf = (v: unknown): Uint8Array => bytesOrUndefined(v) ?? new Uint8Array();

function key(o: Obj): Uint8Array {
  const k = bytesOrUndefined(o.key);
  if (!k) throw new BadRequest('etcdserver: key is not provided');
  return k;
}

function rangeReq(o: Obj): RangeRequest {
  return {
    key: key(o),
    range_end: bytesOrUndefined(o.range_end),
    limit: num(o.limit),
    revision: num(o.revision),
    sort_order: o.sort_order as RangeRequest['sort_order'],
    sort_target: o.sort_target as RangeRequest['sort_target'],
    serializable: o.serializable === true,
    keys_only: o.keys_only === true,
    count_only: o.count_only === true,
    min_mod_revision: num(o.min_mod_revision),
    max_mod_revision: num(o.max_mod_revision),
    min_create_revision: num(o.min_create_revision),
    max_create_revision: num(o.max_create_revision),
  };
}

function putReq(o: Obj) {
  return {
    key: key(o),
    value: bytesOf(o.value),
    lease: num(o.lease),
    prev_kv: o.prev_kv === true,
    ignore_value: o.ignore_value === true,
    ignore_lease: o.ignore_lease === true,
  };
}

function deleteReq(o: Obj) {
  return { key: key(o), range_end: bytesOrUndefined(o.range_end), prev_kv: o.prev_kv === true };
}

function compare(o: Obj): Compare {
  return {
    result: o.result as Compare['result'],
    target: o.target as Compare['target'],
    key: key(o),
    range_end: bytesOrUndefined(o.range_end),
    version: num(o.version),
    create_revision: num(o.create_revision),
    mod_revision: num(o.mod_revision),
    value: o.value instanceof Uint8Array ? new Uint8Array(o.value) : undefined,
    lease: num(o.lease),
  };
}

function requestOp(o: Obj): RequestOp {
  switch (o.request) {
    case 'request_range':
      return { request_range: rangeReq(o.request_range as Obj) };
    case 'request_put':
      return { request_put: putReq(o.request_put as Obj) };
    case 'request_delete_range':
      return { request_delete_range: deleteReq(o.request_delete_range as Obj) };
    case 'request_txn':
      return { request_txn: txnReq(o.request_txn as Obj) };
    default:
      throw new BadRequest(
        'a txn operation needs one of request_range, request_put, request_delete_range, request_txn',
      );
  }
}

function txnReq(o: Obj): TxnRequest {
  const list = (v: unknown) => (Array.isArray(v) ? (v as Obj[]) : []);
  return {
    compare: list(o.compare).map(compare),
    success: list(o.success).map(requestOp),
    failure: list(o.failure).map(requestOp),
  };
}

/** Backend results to proto messages: bytes as Buffers, a oneof named by its field. */
function toProto(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (Array.isArray(v)) return v.map(toProto);
  if (typeof v === 'object' && v !== null) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) out[k] = toProto(x);
    return out;
  }
  return v;
}

type Unary = (req: Obj, caller: Caller, call: grpc.ServerUnaryCall<Obj, unknown>) => Promise<unknown>;

/**
 * etcd's clients send the auth token as `token` metadata (the gateway as `authorization`). Without
 * one, a verified client certificate's Common Name names the user, as with etcd. grpc-js reports a
 * certificate only from a TLS connection that checked it, and the listener asks for one only with
 * --client-cert-auth, which is when etcd reads the CN.
 */
function callerOf(call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'metadata' | 'getAuthContext'>): Caller {
  const [token] = [...call.metadata.get('token'), ...call.metadata.get('authorization')];
  if (typeof token === 'string' && token) return { token };
  const cn = call.getAuthContext().sslPeerCertificate?.subject?.CN;
  const certUser = Array.isArray(cn) ? cn[0] : cn;
  return certUser ? { certUser } : {};
}

function unary(fn: Unary): grpc.handleUnaryCall<Obj, unknown> {
  return (call, callback) => {
    // Through a promise, so a request rejected while it is parsed gets its status too (a
    // synchronous throw here would reach grpc-js as UNKNOWN "Unknown error"; found by fuzzing).
    Promise.resolve(call.request)
      .then((req) => fn(req, callerOf(call), call))
      .then(
        (res) => callback(null, toProto(res)),
        (e: unknown) =>
          callback(
            { code: grpcCode(e) as grpc.status, details: e instanceof Error ? e.message : String(e) },
            null,
          ),
      );
  };
}

function idOf(v: unknown, name: string): string {
  const id = parseMemberId(typeof v === 'string' ? v : String(v ?? ''));
  if (!id) throw new BadRequest(`${name} must be a member ID`);
  return id;
}

function watchSpec(c: Obj): WatchSpec {
  const filters = Array.isArray(c.filters) ? (c.filters as string[]) : [];
  return {
    key: key(c),
    rangeEnd: bytesOrUndefined(c.range_end),
    startRevision: num(c.start_revision) ?? 0,
    prevKv: c.prev_kv === true,
    noPut: filters.includes('NOPUT'),
    noDelete: filters.includes('NODELETE'),
    progressNotify: c.progress_notify === true,
  };
}

/** etcd's Watch: one bidirectional stream carries any number of watches. */
function watchStream(service: KvService): grpc.handleBidiStreamingCall<Obj, unknown> {
  return (call) => {
    const hub = service.watches;
    const caller = callerOf(call);
    const mine = new Set<number>();
    const write = (res: Obj) => {
      if (!call.writableEnded) call.write(toProto({ header: service.header(), ...res }));
    };
    const sink: WatchSink = {
      events: (watch_id, events) => write({ watch_id, events }),
      canceled: (watch_id, cancel_reason, compact_revision) => {
        mine.delete(watch_id);
        write({ watch_id, canceled: true, cancel_reason, compact_revision });
      },
      progress: (watch_id) => write({ watch_id }),
    };
    let closed = false;
    const handle = async (req: Obj) => {
      if (closed) return;
      if (req.request_union === 'create_request') {
        try {
          const spec = watchSpec(req.create_request as Obj);
          await service.auth.checkRead(caller, spec.key, spec.rangeEnd);
          if (closed) return;
          hub.create(spec, sink, (watch_id) => {
            mine.add(watch_id);
            write({ watch_id, created: true });
          });
        } catch (e) {
          const compact_revision =
            e instanceof MvccError && e.code === 'compacted' ? service.compactedRevision() : 0;
          const cancel_reason = e instanceof Error ? e.message : String(e);
          write({ watch_id: -1, created: true, canceled: true, compact_revision, cancel_reason });
        }
      } else if (req.request_union === 'cancel_request') {
        const watch_id = num((req.cancel_request as Obj).watch_id) ?? 0;
        hub.cancel(watch_id);
        mine.delete(watch_id);
        write({ watch_id, canceled: true });
      } else if (req.request_union === 'progress_request') {
        write({ watch_id: -1 });
      }
    };
    // One request at a time, in the order sent: a create waits for its auth check (a JWT's is
    // asynchronous), and what follows it waits for the create (watch IDs go in request order).
    let turn = Promise.resolve();
    call.on('data', (req: Obj) => {
      turn = turn.then(() => handle(req));
    });
    const close = () => {
      closed = true;
      for (const id of mine) hub.cancel(id);
      mine.clear();
      if (!call.writableEnded) call.end();
    };
    // As etcd: a client that has closed its sending side (grpcurl does, after its requests) still
    // gets its events; the stream ends when the client cancels it or goes.
    call.on('cancelled', close);
    call.on('error', close);
  };
}

/** A decoded proto message's fields for the Auth calls: bytes are Buffers, absent fields zero values. */
function protoFields(o: Obj): Fields {
  return {
    str: (name) => (typeof o[name] === 'string' ? (o[name] as string) : ''),
    bytes: (name) => bytesOf(o[name]),
    bool: (name) => o[name] === true,
    sub: (name) => protoFields(typeof o[name] === 'object' && o[name] !== null ? (o[name] as Obj) : {}),
  };
}

/** An election's leader key as a request carries it (Proclaim, Resign), if it does. */
function leaderKey(v: unknown): LeaderKey | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Obj;
  return { name: bytesOf(o.name), key: bytesOf(o.key), rev: num(o.rev) ?? 0, lease: num(o.lease) ?? 0 };
}

/** etcd's Observe: the leader of an election and each change of it, until the client cancels. */
function observeStream(elections: ElectionService): grpc.handleServerStreamingCall<Obj, unknown> {
  return (call) => {
    const canceled = cancelSignal(call);
    elections
      .observe(bytesOf(call.request.name), callerOf(call), canceled, (r) => call.write(toProto(r)))
      .catch((e: unknown) => {
        if (canceled.aborted) return;
        call.emit('error', { code: grpcCode(e), details: e instanceof Error ? e.message : String(e) });
      });
  };
}

/** Aborted when the client cancels the call or its deadline passes. */
function cancelSignal(
  call: grpc.ServerUnaryCall<Obj, unknown> | grpc.ServerWritableStream<Obj, unknown>,
): AbortSignal {
  const canceled = new AbortController();
  call.once('cancelled', () => canceled.abort(new Error('context canceled')));
  return canceled.signal;
}

function leaseId(o: Obj): number {
  const id = num(o.ID);
  if (id === undefined || id < 0) throw new BadRequest('ID must be a lease ID (a positive integer)');
  return id;
}

/** etcd's LeaseKeepAlive: a stream of keepalives, each answered in order with the lease's TTL. */
function keepAliveStream(service: KvService): grpc.handleBidiStreamingCall<Obj, unknown> {
  return (call) => {
    let answered = Promise.resolve();
    call.on('data', (req: Obj) => {
      answered = answered.then(async () => {
        try {
          const res = await service.leaseKeepAlive(leaseId(req));
          if (!call.writableEnded) call.write(toProto(res));
        } catch (e) {
          call.emit('error', { code: grpcCode(e), details: e instanceof Error ? e.message : String(e) });
        }
      });
    });
    const close = () => {
      if (!call.writableEnded) call.end();
    };
    call.on('end', () => void answered.then(close));
    call.on('cancelled', close);
  };
}

/** Blobs of at most this size, as etcd sends (a history row alone may be bigger than gRPC likes). */
const SNAPSHOT_BLOB_BYTES = 64 * 1024;

/**
 * etcd's Snapshot: the member's snapshot stream and its sha256, in blobs, waiting for the client
 * to drain each. remaining_bytes is 0: the stream is cut from a read transaction as it goes, so
 * its size is not known ahead (etcd's clients do not read the field).
 */
function snapshotStream(service: KvService): grpc.handleServerStreamingCall<Obj, unknown> {
  return async (call) => {
    let cancelled = false;
    call.on('cancelled', () => (cancelled = true));
    try {
      const header = toProto(service.header());
      for await (const chunk of service.snapshot(callerOf(call))) {
        for (let at = 0; at < chunk.byteLength && !cancelled; at += SNAPSHOT_BLOB_BYTES) {
          const blob = chunk.subarray(at, at + SNAPSHOT_BLOB_BYTES);
          if (!call.write({ header, remaining_bytes: '0', blob })) await drainedOrCancelled(call);
        }
        if (cancelled) return;
      }
      call.end();
    } catch (e) {
      call.emit('error', { code: grpcCode(e), details: e instanceof Error ? e.message : String(e) });
    }
  };
}

/** A cancelled call never drains; waiting for either lets the snapshot's read transaction end. */
function drainedOrCancelled(call: grpc.ServerWritableStream<Obj, unknown>): Promise<void> {
  return new Promise((ok) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      ok();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}

/** The gRPC services etcd serves, by name, as client constructors: KV, Watch, Lease, ... (etcdserverpb), Lock, Election, Health. */
export function etcdServices(): Record<string, grpc.ServiceClientConstructor> {
  const def = protoLoader.loadSync(['rpc.proto', 'lock.proto', 'election.proto', 'health.proto'], {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as Record<string, object> & {
    grpc: { health: { v1: object } };
  };
  return { ...pkg.etcdserverpb, ...pkg.v3lockpb, ...pkg.v3electionpb, ...pkg.grpc.health.v1 } as Record<
    string,
    grpc.ServiceClientConstructor
  >;
}

/**
 * etcd's gRPC services, fed connections by the client port's listener (listener.ts) through
 * grpc-js's connection injector: no port of its own and no relay between sockets.
 */
export function startGrpc(
  service: KvService,
  metrics: GrpcMetrics,
  maxConcurrentStreams?: number,
): { server: grpc.Server; injector: grpc.ConnectionInjector } {
  const pkg = etcdServices();
  const server = new grpc.Server({
    'grpc.enable_channelz': 0,
    interceptors: [metrics.interceptor],
    ...(maxConcurrentStreams ? { 'grpc.max_concurrent_streams': maxConcurrentStreams } : {}),
  });
  /** Serves a service, counted by its metrics (their series started at 0). */
  const serve = (name: string, implementation: grpc.UntypedServiceImplementation) =>
    server.addService(metrics.instrument(pkg[name]!.service), implementation);
  serve('KV', {
    Range: unary((r, who) => service.range(rangeReq(r), who)),
    Put: unary((r, who) => service.write({ put: putReq(r) }, who)),
    DeleteRange: unary((r, who) => service.write({ delete_range: deleteReq(r) }, who)),
    Txn: unary((r, who) => service.write({ txn: txnReq(r) }, who)),
    Compact: unary(async (r, who) => {
      const revision = num(r.revision);
      if (revision === undefined) throw new BadRequest('revision is required');
      return service.write({ compaction: { revision, physical: r.physical === true } }, who);
    }),
  });
  serve('Cluster', {
    MemberAdd: unary((r, who) => service.memberAdd(peerURLsOf(r.peerURLs), r.isLearner === true, who)),
    MemberRemove: unary((r, who) => service.memberRemove(idOf(r.ID, 'ID'), who)),
    MemberUpdate: unary((r, who) => service.memberUpdate(idOf(r.ID, 'ID'), peerURLsOf(r.peerURLs), who)),
    MemberList: unary((r) => service.memberList(r.linearizable === true)),
    MemberPromote: unary((r, who) => service.memberPromote(idOf(r.ID, 'ID'), who)),
  });
  serve('Watch', { Watch: watchStream(service) });
  serve('Lease', {
    LeaseGrant: unary((r, who) => service.leaseGrant(num(r.ID) ?? 0, num(r.TTL) ?? 0, who)),
    LeaseRevoke: unary((r, who) => service.leaseRevoke(leaseId(r), who)),
    LeaseKeepAlive: keepAliveStream(service),
    LeaseTimeToLive: unary((r) => service.leaseTimeToLive(leaseId(r), r.keys === true)),
    LeaseLeases: unary(() => service.leaseLeases()),
  });
  serve('Maintenance', {
    Status: unary(async () => service.status()),
    MoveLeader: unary((r, who) => service.moveLeader(idOf(r.targetID, 'targetID'), who)),
    Alarm: unary((r, who) => service.alarm(r.action, who)),
    HashKV: unary((r, who) => service.hashKV(num(r.revision) ?? 0, who)),
    Snapshot: snapshotStream(service),
    Defragment: unary((_r, who) => service.defragment(who)),
  });
  // As etcd: the empty service name (the whole server) is SERVING while the port is up; any other is unknown.
  const health = (r: Obj) => {
    if (r.service !== '') throw Object.assign(new Error('unknown service'), { code: grpc.status.NOT_FOUND });
    return { status: 'SERVING' };
  };
  serve('Health', {
    Check: (call: grpc.ServerUnaryCall<Obj, unknown>, done: grpc.sendUnaryData<unknown>) => {
      try {
        done(null, health(call.request));
      } catch (e) {
        done(e as grpc.ServiceError, null);
      }
    },
    Watch: (call: grpc.ServerWritableStream<Obj, unknown>) => {
      try {
        call.write(health(call.request)); // and nothing more: the status never changes while it is open
      } catch (e) {
        call.emit('error', e);
      }
    },
  });
  const locks = new LockService(service);
  serve('Lock', {
    Lock: unary((r, who, call) => locks.lock(bytesOf(r.name), num(r.lease) ?? 0, who, cancelSignal(call))),
    Unlock: unary((r, who) => locks.unlock(key(r), who)),
  });
  const elections = new ElectionService(service);
  serve('Election', {
    Campaign: unary((r, who, call) =>
      elections.campaign(bytesOf(r.name), num(r.lease) ?? 0, bytesOf(r.value), who, cancelSignal(call)),
    ),
    Proclaim: unary((r, who) => elections.proclaim(leaderKey(r.leader), bytesOf(r.value), who)),
    Leader: unary((r, who) => elections.leader(bytesOf(r.name), who)),
    Observe: observeStream(elections),
    Resign: unary((r, who) => elections.resign(leaderKey(r.leader), who)),
  });
  serve(
    'Auth',
    Object.fromEntries(
      authCalls(service.auth).map(({ rpc, call }) => [rpc, unary((r, who) => call(protoFields(r), who))]),
    ),
  );
  return { server, injector: server.createConnectionInjector(grpc.ServerCredentials.createInsecure()) };
}
