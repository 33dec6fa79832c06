// etcdctl 3.4 dials each endpoint on its own for `endpoint status`, `endpoint hashkv`, `defrag`,
// `snapshot save` and `--cluster`, with the endpoint URL as the gRPC target, so over plain http
// those requests carry `:authority: http://host:port` (over TLS, grpc-go sends the TLS server name).
// Node's HTTP/2 (nghttp2) resets a stream whose authority holds a '/', and has no switch to allow
// one; etcd's Go server takes it. So each gRPC connection is looked at before grpc-js gets it:
// - grpc-go sends no request until the server's SETTINGS arrive, so an empty SETTINGS frame (all
//   defaults) goes out first. The client's acknowledgement of it is dropped, as grpc-js's server
//   never sent that frame.
// - A connection whose first request has a plain authority goes to grpc-js as the socket it is.
// - One whose authority is a URL goes through a rewriter for as long as it lives. HPACK carries
//   state from one header block to the next, so every block is decoded, its authority cut to
//   host:port, and encoded again for grpc-js.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import hpack, { type Header } from 'hpack.js';

const PREFACE_BYTES = 24;
const FRAME_HEADER_BYTES = 9;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const PING = 0x6;
const CONTINUATION = 0x9;
const ACK = 0x1;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const PRIORITY_BYTES = 5;
/** HTTP/2's defaults, which neither grpc-js's server nor grpc-go changes. */
const TABLE_BYTES = 4096;
const MAX_FRAME_BYTES = 16384;
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
/** A connection that sends no request and no ping this long after it opens is handed over as it is. */
const WAIT_MS = 1000;
/** As is one that sends more than this before its first request. */
const MAX_HELD_BYTES = 64 * 1024;

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
  bytes: Buffer;
}

/** Cuts what the client sends into the connection preface (the first piece, as bytes) and whole frames. */
class FrameSplitter {
  private rest: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;

  push(chunk: Buffer): Array<Frame | Buffer> {
    let buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: Array<Frame | Buffer> = [];
    if (!this.prefaceSeen) {
      if (buf.length < PREFACE_BYTES) {
        this.rest = buf;
        return out;
      }
      out.push(buf.subarray(0, PREFACE_BYTES));
      buf = buf.subarray(PREFACE_BYTES);
      this.prefaceSeen = true;
    }
    while (buf.length >= FRAME_HEADER_BYTES) {
      const length = buf.readUIntBE(0, 3);
      // Larger than the server allows (it never raises the default): nghttp2 would end the connection too.
      if (length > MAX_FRAME_BYTES)
        throw new Error(`HTTP/2 frame of ${length} bytes is over ${MAX_FRAME_BYTES}`);
      if (buf.length < FRAME_HEADER_BYTES + length) break;
      const bytes = buf.subarray(0, FRAME_HEADER_BYTES + length);
      const stream = bytes.readUInt32BE(5) & 0x7fffffff;
      out.push({
        type: bytes[3]!,
        flags: bytes[4]!,
        stream,
        payload: bytes.subarray(FRAME_HEADER_BYTES),
        bytes,
      });
      buf = buf.subarray(bytes.length);
    }
    this.rest = buf;
    return out;
  }

  /** The start of a frame not yet whole. */
  get pending(): Buffer {
    return this.rest;
  }
}

interface HeaderBlock {
  stream: number;
  endStream: boolean;
  /** The HEADERS frame's priority fields, if it had them. */
  priority: Buffer | undefined;
  block: Buffer;
}

/** Joins a HEADERS frame and its CONTINUATION frames into one header block, without padding. */
class HeaderBlockJoiner {
  private open: { start: Omit<HeaderBlock, 'block'>; parts: Buffer[] } | undefined;

  /** Takes a HEADERS or CONTINUATION frame; gives the block once its last frame is in. */
  push(frame: Frame): HeaderBlock | undefined {
    let payload = frame.payload;
    if (frame.type === HEADERS) {
      const padding = frame.flags & PADDED ? payload[0]! : 0;
      if (frame.flags & PADDED) payload = payload.subarray(1);
      const priority = frame.flags & PRIORITY ? payload.subarray(0, PRIORITY_BYTES) : undefined;
      if (priority) payload = payload.subarray(PRIORITY_BYTES);
      payload = payload.subarray(0, payload.length - padding);
      this.open = {
        start: { stream: frame.stream, endStream: (frame.flags & END_STREAM) !== 0, priority },
        parts: [],
      };
    }
    if (!this.open) throw new Error('HTTP/2 CONTINUATION frame without a HEADERS frame');
    this.open.parts.push(payload);
    if (!(frame.flags & END_HEADERS)) return undefined;
    const block = { ...this.open.start, block: Buffer.concat(this.open.parts) };
    this.open = undefined;
    return block;
  }
}

/** Decodes header blocks, keeping the HPACK table the client's encoder keeps. */
class HeaderDecoder {
  private readonly hpack = hpack.decompressor.create({ table: { size: TABLE_BYTES } });

  decode(block: Buffer): Header[] {
    this.hpack.write(block);
    this.hpack.execute();
    const headers: Header[] = [];
    for (let h = this.hpack.read(); h; h = this.hpack.read()) headers.push(h as Header);
    return headers;
  }
}

const isUrl = (authority: string | undefined) => authority?.includes('://') === true;

/** `http://host:port` (or with a path) → `host:port`. */
function hostOf(authority: string): string {
  return authority.slice(authority.indexOf('://') + 3).split('/')[0] ?? '';
}

/** Re-encodes every header block of one connection with the authority as host:port. */
export class AuthorityRewriter {
  private readonly frames = new FrameSplitter();
  private readonly blocks = new HeaderBlockJoiner();
  private readonly decoder = new HeaderDecoder();
  private readonly encoder = hpack.compressor.create({ table: { size: TABLE_BYTES } });

  /** The bytes to give the server for the next bytes from the client. */
  rewrite(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    for (const piece of this.frames.push(chunk)) {
      if (Buffer.isBuffer(piece)) out.push(piece);
      else if (piece.type !== HEADERS && piece.type !== CONTINUATION) out.push(piece.bytes);
      else {
        const block = this.blocks.push(piece);
        if (block) out.push(...this.encode(block));
      }
    }
    return Buffer.concat(out);
  }

  private encode({ stream, endStream, priority, block }: HeaderBlock): Buffer[] {
    const headers = this.decoder.decode(block).map((h) => ({
      ...h,
      value: h.name === ':authority' && isUrl(h.value) ? hostOf(h.value) : h.value,
    }));
    this.encoder.write(headers);
    const parts: Buffer[] = [];
    for (let b = this.encoder.read(); b; b = this.encoder.read()) parts.push(b as Buffer);
    const encoded = Buffer.concat([priority ?? Buffer.alloc(0), ...parts]);
    const frames: Buffer[] = [];
    for (let at = 0; at === 0 || at < encoded.length; at += MAX_FRAME_BYTES) {
      const payload = encoded.subarray(at, at + MAX_FRAME_BYTES);
      const last = at + MAX_FRAME_BYTES >= encoded.length;
      const type = at === 0 ? HEADERS : CONTINUATION;
      const flags =
        (last ? END_HEADERS : 0) |
        (at === 0 && endStream ? END_STREAM : 0) |
        (at === 0 && priority ? PRIORITY : 0);
      frames.push(frameHeader(payload.length, type, flags, stream), payload);
    }
    return frames;
  }
}

function frameHeader(length: number, type: number, flags: number, stream: number): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return header;
}

/**
 * Hands an HTTP/2 connection to `serve` once its first request's authority is known: the socket
 * itself, or a rewriting stream over it when that authority is a URL.
 */
export function admitHttp2(socket: Socket, serve: (connection: Duplex) => void, waitMs = WAIT_MS): void {
  const frames = new FrameSplitter();
  const blocks = new HeaderBlockJoiner();
  const held: Buffer[] = [];
  let heldBytes = 0;
  let acked = false;
  let ready = false;
  let authority: string | undefined;
  const timer = setTimeout(() => {
    ready = true;
    settle();
  }, waitMs);
  const onData = (chunk: Buffer) => {
    try {
      for (const piece of frames.push(chunk)) take(piece);
    } catch (e) {
      socket.destroy(e as Error);
      return;
    }
    ready ||= heldBytes + frames.pending.length > MAX_HELD_BYTES;
    settle();
  };
  const take = (piece: Frame | Buffer) => {
    // The first acknowledgement answers our SETTINGS; grpc-js's server must not see it.
    if (!Buffer.isBuffer(piece) && piece.type === SETTINGS && piece.flags & ACK && !acked) {
      acked = true;
      return;
    }
    hold(Buffer.isBuffer(piece) ? piece : piece.bytes);
    if (ready || Buffer.isBuffer(piece)) return;
    if (piece.type === PING) ready = true;
    else if (piece.type === HEADERS || piece.type === CONTINUATION) {
      const block = blocks.push(piece);
      if (!block) return;
      authority = new HeaderDecoder().decode(block.block).find((h) => h.name === ':authority')?.value;
      ready = true;
    }
  };
  const hold = (bytes: Buffer) => {
    held.push(bytes);
    heldBytes += bytes.length;
  };
  // Never before the acknowledgement: grpc-js's server would take it for one of its own.
  const settle = () => {
    if (!ready || !acked) return;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', stop);
    socket.off('close', stop);
    socket.pause();
    const first = Buffer.concat([...held, frames.pending]);
    if (isUrl(authority)) serve(rewritingConnection(socket, first));
    else {
      socket.unshift(first);
      serve(socket);
    }
  };
  // A connection that fails or closes while waiting is served by nobody.
  const stop = () => clearTimeout(timer);
  socket.on('data', onData);
  socket.on('error', stop);
  socket.on('close', stop);
  socket.write(EMPTY_SETTINGS);
}

/** A stream that gives the server the client's bytes rewritten, and the client the server's as they are. */
function rewritingConnection(socket: Socket, first: Buffer): Duplex {
  const rewriter = new AuthorityRewriter();
  const connection = new Duplex({
    read: () => socket.resume(),
    write: (chunk: Buffer, _encoding, done) => socket.write(chunk, done),
    final: (done) => socket.end(done),
    destroy: (err, done) => {
      socket.destroy(err ?? undefined);
      done(err);
    },
  });
  const feed = (chunk: Buffer) => {
    let rewritten: Buffer;
    try {
      rewritten = rewriter.rewrite(chunk);
    } catch (e) {
      connection.destroy(e as Error);
      return;
    }
    if (!connection.push(rewritten)) socket.pause();
  };
  socket.on('data', feed);
  socket.on('end', () => connection.push(null));
  socket.on('error', (e) => connection.destroy(e));
  socket.on('close', () => connection.destroy());
  feed(first);
  return connection;
}
