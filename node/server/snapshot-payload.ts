// What a leader streams to a member that fell behind the log: the member table, then an image of
// the key-value backend taken from one read transaction, chunk by chunk, never whole in memory:
//
//   [u32 BE header length][msgpack { v: 2, members }][the backend's snapshot stream]
//
// The backend image is at the leader's applied index, which may be past the Raft snapshot's
// index; the backend skips entries it already holds, so replaying the log after it is harmless.
import { Packr } from 'msgpackr';
import type { MemberInfo, MemberTable } from './members.js';
import type { KvBackend } from './ports.js';

const packr = new Packr({ useRecords: false });
const VERSION = 2;

export async function* snapshotPayload(members: MemberTable, backend: KvBackend): AsyncGenerator<Uint8Array> {
  yield encodeMembers(members.all());
  yield* backend.exportSnapshot();
}

/** The member table as the payload's header (also what the Raft snapshot message carries). */
export function encodeMembers(members: MemberInfo[]): Uint8Array {
  const body = packr.pack({ v: VERSION, members });
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** The member table from a payload's header (at the start of `data`). */
export function decodeMembers(data: Uint8Array): MemberInfo[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const len = buf.length >= 4 ? buf.readUInt32BE(0) : -1;
  const p =
    len >= 0 && buf.length >= 4 + len ? (packr.unpack(buf.subarray(4, 4 + len)) as unknown) : undefined;
  const members = (p as { v?: number; members?: unknown } | undefined)?.members;
  if ((p as { v?: number } | undefined)?.v !== VERSION || !Array.isArray(members)) {
    throw new Error(
      `snapshot from the leader is malformed: no member table in its first ${buf.length} bytes`,
    );
  }
  return members as MemberInfo[];
}

/**
 * Splits a received payload into its member table and the backend's stream (the rest of the
 * chunks, read on demand).
 */
export async function splitSnapshotPayload(
  chunks: AsyncIterable<Uint8Array>,
): Promise<{ members: MemberInfo[]; db: AsyncIterable<Uint8Array> }> {
  const it = chunks[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  const need = () => (head.length >= 4 ? 4 + head.readUInt32BE(0) : 4);
  while (head.length < need()) {
    const next = await it.next();
    if (next.done)
      throw new Error(`snapshot from the leader ended after ${head.length} bytes, in its header`);
    head = Buffer.concat([head, next.value]);
  }
  const members = decodeMembers(head);
  const rest = head.subarray(need());
  async function* db(): AsyncGenerator<Uint8Array> {
    if (rest.length > 0) yield rest;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  }
  return { members, db: db() };
}
