// What a normal Raft entry carries: a client write (with the proposing member's request id so
// that member can answer its client once the entry is applied), a member publishing its client
// URLs, new peer URLs for a member (etcd's member update), or a token for a user whose password
// the proposing member checked (etcd's Authenticate, so that every member knows the token).
// msgpackr keeps it compact and binary-safe.
import { Packr } from 'msgpackr';

export type Envelope =
  | { kind: 'kv'; id: string; request: Uint8Array }
  | { kind: 'publish'; id: string; member: { id: string; name: string; clientURLs: string[] } }
  | { kind: 'memberUpdate'; id: string; member: { id: string; peerURLs: string[] } }
  | { kind: 'authenticate'; id: string; user: string; tokenPrefix: string; hash: string };

const KINDS: ReadonlySet<unknown> = new Set(['kv', 'publish', 'memberUpdate', 'authenticate']);

const packr = new Packr({ useRecords: false });

export function encodeEnvelope(e: Envelope): Uint8Array {
  // A copy of its own: packr.pack returns a view into a shared buffer that later encodes fill too,
  // and the Raft log keeps entries for thousands of writes, so the views kept whole buffers alive
  // (after 64-client puts, 10 MiB of them on a leader, for about 2 MiB of entries).
  return Uint8Array.prototype.slice.call(packr.pack(e));
}

export function decodeEnvelope(data: Uint8Array): Envelope {
  // Through a view of its own: msgpackr caches a DataView as a property of the buffer it reads,
  // and `data` stays in the Raft log until compaction, so each entry would keep 120 bytes more
  // on the heap, copied by every young-generation collection that it survives.
  const e = packr.unpack(Buffer.from(data.buffer, data.byteOffset, data.byteLength)) as
    Partial<Envelope> | undefined;
  if (!e || typeof e.id !== 'string' || !KINDS.has(e.kind)) {
    throw new Error(`malformed log entry envelope (${data.byteLength} bytes)`);
  }
  return e as Envelope;
}

/** The context of a membership change entry: who the member is and where its peers reach it. */
export interface ConfContext {
  name: string;
  peerURLs: string[];
}

export function encodeConfContext(c: ConfContext): string {
  return JSON.stringify(c);
}

export function decodeConfContext(s: string | undefined): ConfContext | undefined {
  if (!s) return undefined;
  const c = JSON.parse(s) as ConfContext;
  return typeof c.name === 'string' && Array.isArray(c.peerURLs) ? c : undefined;
}
