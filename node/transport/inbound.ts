// The accepting side of a peer connection. The first frame must be a hello naming this cluster and
// this member, which keeps out members of another cluster, stale addresses and removed members;
// until then frames are limited to a few KiB so a stranger cannot make us buffer much. After the
// hello the connection is a message stream (messages in, pongs out), one snapshot, or one answer
// listing the members this member's table shows as published.
import type { Socket } from 'node:net';
import type { Message, NodeId } from '../raft/types.js';
import { PROTOCOL_VERSION, type Frame, type Hello, type RejectReason } from './framing.js';
import { snapshotReceiver } from './snapshot-stream.js';
import type { PeerStats, SnapshotHandler, TransportLogger } from './types.js';
import { readFrames, writeFrame } from './wire.js';

const HELLO_MAX_BYTES = 4096;

export interface InboundOptions {
  id: NodeId;
  clusterId: string;
  maxFrameBytes: number;
  /** A connection silent this long is closed (the dialler pings far more often). */
  idleTimeoutMs: number;
  snapshotIdleTimeoutMs: number;
  logger: TransportLogger;
  statsFor: (peer: NodeId) => PeerStats;
  isRemoved: (peer: NodeId) => boolean;
  /** A new message stream from `from`; the transport closes the one it replaces. */
  onMessageStream: (from: NodeId, s: Socket) => void;
  deliver: (msgs: Message[]) => void;
  receiveSnapshot: SnapshotHandler;
  /** The members whose client URLs this member's table holds (they have run as members). */
  publishedMembers: () => NodeId[];
}

function refusal(h: Hello, o: InboundOptions): { reason: RejectReason; detail: string } | undefined {
  if (h.version !== PROTOCOL_VERSION) {
    return { reason: 'version', detail: `peer speaks version ${h.version}, this member ${PROTOCOL_VERSION}` };
  }
  if (h.clusterId !== o.clusterId) {
    return {
      reason: 'cluster',
      detail: `cluster ${h.clusterId} is not this member's cluster ${o.clusterId}`,
    };
  }
  if (h.to !== o.id) return { reason: 'member', detail: `this is member ${o.id}, not ${h.to}` };
  if (o.isRemoved(h.from))
    return { reason: 'removed', detail: `member ${h.from} was removed from the cluster` };
  return undefined;
}

export function acceptPeer(s: Socket, o: InboundOptions): void {
  s.setNoDelay(true);
  s.setTimeout(o.idleTimeoutMs, () => s.destroy());
  s.on('error', () => {}); // 'close' follows; a peer going away is not news here
  const remote = `${s.remoteAddress}:${s.remotePort}`;
  let hello: Hello | undefined;
  let stats: PeerStats | undefined;
  let unattributed = 0; // bytes that arrived before the hello named the peer
  const sent = (n: number) => stats && (stats.bytesSent += n);

  const reject = (reason: RejectReason, detail: string) => {
    o.logger.warn('refusing peer connection', { remote, from: hello?.from, reason, detail });
    writeFrame(s, { t: 'reject', reason, detail }, sent);
    s.end();
    onFrame = () => {};
  };

  const messageStream = (from: NodeId) => (f: Frame) => {
    if (f.t === 'msgs') {
      // Checked per batch: a member removed while connected learns it with its next message.
      if (o.isRemoved(from)) return reject('removed', `member ${from} was removed from the cluster`);
      stats!.messagesReceived += f.msgs.length;
      o.deliver(f.msgs);
    } else if (f.t === 'ping') {
      writeFrame(s, { t: 'pong', at: f.at }, sent);
    } else {
      o.logger.error('closing peer connection: unexpected frame', { peer: from, frame: f.t });
      s.destroy();
    }
  };

  let onFrame = (f: Frame) => {
    if (f.t !== 'hello') {
      o.logger.error('closing peer connection: no hello', { remote, frame: f.t });
      s.destroy();
      return;
    }
    hello = f;
    const refused = refusal(f, o);
    if (refused) return reject(refused.reason, refused.detail);
    decoder.maxFrameBytes = o.maxFrameBytes;
    stats = o.statsFor(f.from);
    stats.bytesReceived += unattributed;
    if (f.kind === 'msg') {
      o.onMessageStream(f.from, s);
      onFrame = messageStream(f.from);
    } else if (f.kind === 'members') {
      writeFrame(s, { t: 'published', ids: o.publishedMembers() }, sent);
      s.end();
      onFrame = () => {};
    } else {
      onFrame = snapshotReceiver(s, {
        from: f.from,
        handler: o.receiveSnapshot,
        idleTimeoutMs: o.snapshotIdleTimeoutMs,
        stats,
        logger: o.logger,
      });
    }
  };

  const decoder = readFrames(
    s,
    {
      maxFrameBytes: HELLO_MAX_BYTES,
      logger: o.logger,
      onBytes: (n) => (stats ? (stats.bytesReceived += n) : (unattributed += n)),
      describe: () => ({ peer: hello?.from, direction: 'in' }),
    },
    (f) => onFrame(f),
  );
}
