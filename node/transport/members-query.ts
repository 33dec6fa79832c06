// Asking a peer which members its table lists as published: a hello of kind 'members' out, one
// 'published' frame back, then the connection ends. Any failure is a question left unanswered,
// never an error: the caller (node/server/bootstrapped.ts) must go on when founders are down, of
// another cluster, or of an older build (which refuses the unknown hello kind by closing).
import type { Socket } from 'node:net';
import type { NodeId } from '../raft/types.js';
import type { Hello } from './framing.js';
import type { PeerStats, TransportLogger } from './types.js';
import { readFrames, writeFrame } from './wire.js';

/** The ids a peer lists as published, or why it gave no answer. */
export type PublishedAnswer = { published: NodeId[] } | { unanswered: string };

export interface PublishedQueryOptions {
  /** A socket that is connecting to the peer; it is destroyed when the query ends either way. */
  socket: Socket;
  hello: Hello;
  /** The whole query's deadline, dial included. */
  timeoutMs: number;
  maxFrameBytes: number;
  stats: PeerStats;
  logger: TransportLogger;
}

export async function queryPublished(o: PublishedQueryOptions): Promise<PublishedAnswer> {
  const s = o.socket;
  let timer: NodeJS.Timeout | undefined;
  let socketError: Error | undefined;
  s.on('error', (e) => (socketError = e)); // 'close' follows and settles the answer
  const answer = new Promise<PublishedAnswer>((resolve) => {
    timer = setTimeout(() => resolve({ unanswered: `no answer within ${o.timeoutMs} ms` }), o.timeoutMs);
    s.once('close', () =>
      resolve({ unanswered: `connection closed: ${socketError?.message ?? 'no answer'}` }),
    );
    readFrames(
      s,
      {
        maxFrameBytes: o.maxFrameBytes,
        logger: o.logger,
        onBytes: (n) => (o.stats.bytesReceived += n),
        describe: () => ({ peer: o.hello.to, direction: 'members query' }),
      },
      (f) => {
        if (f.t === 'published') resolve({ published: f.ids });
        else if (f.t === 'reject') resolve({ unanswered: `refused (${f.reason}): ${f.detail}` });
        else resolve({ unanswered: `unexpected '${f.t}' frame` });
      },
    );
  });
  // A connecting socket (plain or TLS) holds the write until it is connected.
  writeFrame(s, o.hello, (n) => (o.stats.bytesSent += n));
  try {
    return await answer;
  } finally {
    clearTimeout(timer);
    s.destroy();
  }
}
