// The WAL's record types and their payloads. Terms and indexes are stored as unsigned 64-bit
// little-endian integers, written as two 32-bit halves: exact for every safe integer (the Raft core
// stops at 2^53-1) without going through BigInt. Layouts:
//   entry      [u64 index][u64 term][u8 0=normal 1=conf][data...]
//   hardState  [u64 term][u64 commit][vote, UTF-8...]
//   snapshot   [u64 index][u64 term][confState, JSON...]   (a compaction point)
import type { ConfState, Entry, HardState, SnapshotMeta } from '../raft/types.js';
import type { Frame } from './frame.js';

export type WalRecord =
  | { type: 'entry'; entry: Entry }
  | { type: 'hardState'; hardState: HardState }
  | { type: 'snapshot'; meta: SnapshotMeta };

const TYPE_CODES = { entry: 1, hardState: 2, snapshot: 3 } as const;
const TWO_32 = 2 ** 32;

/** A payload whose checksum matched but whose contents make no sense: written by something else. */
export class RecordFormatError extends Error {}

function writeU64(buf: Buffer, off: number, n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${n}`);
  buf.writeUInt32LE(n % TWO_32, off);
  buf.writeUInt32LE(Math.floor(n / TWO_32), off + 4);
}

function readU64(buf: Buffer, off: number): number {
  const n = buf.readUInt32LE(off + 4) * TWO_32 + buf.readUInt32LE(off);
  if (!Number.isSafeInteger(n)) throw new RecordFormatError(`integer at payload offset ${off} exceeds 2^53-1`);
  return n;
}

function withTail(head: number, tail: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(head + tail.length);
  buf.set(tail, head);
  return buf;
}

export function toFrame(r: WalRecord): Frame {
  let payload: Buffer;
  switch (r.type) {
    case 'entry':
      if (r.entry.index < 1) throw new RangeError(`entry index must be at least 1, got ${r.entry.index}`);
      payload = withTail(17, r.entry.data);
      writeU64(payload, 0, r.entry.index, 'entry index');
      writeU64(payload, 8, r.entry.term, 'entry term');
      payload.writeUInt8(r.entry.type === 'conf' ? 1 : 0, 16);
      break;
    case 'hardState':
      payload = withTail(16, Buffer.from(r.hardState.vote, 'utf8'));
      writeU64(payload, 0, r.hardState.term, 'term');
      writeU64(payload, 8, r.hardState.commit, 'commit index');
      break;
    case 'snapshot':
      payload = withTail(16, Buffer.from(JSON.stringify(r.meta.confState), 'utf8'));
      writeU64(payload, 0, r.meta.index, 'snapshot index');
      writeU64(payload, 8, r.meta.term, 'snapshot term');
      break;
  }
  return { type: TYPE_CODES[r.type], payload };
}

export function fromFrame(f: Frame): WalRecord {
  const p = Buffer.from(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
  const need = f.type === TYPE_CODES.entry ? 17 : 16;
  if (p.length < need) throw new RecordFormatError(`record of type ${f.type} is ${p.length} bytes long`);
  switch (f.type) {
    case TYPE_CODES.entry: {
      const kind = p[16];
      if (kind !== 0 && kind !== 1) throw new RecordFormatError(`unknown entry type ${kind}`);
      // A copy, so that a live entry does not pin the whole segment's buffer in memory.
      const data = new Uint8Array(p.subarray(17));
      return {
        type: 'entry',
        entry: { index: readU64(p, 0), term: readU64(p, 8), type: kind === 1 ? 'conf' : 'normal', data },
      };
    }
    case TYPE_CODES.hardState:
      return {
        type: 'hardState',
        hardState: { term: readU64(p, 0), commit: readU64(p, 8), vote: p.toString('utf8', 16) },
      };
    case TYPE_CODES.snapshot:
      return {
        type: 'snapshot',
        meta: { index: readU64(p, 0), term: readU64(p, 8), confState: parseConfState(p.toString('utf8', 16)) },
      };
    default:
      throw new RecordFormatError(`unknown record type ${f.type}`);
  }
}

function parseConfState(text: string): ConfState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new RecordFormatError('snapshot record holds no valid confState');
  }
  const ids = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
  const cs = v as Partial<ConfState> | null;
  if (!cs || !ids(cs.voters) || !ids(cs.learners)) throw new RecordFormatError('malformed confState');
  return { voters: cs.voters, learners: cs.learners };
}
