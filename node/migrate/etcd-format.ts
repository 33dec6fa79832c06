// How etcd's bbolt file stores things, read when restoring an etcd snapshot and written when
// making one: its messages (mvccpb.KeyValue, leasepb.Lease, authpb.User and Role) as protobufjs
// types from the same .proto files the gRPC API uses (loaded when first needed, not each time
// raftkvctl starts), and its revision keys.
import { basename, join } from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../api/proto-dir.js';

export type EtcdMessage = 'KeyValue' | 'Lease' | 'User' | 'Role';

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

/** `fields` (enums by name) as the message's bytes. */
export function encodeEtcd(name: EtcdMessage, fields: Record<string, unknown>): Buffer {
  const type = etcdMessage(name);
  return Buffer.from(type.encode(type.fromObject(fields)).finish());
}

const MAX_ID = BigInt(Number.MAX_SAFE_INTEGER);
const SEPARATOR = 0x5f; // '_'
const TOMBSTONE = 0x74; // 't'

/** A key of bucket `key`: an 8-byte main revision, `_`, an 8-byte sub revision, `t` for a deletion. */
export function revisionKey(main: number, sub: number, tombstone: boolean): Buffer {
  const k = Buffer.alloc(tombstone ? 18 : 17);
  k.writeBigUInt64BE(BigInt(main), 0);
  k[8] = SEPARATOR;
  k.writeBigUInt64BE(BigInt(sub), 9);
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
