// How etcd's bbolt file stores things, read when restoring an etcd snapshot and written when
// making one: its messages (mvccpb.KeyValue, leasepb.Lease, authpb.User and Role) as protobufjs
// types from the same .proto files the gRPC API uses (loaded when first needed, not each time
// raftkvctl starts), its bucket and key names, and its revision keys.
import { basename, join } from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../api/proto-dir.js';
import type { PermType } from '../auth/state.js';
import { u64Bytes } from '../mvcc/revision.js';

export type EtcdMessage = 'KeyValue' | 'Lease' | 'User' | 'Role';

/** The buckets of etcd's file that hold what raftkv keeps. */
export const BUCKET = {
  key: 'key',
  lease: 'lease',
  meta: 'meta',
  auth: 'auth',
  authUsers: 'authUsers',
  authRoles: 'authRoles',
} as const;
/** Keys in bucket `meta`: the compaction etcd refuses reads below, and the one it finished. */
export const SCHEDULED_COMPACT = 'scheduledCompactRev';
export const FINISHED_COMPACT = 'finishedCompactRev';
/** Keys in bucket `auth`: the switch (one byte) and the auth revision (8 bytes, big-endian). */
export const AUTH_ENABLED = 'authEnabled';
export const AUTH_REVISION = 'authRevision';

let messages: Record<EtcdMessage, protobuf.Type> | undefined;

export function etcdMessage(name: EtcdMessage): protobuf.Type {
  if (!messages) {
    const protos = new protobuf.Root();
    protos.resolvePath = (_origin, target) => join(PROTO_DIR, basename(target));
    protos.loadSync(['kv.proto', 'lease.proto', 'auth.proto'], { keepCase: true });
    messages = {
      KeyValue: protos.lookupType('mvccpb.KeyValue'),
      Lease: protos.lookupType('leasepb.Lease'),
      User: protos.lookupType('authpb.User'),
      Role: protos.lookupType('authpb.Role'),
    };
  }
  return messages[name];
}

/**
 * `fields` as the message's bytes. They must have the fields' own types (numbers, buffers, enums
 * as numbers): this runs once per history row, where protobufjs's conversion would cost more than
 * the encoding.
 */
export function encodeEtcd(name: EtcdMessage, fields: Record<string, unknown>): Buffer {
  const bytes = etcdMessage(name).encode(fields).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** authpb.Permission's permType as a number, for encodeEtcd. */
export function permTypeNumber(name: PermType): number {
  return etcdMessage('Role').lookupEnum('Permission.Type').values[name]!;
}

/** The largest revision or lease ID raftkv holds: JavaScript's largest exact integer. */
export const MAX_ID = BigInt(Number.MAX_SAFE_INTEGER);
const SEPARATOR = 0x5f; // '_'
const TOMBSTONE = 0x74; // 't'

/** A key of bucket `key`: an 8-byte main revision, `_`, an 8-byte sub revision, `t` for a deletion. */
export function revisionKey(main: number, sub: number, tombstone: boolean): Buffer {
  const k = Buffer.alloc(tombstone ? 18 : 17);
  u64Bytes(main).copy(k, 0);
  k[8] = SEPARATOR;
  k.writeUInt32BE(sub, 13); // sub revisions fit 32 bits
  if (tombstone) k[17] = TOMBSTONE;
  return k;
}

/** An etcd revision key: main and sub revision, and whether it marks a deletion. */
export function revisionOf(
  k: Buffer,
  where: () => string,
): { main: number; sub: number; tombstone: boolean } {
  const tombstone = k.length === 18 && k[17] === TOMBSTONE;
  if ((k.length !== 17 && !tombstone) || k[8] !== SEPARATOR)
    throw new Error(`${where()}: not a revision key`);
  const main = k.readBigUInt64BE(0);
  const sub = k.readBigUInt64BE(9);
  if (main > MAX_ID || sub >= 2n ** 32n) throw new Error(`${where()}: revision ${main}.${sub} out of range`);
  return { main: Number(main), sub: Number(sub), tombstone };
}
