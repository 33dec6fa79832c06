// A snapshot travels on a connection of its own, so a large one never waits in front of
// heartbeats: hello (kind 'snap'), a 'snap' header, 'chunk' frames, then 'snapEnd' with the byte
// count. The receiver answers 'snapAck' once its handler has installed the snapshot (or failed
// to). Flow control is TCP's on both ends: the sender waits for 'drain', the receiver pauses the
// socket while its handler has unread chunks.
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { Message, NodeId } from '../raft/types.js';
import type { Frame, Hello } from './framing.js';
import type { PeerStats, SnapshotHandler, TransportLogger } from './types.js';
import { readFrames, writeFrame } from './wire.js';

export interface SnapshotSendOptions {
  /** A socket that is connecting to the peer; it is destroyed when the send ends either way. */
  socket: Socket;
  hello: Hello;
  /** The 'snap' message; its snapshot's data is not sent (the chunks are the data). */
  msg: Message;
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** Larger chunks are split to this size. */
  chunkBytes: number;
  /** The send fails after this long without any traffic (which includes the peer's install time). */
  idleTimeoutMs: number;
  maxFrameBytes: number;
  stats: PeerStats;
  logger: TransportLogger;
}

/** Resolves once the peer acknowledged the installed snapshot; rejects on any failure. */
export async function sendSnapshotStream(o: SnapshotSendOptions): Promise<void> {
  const s = o.socket;
  const sent = (n: number) => (o.stats.bytesSent += n);
  let settle!: { resolve: () => void; reject: (e: Error) => void };
  const outcome = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  // Awaited below; this only keeps a failure that comes while we await the chunks from being unhandled.
  outcome.catch(() => {});
  let socketError: Error | undefined;
  s.on('error', (e) => (socketError = e));
  s.once('close', () =>
    settle.reject(
      new Error(
        `connection closed before the snapshot was acknowledged${socketError ? `: ${socketError.message}` : ''}`,
      ),
    ),
  );
  s.setTimeout(o.idleTimeoutMs, () => s.destroy(new Error(`no traffic for ${o.idleTimeoutMs} ms`)));
  readFrames(
    s,
    {
      maxFrameBytes: o.maxFrameBytes,
      logger: o.logger,
      onBytes: (n) => (o.stats.bytesReceived += n),
      describe: () => ({ peer: o.hello.to, direction: 'snapshot out' }),
    },
    (f) => {
      if (f.t === 'snapAck' && f.ok) settle.resolve();
      else if (f.t === 'snapAck') settle.reject(new Error(`peer failed to install the snapshot: ${f.error}`));
      else if (f.t === 'reject')
        settle.reject(new Error(`peer refused the snapshot (${f.reason}): ${f.detail}`));
      else settle.reject(new Error(`unexpected '${f.t}' frame on a snapshot connection`));
    },
  );
  const unlessFailed = (p: Promise<unknown>) => Promise.race([p, outcome]);
  try {
    await unlessFailed(new Promise((resolve) => s.once('connect', resolve)));
    s.setNoDelay(true);
    const meta = o.msg.snapshot!.meta;
    writeFrame(s, o.hello, sent);
    writeFrame(s, { t: 'snap', msg: { ...o.msg, snapshot: { meta, data: new Uint8Array(0) } } }, sent);
    let bytes = 0;
    for await (const chunk of o.chunks) {
      for (let off = 0; off < chunk.length; off += o.chunkBytes) {
        const data = chunk.subarray(off, off + o.chunkBytes);
        bytes += data.length;
        if (!writeFrame(s, { t: 'chunk', data }, sent)) {
          await unlessFailed(new Promise((resolve) => s.once('drain', resolve)));
        }
      }
    }
    writeFrame(s, { t: 'snapEnd', bytes }, sent);
    await outcome;
  } finally {
    s.destroy();
  }
}

export interface SnapshotReceiveOptions {
  from: NodeId;
  handler: SnapshotHandler;
  /** While chunks are due, a silent sender is given up on after this long. */
  idleTimeoutMs: number;
  stats: PeerStats;
  logger: TransportLogger;
}

/** Handles the frames after an accepted 'snap' hello: feeds the handler and acknowledges. */
export function snapshotReceiver(s: Socket, o: SnapshotReceiveOptions): (f: Frame) => void {
  let chunks: Readable | undefined;
  let received = 0;
  let ended = false;
  let settled = false;
  const protocolError = (f: Frame) => {
    o.logger.error('closing snapshot connection: unexpected frame', { peer: o.from, frame: f.t });
    s.destroy();
  };
  s.setTimeout(o.idleTimeoutMs);
  s.once('close', () => {
    if (!ended)
      chunks?.destroy(new Error(`snapshot stream from ${o.from} broke off after ${received} bytes`));
  });
  const finish = (error?: unknown) => {
    settled = true;
    writeFrame(s, { t: 'snapAck', ok: !error, error: error ? String(error) : undefined }, (n) => {
      o.stats.bytesSent += n;
    });
    s.end();
    chunks?.destroy();
    s.resume(); // let the peer's close reach us even if the handler left chunks unread
  };
  return (f) => {
    if (!chunks) {
      if (f.t !== 'snap') return protocolError(f);
      // A few chunks of read-ahead; past that the socket pauses until the handler reads on.
      chunks = new Readable({ objectMode: true, highWaterMark: 4, read: () => s.resume() });
      chunks.on('error', () => {}); // the handler sees the error through its iteration
      const meta = f.msg.snapshot!.meta;
      o.handler(o.from, f.msg, chunks).then(
        () => {
          o.logger.info('snapshot received and installed', {
            peer: o.from,
            index: meta.index,
            bytes: received,
          });
          finish();
        },
        (e: unknown) => {
          o.logger.warn('snapshot from peer not installed', {
            peer: o.from,
            index: meta.index,
            error: String(e),
          });
          finish(e);
        },
      );
      return;
    }
    if (settled) return; // the handler is done; whatever still arrives is not needed
    if (f.t === 'chunk' && !ended) {
      received += f.data.length;
      if (!chunks.push(f.data)) s.pause();
    } else if (f.t === 'snapEnd' && !ended) {
      ended = true;
      s.setTimeout(0); // installing takes as long as it takes; the sender keeps its own deadline
      if (f.bytes === received) chunks.push(null);
      else
        chunks.destroy(
          new Error(`snapshot from ${o.from} has ${received} bytes, its sender sent ${f.bytes}`),
        );
    } else {
      protocolError(f);
    }
  };
}
