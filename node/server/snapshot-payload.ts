// What a leader streams to a member that fell behind the log: the member table and an image of
// the key-value backend, taken from one consistent read. The backend image is at the leader's
// applied index, which may be past the Raft snapshot's index; the backend skips entries it
// already holds, so replaying the log after it is harmless.
import { Packr } from 'msgpackr';
import type { MemberInfo, MemberTable } from './members.js';
import type { KvBackend } from './ports.js';

const packr = new Packr({ useRecords: false });

export async function encodeSnapshotPayload(members: MemberTable, backend: KvBackend): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of backend.exportSnapshot()) chunks.push(c);
  return packr.pack({ v: 1, members: members.all(), db: Buffer.concat(chunks) });
}

export function decodeSnapshotPayload(data: Uint8Array): { members: MemberInfo[]; db: Uint8Array } {
  const p = packr.unpack(data) as { v?: number; members?: MemberInfo[]; db?: Uint8Array } | undefined;
  if (p?.v !== 1 || !Array.isArray(p.members) || !(p.db instanceof Uint8Array)) {
    throw new Error(`snapshot from the leader is malformed (${data.byteLength} bytes)`);
  }
  return { members: p.members, db: p.db };
}
