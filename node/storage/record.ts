// One WAL record on disk:
//
//   [u32 LE payload length][u32 LE crc32 of type byte + payload][u8 type][payload]
//
// Payloads are fixed binary layouts. Terms and indexes are written as float64 (LE): every integer
// up to 2^53-1 — the Raft core's bound — is exact in a double, so no BigInt round trip is needed;
// decoding rejects anything that is not a non-negative safe integer.
//
//   entry (1):        f64 term, f64 index, u8 kind (0 normal, 1 conf), data bytes (the rest)
//   hardState (2):    f64 term, f64 commit, vote as UTF-8 (the rest)
//   snapshotMeta (3): f64 index, f64 term, confState as UTF-8 JSON (the rest)
import { crc32 } from 'node:zlib';
import type { ConfState, Entry, HardState, SnapshotMeta } from '../raft/types.js';

export type WalRecord =
  | { type: 'entry'; entry: Entry }
  | { type: 'hardState'; hardState: HardState }
  | { type: 'snapshotMeta'; meta: SnapshotMeta };

export const HEADER_BYTES = 9;
const TYPE_CODE = { entry: 1, hardState: 2, snapshotMeta: 3 } as const;
const FIXED_BYTES = 16; // every payload starts with two float64s

/** The type code and payload of a record, the payload split as fixed part + variable bytes. */
function payloadOf(r: WalRecord): { code: number; fixed: Buffer; rest: Uint8Array } {
  const fixed = Buffer.allocUnsafe(r.type === 'entry' ? FIXED_BYTES + 1 : FIXED_BYTES);
  switch (r.type) {
    case 'entry':
      writeIndex(fixed, r.entry.term, 0);
      writeIndex(fixed, r.entry.index, 8);
      fixed.writeUInt8(r.entry.type === 'conf' ? 1 : 0, FIXED_BYTES);
      return { code: TYPE_CODE.entry, fixed, rest: r.entry.data };
    case 'hardState':
      writeIndex(fixed, r.hardState.term, 0);
      writeIndex(fixed, r.hardState.commit, 8);
      return { code: TYPE_CODE.hardState, fixed, rest: Buffer.from(r.hardState.vote, 'utf8') };
    case 'snapshotMeta':
      writeIndex(fixed, r.meta.index, 0);
      writeIndex(fixed, r.meta.term, 8);
      return {
        code: TYPE_CODE.snapshotMeta,
        fixed,
        rest: Buffer.from(JSON.stringify(r.meta.confState), 'utf8'),
      };
  }
}

/** Refuses, before anything is written, a number replay would reject. */
function writeIndex(buf: Buffer, n: number, at: number): void {
  if (!isIndex(n)) throw new RangeError(`WAL: ${n} is not a term or index (a non-negative safe integer)`);
  buf.writeDoubleLE(n, at);
}

export function encodeRecord(r: WalRecord): Buffer {
  const { code, fixed, rest } = payloadOf(r);
  const len = fixed.length + rest.length;
  const out = Buffer.allocUnsafe(HEADER_BYTES + len);
  out.writeUInt32LE(len, 0);
  out.writeUInt8(code, 8);
  fixed.copy(out, HEADER_BYTES);
  out.set(rest, HEADER_BYTES + fixed.length);
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
  return out;
}

export type Decoded =
  | { kind: 'ok'; record: WalRecord; next: number }
  /** The buffer ends inside the record (header or payload). */
  | { kind: 'short' }
  /** The record is complete but its checksum does not match; `next` is where it would end. */
  | { kind: 'bad-crc'; next: number }
  /** The checksum matches but the content is not a record this code writes. */
  | { kind: 'malformed'; reason: string };

export function decodeRecord(buf: Buffer, off: number): Decoded {
  if (buf.length - off < HEADER_BYTES) return { kind: 'short' };
  const len = buf.readUInt32LE(off);
  const next = off + HEADER_BYTES + len;
  if (next > buf.length) return { kind: 'short' };
  if (crc32(buf.subarray(off + 8, next)) !== buf.readUInt32LE(off + 4)) return { kind: 'bad-crc', next };
  const code = buf.readUInt8(off + 8);
  const payload = buf.subarray(off + HEADER_BYTES, next);
  if (payload.length < FIXED_BYTES)
    return { kind: 'malformed', reason: `payload of ${payload.length} bytes` };
  const a = payload.readDoubleLE(0);
  const b = payload.readDoubleLE(8);
  if (!isIndex(a) || !isIndex(b)) return { kind: 'malformed', reason: 'term or index is not a safe integer' };
  const rest = payload.subarray(FIXED_BYTES);
  switch (code) {
    case TYPE_CODE.entry: {
      const kind = rest[0];
      if (kind !== 0 && kind !== 1) return { kind: 'malformed', reason: `entry kind ${kind}` };
      // Copy: the segment buffer is large and would otherwise be kept alive by every entry.
      const data = new Uint8Array(rest.subarray(1));
      return {
        kind: 'ok',
        next,
        record: { type: 'entry', entry: { term: a, index: b, type: kind === 1 ? 'conf' : 'normal', data } },
      };
    }
    case TYPE_CODE.hardState:
      return {
        kind: 'ok',
        next,
        record: { type: 'hardState', hardState: { term: a, commit: b, vote: rest.toString('utf8') } },
      };
    case TYPE_CODE.snapshotMeta: {
      const confState = parseConfState(rest.toString('utf8'));
      if (!confState) return { kind: 'malformed', reason: 'bad confState' };
      return { kind: 'ok', next, record: { type: 'snapshotMeta', meta: { index: a, term: b, confState } } };
    }
    default:
      return { kind: 'malformed', reason: `unknown record type ${code}` };
  }
}

function isIndex(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function parseConfState(text: string): ConfState | undefined {
  try {
    const v = JSON.parse(text) as Partial<ConfState>;
    const ids = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
    return ids(v.voters) && ids(v.learners) ? { voters: v.voters, learners: v.learners } : undefined;
  } catch {
    return undefined;
  }
}
