// Peer transport over TCP. Each member keeps one outbound connection per peer for Raft messages
// (everything queued while a write is in flight goes out as one frame) and opens a separate
// connection per snapshot so a large snapshot never holds up heartbeats. A handshake names the
// cluster and both ends, so a member of another cluster, or a stale address, is refused.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Message } from '../raft/types.js';
import type { PeerTransport } from '../server/ports.js';
import { encodeFrame, FrameDecoder, type Frame } from './framing.js';

export interface TransportOptions {
  id: string;
  clusterId: string;
  listen: { host: string; port: number };
  logger?: { info(m: string, meta?: object): void; warn(m: string, meta?: object): void };
  maxQueue?: number;
  maxFrameBytes?: number;
  onRtt?: (peer: string, seconds: number) => void;
  /** Whether a member ID was removed from the cluster (its connections are answered `removed`). */
  isRemoved?: (id: string) => boolean;
  /** A peer told us that we were removed from the cluster. */
  onRemoved?: () => void;
  onUnreachable?: (peer: string) => void;
}

interface Link {
  url: URL;
  socket?: Socket;
  connecting: boolean;
  queue: Message[];
  backoffMs: number;
  retry?: NodeJS.Timeout;
}

export interface TransportStats {
  framesSent: number;
  messagesSent: number;
  messagesDropped: number;
  bytesSent: number;
  bytesReceived: number;
}

export class Transport implements PeerTransport {
  private server: Server | undefined;
  private readonly links = new Map<string, Link>();
  private readonly inbound = new Set<Socket>();
  private messageHandler: (msgs: Message[]) => void = () => {};
  private snapshotHandler: (m: Message) => Promise<void> = async () => {};
  private pinger: NodeJS.Timeout | undefined;
  private closed = false;
  readonly stats: TransportStats = {
    framesSent: 0,
    messagesSent: 0,
    messagesDropped: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };

  constructor(private readonly o: TransportOptions) {}

  onMessages(h: (msgs: Message[]) => void): void {
    this.messageHandler = h;
  }

  onSnapshot(h: (m: Message) => Promise<void>): void {
    this.snapshotHandler = h;
  }

  async start(): Promise<number> {
    this.server = createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.listen.port, this.o.listen.host, () => resolve());
    });
    this.pinger = setInterval(() => this.ping(), 1000);
    this.pinger.unref();
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : this.o.listen.port;
  }

  setPeers(peers: Map<string, string>): void {
    for (const [id, link] of this.links) {
      if (peers.get(id) !== link.url.href) this.dropLink(id);
    }
    for (const [id, url] of peers) {
      if (!this.links.has(id))
        this.links.set(id, { url: new URL(url), connecting: false, queue: [], backoffMs: 50 });
    }
  }

  send(msgs: Message[]): void {
    for (const m of msgs) {
      const link = this.links.get(m.to);
      if (!link) {
        this.stats.messagesDropped++;
        continue;
      }
      if (link.queue.length >= (this.o.maxQueue ?? 4096)) {
        // Raft retransmits; a bounded queue keeps a dead peer from eating memory.
        link.queue.shift();
        this.stats.messagesDropped++;
      }
      link.queue.push(m);
      this.flush(m.to, link);
    }
  }

  private flush(id: string, link: Link): void {
    if (this.closed) return;
    if (!link.socket) {
      this.connect(id, link);
      return;
    }
    if (link.queue.length === 0 || link.socket.writableNeedDrain) return;
    const msgs = link.queue;
    link.queue = [];
    this.write(link.socket, { msgs });
    this.stats.messagesSent += msgs.length;
  }

  private write(socket: Socket, f: Frame): void {
    const buf = encodeFrame(f);
    this.stats.framesSent++;
    this.stats.bytesSent += buf.length;
    socket.write(buf);
  }

  private connect(id: string, link: Link): void {
    if (link.connecting || link.retry || this.closed) return;
    link.connecting = true;
    const s = createConnection({ host: link.url.hostname, port: Number(link.url.port) });
    s.setNoDelay(true);
    s.once('connect', () => {
      link.connecting = false;
      link.socket = s;
      link.backoffMs = 50;
      this.write(s, { hello: { v: 1, cluster: this.o.clusterId, from: this.o.id, to: id, kind: 'msg' } });
      this.write(s, { ping: performance.now() });
      this.flush(id, link);
    });
    s.on('drain', () => this.flush(id, link));
    this.readFrames(s, (f) => {
      if ('pong' in f) this.o.onRtt?.(id, (performance.now() - f.pong) / 1000);
      else if ('removed' in f) this.o.onRemoved?.();
    });
    s.once('close', () => {
      link.connecting = false;
      if (link.socket === s) link.socket = undefined;
      if (this.closed || this.links.get(id) !== link) return;
      this.o.onUnreachable?.(id);
      // Exponential backoff with jitter, capped at 2 s.
      const delay = link.backoffMs * (0.5 + Math.random());
      link.backoffMs = Math.min(link.backoffMs * 2, 2000);
      link.retry = setTimeout(() => {
        link.retry = undefined;
        if (link.queue.length > 0) this.connect(id, link);
      }, delay);
    });
    s.on('error', () => {}); // 'close' follows and handles it
  }

  private dropLink(id: string): void {
    const link = this.links.get(id);
    if (!link) return;
    this.links.delete(id);
    if (link.retry) clearTimeout(link.retry);
    link.socket?.destroy();
  }

  private ping(): void {
    for (const link of this.links.values())
      if (link.socket) this.write(link.socket, { ping: performance.now() });
  }

  private readFrames(s: Socket, onFrame: (f: Frame) => void): void {
    const dec = new FrameDecoder(this.o.maxFrameBytes ?? 64 * 1024 * 1024);
    s.on('data', (chunk: Buffer) => {
      this.stats.bytesReceived += chunk.length;
      let frames: Frame[];
      try {
        frames = dec.push(chunk);
      } catch (e) {
        this.o.logger?.warn('closing peer connection: bad frame', {
          error: String(e),
          remote: s.remoteAddress,
        });
        s.destroy();
        return;
      }
      for (const f of frames) onFrame(f);
    });
  }

  private accept(s: Socket): void {
    this.inbound.add(s);
    s.once('close', () => this.inbound.delete(s));
    s.on('error', () => {});
    let hello: Extract<Frame, { hello: unknown }>['hello'] | undefined;
    this.readFrames(s, (f) => {
      // Checked on every frame: a member removed while connected learns it at its next message.
      const from = hello?.from ?? ('hello' in f ? f.hello.from : undefined);
      if (from !== undefined && this.o.isRemoved?.(from)) {
        this.write(s, { removed: true });
        s.end();
        return;
      }
      if (!hello) {
        if (!('hello' in f) || f.hello.cluster !== this.o.clusterId || f.hello.to !== this.o.id) {
          this.o.logger?.warn('refusing peer connection: wrong cluster or member', {
            remote: s.remoteAddress,
            hello: 'hello' in f ? f.hello : undefined,
          });
          s.destroy();
          return;
        }
        hello = f.hello;
        return;
      }
      if ('msgs' in f) this.messageHandler(f.msgs);
      else if ('ping' in f) this.write(s, { pong: f.ping });
      else if ('snap' in f) {
        this.snapshotHandler(f.snap).then(
          () => this.write(s, { ack: { ok: true } }),
          (e: unknown) => this.write(s, { ack: { ok: false, error: String(e) } }),
        );
      }
    });
  }

  /** Streams a snapshot on its own connection; resolves once the receiver took it. */
  sendSnapshot(m: Message): Promise<void> {
    const link = this.links.get(m.to);
    if (!link) return Promise.reject(new Error(`unknown peer ${m.to}`));
    return new Promise((resolve, reject) => {
      const s = createConnection({ host: link.url.hostname, port: Number(link.url.port) });
      const timer = setTimeout(() => s.destroy(new Error('snapshot send timed out')), 120_000);
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.destroy();
        if (err) reject(err);
        else resolve();
      };
      s.once('connect', () => {
        this.write(s, {
          hello: { v: 1, cluster: this.o.clusterId, from: this.o.id, to: m.to, kind: 'snap' },
        });
        this.write(s, { snap: m });
      });
      this.readFrames(s, (f) => {
        if ('ack' in f) finish(f.ack.ok ? undefined : new Error(`peer refused snapshot: ${f.ack.error}`));
      });
      s.once('error', (e) => finish(e));
      s.once('close', () => finish(new Error('connection closed before the snapshot was acknowledged')));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pinger) clearInterval(this.pinger);
    for (const id of [...this.links.keys()]) this.dropLink(id);
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
