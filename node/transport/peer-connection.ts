// The outbound message connection to one peer: one persistent TCP connection, re-dialled with
// exponential backoff and jitter, behind a bounded queue. Everything queued while a write is in
// flight goes out together in the next write, so a burst of sends costs a few frames, not one
// each. Pings on the same connection measure the round-trip time and find connections that went
// silent (a partition leaves TCP looking open).
import type { Socket } from 'node:net';
import type { Message, NodeId } from '../raft/types.js';
import { encodeMessageFrames, PROTOCOL_VERSION, type Frame } from './framing.js';
import type { PeerAddress, PeerStats, TransportLogger } from './types.js';
import { destroyAndWait, readFrames, writeFrame } from './wire.js';

export interface PeerConnectionOptions {
  self: NodeId;
  clusterId: string;
  peer: NodeId;
  address: PeerAddress;
  /** Opens a connection to a peer (the transport's, which picks the source address). */
  dial: (address: PeerAddress) => Socket;
  maxQueue: number;
  maxFrameBytes: number;
  /** A dial unanswered, or a connection that answered nothing (not even a ping), for this long is re-dialled. */
  idleTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  stats: PeerStats;
  logger: TransportLogger;
  onRtt: (seconds: number) => void;
  /** A dial failed or the connection was lost: messages may have been lost with it. */
  onUnreachable: () => void;
  /** The peer refused us because we were removed from the cluster. */
  onRemoved: () => void;
}

export class PeerConnection {
  private address: PeerAddress;
  private queue: Message[] = [];
  private socket: Socket | undefined;
  private connected = false;
  private writing = false;
  /** The peer answered our hello; only then does the backoff reset, so a refusing peer is not hammered. */
  private accepted = false;
  /** An outage was already logged; the retries that follow stay quiet. */
  private down = false;
  private backoffMs: number;
  private retry: NodeJS.Timeout | undefined;
  /** When the dial started or the peer last sent a frame. */
  private lastHeard = 0;
  private started = false;
  private closed = false;
  private lastRtt: number | undefined;

  constructor(private readonly o: PeerConnectionOptions) {
    this.address = o.address;
    this.backoffMs = o.backoffMinMs;
  }

  /** Seconds, from the latest pong. */
  get rtt(): number | undefined {
    return this.lastRtt;
  }

  /** The connection is up and the peer accepted our hello; false from the moment it drops. */
  get reachable(): boolean {
    return this.accepted;
  }

  get peerAddress(): PeerAddress {
    return this.address;
  }

  start(): void {
    this.started = true;
    this.connect();
  }

  enqueue(msgs: Message[]): void {
    if (this.closed) {
      this.o.stats.messagesDropped += msgs.length;
      return;
    }
    for (const m of msgs) this.queue.push(m);
    const overflow = this.queue.length - this.o.maxQueue;
    if (overflow > 0) {
      // Raft retransmits what matters; dropping the oldest keeps the freshest terms and commits.
      this.queue.splice(0, overflow);
      this.o.stats.messagesDropped += overflow;
    }
    this.flush();
  }

  /** Takes back the queued messages of one type: none was written to a socket, so none was delivered. */
  takeUnsent(type: Message['type']): Message[] {
    const taken = this.queue.filter((m) => m.type === type);
    if (taken.length > 0) this.queue = this.queue.filter((m) => m.type !== type);
    return taken;
  }

  /** Re-dials at the new address; queued messages wait for the new connection. */
  setAddress(address: PeerAddress): void {
    this.address = address;
    this.backoffMs = this.o.backoffMinMs;
    if (this.socket) {
      this.socket.destroy();
    } else if (this.retry) {
      clearTimeout(this.retry);
      this.retry = undefined;
      this.connect();
    }
  }

  /** Called every ping interval. */
  tick(): void {
    const s = this.socket;
    if (!s) return;
    // A blackholed address never fails a dial quickly, and a partition leaves TCP looking open.
    if (performance.now() - this.lastHeard > this.o.idleTimeoutMs) {
      if (!this.down) {
        this.o.logger.warn('peer connection silent; re-dialling', { peer: this.o.peer, ...this.address });
      }
      s.destroy();
      return;
    }
    if (this.connected) this.write(s, { t: 'ping', at: performance.now() });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.o.stats.messagesDropped += this.queue.length;
    this.queue = [];
    if (this.socket) await destroyAndWait(this.socket);
  }

  private connect(): void {
    if (!this.started || this.closed || this.socket) return;
    const s = this.o.dial(this.address);
    this.socket = s;
    this.lastHeard = performance.now();
    s.setNoDelay(true);
    let failure: Error | undefined;
    s.on('error', (e) => (failure = e)); // 'close' follows and handles it
    s.once('connect', () => {
      this.connected = true;
      const { self: from, clusterId, peer: to } = this.o;
      this.write(s, { t: 'hello', version: PROTOCOL_VERSION, clusterId, from, to, kind: 'msg' });
      // The first pong doubles as the peer's acceptance of the hello.
      this.write(s, { t: 'ping', at: performance.now() });
      this.flush();
    });
    readFrames(
      s,
      {
        maxFrameBytes: this.o.maxFrameBytes,
        logger: this.o.logger,
        onBytes: (n) => (this.o.stats.bytesReceived += n),
        describe: () => ({ peer: this.o.peer, direction: 'out' }),
      },
      (f) => this.onFrame(s, f),
    );
    s.once('close', () => this.onClose(s, failure));
  }

  private onFrame(s: Socket, f: Frame): void {
    this.lastHeard = performance.now();
    if (f.t === 'pong') {
      if (!this.accepted) {
        this.accepted = true;
        this.backoffMs = this.o.backoffMinMs;
        if (this.down) this.o.logger.info('peer reachable again', { peer: this.o.peer, ...this.address });
        this.down = false;
      }
      this.lastRtt = (performance.now() - f.at) / 1000;
      this.o.onRtt(this.lastRtt);
    } else if (f.t === 'reject') {
      if (!this.down) {
        this.o.logger.warn('peer refused our connection', {
          peer: this.o.peer,
          reason: f.reason,
          detail: f.detail,
        });
      }
      if (f.reason === 'removed') this.o.onRemoved();
      s.destroy();
    } else {
      this.o.logger.error('closing peer connection: unexpected frame', { peer: this.o.peer, frame: f.t });
      s.destroy();
    }
  }

  private onClose(s: Socket, failure: Error | undefined): void {
    if (this.socket !== s) return;
    this.socket = undefined;
    this.connected = false;
    this.writing = false;
    this.accepted = false;
    if (this.closed) return;
    if (!this.down) {
      this.down = true;
      this.o.logger.warn('peer unreachable; retrying with backoff', {
        peer: this.o.peer,
        ...this.address,
        error: failure?.message,
      });
    }
    this.o.onUnreachable();
    const delay = this.backoffMs * (0.5 + Math.random());
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoffMaxMs);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect();
    }, delay);
  }

  private flush(): void {
    const s = this.socket;
    if (!s || !this.connected || s.destroyed || this.writing || this.queue.length === 0) return;
    const msgs = this.queue;
    this.queue = [];
    const { frames, tooLarge } = encodeMessageFrames(msgs, this.o.maxFrameBytes);
    if (tooLarge.length > 0) {
      this.o.stats.messagesDropped += tooLarge.length;
      this.o.logger.error('dropping messages larger than a frame may be', {
        peer: this.o.peer,
        count: tooLarge.length,
        maxFrameBytes: this.o.maxFrameBytes,
      });
    }
    if (frames.length === 0) return;
    this.writing = true;
    this.o.stats.framesSent += frames.length;
    this.o.stats.messagesSent += msgs.length - tooLarge.length;
    s.cork();
    frames.forEach((buf, i) => {
      this.o.stats.bytesSent += buf.length;
      s.write(buf, i === frames.length - 1 ? () => this.written(s) : undefined);
    });
    s.uncork();
  }

  private written(s: Socket): void {
    if (this.socket !== s) return;
    this.writing = false;
    this.flush();
  }

  private write(s: Socket, f: Frame): void {
    this.o.stats.framesSent++;
    writeFrame(s, f, (n) => (this.o.stats.bytesSent += n));
  }
}
