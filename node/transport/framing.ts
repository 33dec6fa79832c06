// Frames on a peer connection: [u32 big-endian length][msgpack body]. A decoder turns a byte
// stream back into bodies and refuses frames over a size limit (a confused or hostile peer).
import { Packr } from 'msgpackr';
import type { Message } from '../raft/types.js';

export type Frame =
  | { hello: { v: 1; cluster: string; from: string; to: string; kind: 'msg' | 'snap' } }
  | { msgs: Message[] }
  | { ping: number }
  | { pong: number }
  | { snap: Message }
  | { ack: { ok: boolean; error?: string } }
  /** Sent instead of accepting a connection from a member that was removed from the cluster. */
  | { removed: true };

const packr = new Packr({ useRecords: false });

export function encodeFrame(f: Frame): Buffer {
  const body = packr.pack(f);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

export class FrameError extends Error {}

export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds bytes; returns the complete frames. Throws FrameError on an oversize or garbled frame. */
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len > this.maxFrameBytes)
        throw new FrameError(`frame of ${len} bytes exceeds ${this.maxFrameBytes}`);
      if (this.buf.length < 4 + len) break;
      const body = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      let f: unknown;
      try {
        f = packr.unpack(body);
      } catch (e) {
        throw new FrameError(`undecodable frame: ${String(e)}`);
      }
      if (typeof f !== 'object' || f === null) throw new FrameError('frame is not an object');
      out.push(f as Frame);
    }
    return out;
  }
}
