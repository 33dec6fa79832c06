// Frames on a socket: one reader per connection that closes the connection (never the process) on
// a bad frame, and a writer that counts bytes for the per-peer metrics.
import type { Socket } from 'node:net';
import { encodeFrame, FrameDecoder, FrameError, type Frame } from './framing.js';
import type { TransportLogger } from './types.js';

export interface FrameReaderOptions {
  maxFrameBytes: number;
  logger: TransportLogger;
  onBytes: (n: number) => void;
  /** Names the connection in log lines. */
  describe: () => Record<string, unknown>;
}

/** Delivers the socket's frames in order; returns the decoder so its limit can be changed later. */
export function readFrames(s: Socket, o: FrameReaderOptions, onFrame: (f: Frame) => void): FrameDecoder {
  const decoder = new FrameDecoder(o.maxFrameBytes);
  s.on('data', (chunk: Buffer) => {
    o.onBytes(chunk.length);
    try {
      for (const f of decoder.push(chunk)) {
        if (s.destroyed) return;
        onFrame(f);
      }
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      o.logger.error('closing peer connection: bad frame', {
        ...o.describe(),
        remote: `${s.remoteAddress}:${s.remotePort}`,
        error: e.message,
      });
      s.destroy();
    }
  });
  return decoder;
}

/** Writes one frame; returns the socket's backpressure signal (false also when it is gone). */
export function writeFrame(s: Socket, f: Frame, onBytes: (n: number) => void): boolean {
  if (s.destroyed) return false;
  const buf = encodeFrame(f);
  onBytes(buf.length);
  return s.write(buf);
}

/** Destroys the socket and resolves once its handle is released. */
export async function destroyAndWait(s: Socket): Promise<void> {
  if (s.closed) return;
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  s.destroy();
  await closed;
}
