// Frames on a peer connection: [u32 big-endian body length][msgpack body]. Pure byte handling, no
// sockets. The decoder refuses a frame as soon as its header announces more than the limit, so a
// confused or hostile peer cannot make us buffer it, and checks each body's shape before anyone
// acts on it.
import { Packr } from 'msgpackr';
import type { EntryType, Message, NodeId } from '../raft/types.js';

export const PROTOCOL_VERSION = 1;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * A message connection carries Raft messages and pings; a snapshot connection carries one
 * snapshot; a members connection gets one 'published' answer.
 */
export type StreamKind = 'msg' | 'snap' | 'members';

export interface Hello {
  t: 'hello';
  version: number;
  clusterId: string;
  from: NodeId;
  to: NodeId;
  kind: StreamKind;
}

export type RejectReason = 'version' | 'cluster' | 'member' | 'removed';

export type Frame =
  | Hello
  /** The acceptor's answer to a hello it refuses, sent just before it closes the connection. */
  | { t: 'reject'; reason: RejectReason; detail: string }
  | { t: 'msgs'; msgs: Message[] }
  /** `at` is the sender's monotonic clock; the pong echoes it, so only the sender's clock matters. */
  | { t: 'ping'; at: number }
  | { t: 'pong'; at: number }
  /** Opens a snapshot stream: the 'snap' message with the snapshot's meta and empty data. */
  | { t: 'snap'; msg: Message }
  | { t: 'chunk'; data: Uint8Array }
  /** Ends a snapshot stream; the byte count tells a complete stream from a truncated one. */
  | { t: 'snapEnd'; bytes: number }
  | { t: 'snapAck'; ok: boolean; error?: string }
  /** The answer on a members connection: the members the acceptor's table lists as published. */
  | { t: 'published'; ids: NodeId[] };

// Plain maps (no shared record structures) so each frame decodes on its own. copyBuffers: entries'
// data outlive the frame in the Raft log, and must not pin the whole socket buffer they came in.
const packr = new Packr({ useRecords: false, copyBuffers: true });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

const shapes: { [T in Frame['t']]: (f: Record<string, unknown>) => boolean } = {
  hello: (f) =>
    typeof f.version === 'number' &&
    typeof f.clusterId === 'string' &&
    typeof f.from === 'string' &&
    typeof f.to === 'string' &&
    (f.kind === 'msg' || f.kind === 'snap' || f.kind === 'members'),
  reject: (f) => typeof f.reason === 'string' && typeof f.detail === 'string',
  msgs: (f) => Array.isArray(f.msgs) && f.msgs.every((m) => isObject(m) && entriesTyped(m)),
  ping: (f) => typeof f.at === 'number',
  pong: (f) => typeof f.at === 'number',
  snap: (f) => isObject(f.msg) && isObject(f.msg.snapshot) && isObject(f.msg.snapshot.meta),
  chunk: (f) => f.data instanceof Uint8Array,
  snapEnd: (f) => typeof f.bytes === 'number',
  snapAck: (f) => typeof f.ok === 'boolean',
  published: (f) => Array.isArray(f.ids) && f.ids.every((id) => typeof id === 'string'),
};

/** The entry types, as the literals every entry built here shares. */
const ENTRY_TYPES: Readonly<Record<string, EntryType>> = Object.freeze({ normal: 'normal', conf: 'conf' });

/**
 * Checks each entry's type and gives it the shared literal in place of the decoded copy (entries
 * stay in the Raft log until compaction, and a string of their own each is 24 bytes apiece).
 */
function entriesTyped(m: Record<string, unknown>): boolean {
  if (m.entries === undefined) return true;
  if (!Array.isArray(m.entries)) return false;
  for (const e of m.entries as unknown[]) {
    if (!isObject(e) || typeof e.type !== 'string' || !Object.hasOwn(ENTRY_TYPES, e.type)) return false;
    e.type = ENTRY_TYPES[e.type];
  }
  return true;
}

export class FrameError extends Error {
  override name = 'FrameError';
}

export function encodeFrame(f: Frame): Buffer {
  const body = packr.pack(f);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/**
 * Encodes messages as as few frames as fit under the limit, halving a batch that is too large.
 * A single message too large for any frame cannot be sent at all and is handed back.
 */
export function encodeMessageFrames(
  msgs: Message[],
  maxFrameBytes: number,
): { frames: Buffer[]; tooLarge: Message[] } {
  const frame = encodeFrame({ t: 'msgs', msgs });
  if (frame.length - 4 <= maxFrameBytes) return { frames: [frame], tooLarge: [] };
  if (msgs.length === 1) return { frames: [], tooLarge: msgs };
  const mid = msgs.length >> 1;
  const a = encodeMessageFrames(msgs.slice(0, mid), maxFrameBytes);
  const b = encodeMessageFrames(msgs.slice(mid), maxFrameBytes);
  return { frames: [...a.frames, ...b.frames], tooLarge: [...a.tooLarge, ...b.tooLarge] };
}

function decodeBody(body: Buffer): Frame {
  let f: unknown;
  try {
    f = packr.unpack(body);
  } catch (e) {
    throw new FrameError(`undecodable frame: ${String(e)}`);
  }
  if (!isObject(f) || typeof f.t !== 'string' || !Object.hasOwn(shapes, f.t)) {
    throw new FrameError('frame of unknown type');
  }
  if (!shapes[f.t as Frame['t']](f)) throw new FrameError(`malformed '${f.t}' frame`);
  return f as Frame;
}

/**
 * Turns a byte stream back into frames. Frames are yielded one at a time, so what a frame changes
 * (the size limit after a handshake) applies to the next. Throws FrameError; the stream is
 * unusable after that.
 */
export class FrameDecoder {
  private readonly head = Buffer.alloc(4);
  private headFilled = 0;
  /** The body being filled, allocated once its header is read: O(n) however the bytes trickle in. */
  private body: Buffer | undefined;
  private bodyFilled = 0;

  /** Mutable so an acceptor can keep it small until the handshake names a cluster member. */
  constructor(public maxFrameBytes: number) {}

  *push(chunk: Buffer): Generator<Frame> {
    let off = 0;
    while (off < chunk.length) {
      if (!this.body) {
        const k = Math.min(4 - this.headFilled, chunk.length - off);
        chunk.copy(this.head, this.headFilled, off, off + k);
        this.headFilled += k;
        off += k;
        if (this.headFilled < 4) break;
        const len = this.head.readUInt32BE(0);
        if (len === 0) throw new FrameError('empty frame');
        if (len > this.maxFrameBytes) {
          throw new FrameError(`frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes}`);
        }
        this.headFilled = 0;
        if (chunk.length - off >= len) {
          // The common case: the whole body is in this chunk, decode it in place.
          const body = chunk.subarray(off, off + len);
          off += len;
          yield decodeBody(body);
          continue;
        }
        this.body = Buffer.allocUnsafe(len);
        this.bodyFilled = 0;
      }
      const k = Math.min(this.body.length - this.bodyFilled, chunk.length - off);
      chunk.copy(this.body, this.bodyFilled, off, off + k);
      this.bodyFilled += k;
      off += k;
      if (this.bodyFilled === this.body.length) {
        const body = this.body;
        this.body = undefined;
        yield decodeBody(body);
      }
    }
  }
}
