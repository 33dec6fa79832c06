// Peer-to-peer transport for Raft messages over TCP. One persistent outbound connection per peer
// carries messages in batched frames (peer-connection.ts); each snapshot streams on a connection
// of its own (snapshot-stream.ts) so it never holds up heartbeats; a member starting on an empty
// data dir asks peers which members they know as published on one more (members-query.ts);
// accepted connections must first name this cluster and member (inbound.ts). The wire format is
// in framing.ts.
import { createConnection, createServer, isIP, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  connect as connectTls,
  createServer as createTlsServer,
  type Server as TlsServer,
  type ConnectionOptions,
  type TlsOptions,
  type TLSSocket,
} from 'node:tls';
import type { Message, NodeId } from '../raft/types.js';
import type { PeerTransport } from '../server/ports.js';
import { DEFAULT_MAX_FRAME_BYTES, PROTOCOL_VERSION, type Hello, type StreamKind } from './framing.js';
import { acceptPeer } from './inbound.js';
import { queryPublished, type PublishedAnswer } from './members-query.js';
import { PeerConnection } from './peer-connection.js';
import { sendSnapshotStream } from './snapshot-stream.js';
import {
  newPeerStats,
  silentLogger,
  type PeerAddress,
  type PeerStats,
  type SnapshotHandler,
  type TransportLogger,
} from './types.js';
import { destroyAndWait } from './wire.js';

export type { PeerAddress, PeerStats, SnapshotHandler, TransportLogger } from './types.js';
export type { PublishedAnswer } from './members-query.js';

export interface TransportOptions {
  id: NodeId;
  clusterId: string;
  /** Port 0 picks a free port; start() returns it. */
  listen: PeerAddress;
  /**
   * The local address connections to peers leave from (default: the system's choice). A member
   * that listens for peers on one address dials from it too, so peers, firewalls and the fault
   * tests' link proxies see one address per member.
   */
  sourceAddress?: string;
  /** Peer TLS (https peer URLs): both the connections this member dials and those it accepts. */
  /** `accepts` vets an accepted connection's client certificate once its handshake is done. */
  tls?: { server: TlsOptions; dial: ConnectionOptions; accepts?: (s: TLSSocket) => boolean };
  peers?: Map<NodeId, PeerAddress>;
  onMessages?: (msgs: Message[]) => void;
  onSnapshot?: SnapshotHandler;
  /** A connection to the peer failed or was lost (Raft's reportUnreachable). */
  onUnreachable?: (peer: NodeId) => void;
  /** Each ping's round trip (etcd_network_peer_round_trip_time_seconds). */
  onRtt?: (peer: NodeId, seconds: number) => void;
  /** Connections from removed members are refused with reason 'removed'. */
  isRemoved?: (peer: NodeId) => boolean;
  /** A peer refused us because this member was removed from the cluster. */
  onRemoved?: () => void;
  /** The members this member's table lists as published, for peers that ask (default none). */
  publishedMembers?: () => NodeId[];
  logger?: TransportLogger;
  /** Messages waiting per peer; past it the oldest are dropped (default 4096). */
  maxQueue?: number;
  /** Largest frame accepted or sent (default 64 MiB). */
  maxFrameBytes?: number;
  /** Snapshot data goes out in frames of at most this many bytes (default 1 MiB). */
  snapshotChunkBytes?: number;
  /** A snapshot send fails after this long without traffic, the receiver's install included (default 5 min). */
  snapshotIdleTimeoutMs?: number;
  /** How often each message connection is pinged (default 1 s). */
  pingIntervalMs?: number;
  /** A message connection silent this long is closed and re-dialled (default 5 s). */
  idleTimeoutMs?: number;
  /** Re-dial backoff: doubles from min to max, each delay jittered by ±50% (default 50 ms → 2 s). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

/** "http://host:port" (a member's peer URL) → address; IPv6 brackets are dropped. */
export function parsePeerUrl(url: string): PeerAddress {
  const u = new URL(url);
  if (u.port === '') throw new Error(`peer URL ${url} has no port`);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) };
}

/**
 * The source address for a member listening for peers on `listenHost`: that address when it is
 * one IP address, nothing (the system's choice) for a wildcard or a host name.
 */
export function sourceAddressFor(listenHost: string): string | undefined {
  const host = listenHost.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::' ? host : undefined;
}

const DEFAULTS = {
  maxQueue: 4096,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  snapshotChunkBytes: 1024 * 1024,
  snapshotIdleTimeoutMs: 5 * 60_000,
  pingIntervalMs: 1000,
  idleTimeoutMs: 5000,
  backoffMinMs: 50,
  backoffMaxMs: 2000,
};

export class Transport implements PeerTransport {
  private readonly logger: TransportLogger;
  private readonly tuning: typeof DEFAULTS;
  private readonly links = new Map<NodeId, PeerConnection>();
  private readonly peerStatsById = new Map<NodeId, PeerStats>();
  /** Accepted, snapshot-sending and querying sockets, destroyed by close(). */
  private readonly sockets = new Set<Socket>();
  private readonly messageStreams = new Map<NodeId, Socket>();
  /** Connections to removed peers that are still closing; close() waits for them. */
  private readonly closing = new Set<Promise<void>>();
  private messageHandler: (msgs: Message[]) => void;
  private snapshotHandler: SnapshotHandler;
  private server: Server | undefined;
  /** The peer TLS in use: options.tls until renewed certificates replace it. */
  private tls: TransportOptions['tls'];
  private pinger: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly o: TransportOptions) {
    this.logger = o.logger ?? silentLogger;
    this.tls = o.tls;
    this.tuning = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) this.tuning[k] = o[k] ?? DEFAULTS[k];
    if (this.tuning.snapshotChunkBytes + 1024 > this.tuning.maxFrameBytes) {
      throw new Error('snapshotChunkBytes must leave room for the frame around it within maxFrameBytes');
    }
    if (this.tuning.pingIntervalMs * 2 > this.tuning.idleTimeoutMs) {
      throw new Error('idleTimeoutMs must be at least two ping intervals, or live connections are cut');
    }
    this.messageHandler = o.onMessages ?? (() => {});
    this.snapshotHandler =
      o.onSnapshot ??
      (async () => {
        throw new Error('this member does not accept snapshots');
      });
    for (const [id, address] of o.peers ?? []) this.addPeer(id, address);
  }

  /** Replaces the message handler given in the options. */
  onMessages(handler: (msgs: Message[]) => void): void {
    this.messageHandler = handler;
  }

  /** Replaces the snapshot handler given in the options. */
  onSnapshot(handler: SnapshotHandler): void {
    this.snapshotHandler = handler;
  }

  /** Listens, starts dialling the peers, and returns the port listened on. */
  async start(): Promise<number> {
    if (this.started || this.closed) throw new Error('a transport starts once');
    this.started = true;
    const { tls } = this;
    const server = tls
      ? createTlsServer(tls.server, (s) => (this.tls?.accepts?.(s) === false ? s.destroy() : this.accept(s)))
      : createServer((s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.listen.port, this.o.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.logger.error('peer listener failed', { error: String(e) }));
    this.pinger = setInterval(() => {
      for (const link of this.links.values()) link.tick();
    }, this.tuning.pingIntervalMs);
    for (const link of this.links.values()) link.start();
    return (server.address() as AddressInfo).port;
  }

  addPeer(id: NodeId, address: PeerAddress): void {
    if (this.links.has(id)) throw new Error(`peer ${id} is already known; use updatePeer`);
    if (id === this.o.id) throw new Error(`peer ${id} is this member`);
    const link = new PeerConnection({
      self: this.o.id,
      clusterId: this.o.clusterId,
      peer: id,
      address,
      dial: (a) => this.dial(a),
      maxQueue: this.tuning.maxQueue,
      maxFrameBytes: this.tuning.maxFrameBytes,
      idleTimeoutMs: this.tuning.idleTimeoutMs,
      backoffMinMs: this.tuning.backoffMinMs,
      backoffMaxMs: this.tuning.backoffMaxMs,
      stats: this.statsFor(id),
      logger: this.logger,
      onRtt: (seconds) => this.callback('onRtt', () => this.o.onRtt?.(id, seconds)),
      onUnreachable: () => this.callback('onUnreachable', () => this.o.onUnreachable?.(id)),
      onRemoved: () => this.callback('onRemoved', () => this.o.onRemoved?.()),
    });
    this.links.set(id, link);
    if (this.started && !this.closed) link.start();
  }

  private dial({ host, port }: PeerAddress): Socket {
    const { sourceAddress } = this.o;
    const { tls } = this;
    const to = sourceAddress ? { host, port, localAddress: sourceAddress } : { host, port };
    // Writes before the handshake is done wait for it inside the TLS socket.
    return tls ? connectTls({ ...tls.dial, ...to }) : createConnection(to);
  }

  /** Renewed certificates: new connections, dialled and accepted, use them; open ones keep theirs. */
  updateTls(tls: NonNullable<TransportOptions['tls']>): void {
    if (!this.tls) throw new Error('this transport does not use TLS');
    this.tls = tls;
    (this.server as TlsServer | undefined)?.setSecureContext(tls.server);
  }

  updatePeer(id: NodeId, address: PeerAddress): void {
    const link = this.links.get(id);
    if (!link) throw new Error(`peer ${id} is not known; use addPeer`);
    const { host, port } = link.peerAddress;
    if (host !== address.host || port !== address.port) link.setAddress(address);
  }

  /** Forgets the peer and drops what was queued for it. */
  removePeer(id: NodeId): void {
    const link = this.links.get(id);
    if (!link) return;
    this.links.delete(id);
    const closing = link.close();
    this.closing.add(closing);
    void closing.finally(() => this.closing.delete(closing));
  }

  /** Makes the peer set exactly `peers` (member id → peer URL). */
  setPeers(peers: Map<NodeId, string>): void {
    const wanted = new Map([...peers].map(([id, url]) => [id, parsePeerUrl(url)]));
    for (const id of [...this.links.keys()]) if (!wanted.has(id)) this.removePeer(id);
    for (const [id, address] of wanted) {
      if (this.links.has(id)) this.updatePeer(id, address);
      else this.addPeer(id, address);
    }
  }

  /** Queues messages to their peers and returns at once; delivery is best effort, as Raft expects. */
  send(msgs: Message[]): void {
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of msgs) {
      const group = byPeer.get(m.to);
      if (group) group.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, group] of byPeer) {
      const link = this.links.get(to);
      if (link) link.enqueue(group);
      else this.statsFor(to).messagesDropped += group.length;
    }
  }

  /** Whether this member's connection to the peer is up and was accepted by it. */
  reachable(peer: NodeId): boolean {
    return this.links.get(peer)?.reachable ?? false;
  }

  /** Messages of one type still queued for a peer, taken back: certainly never delivered to it. */
  takeUnsent(peer: NodeId, type: Message['type']): Message[] {
    return this.links.get(peer)?.takeUnsent(type) ?? [];
  }

  /**
   * Streams a snapshot on its own connection: `msg` is the 'snap' message (its snapshot's meta is
   * sent, its data is not), `chunks` the data. Resolves once the peer installed it; rejects on any
   * failure, so the caller can report the snapshot as failed to Raft.
   */
  async sendSnapshot(
    to: NodeId,
    msg: Message,
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  ): Promise<void> {
    const link = this.links.get(to);
    if (!link) throw new Error(`cannot send a snapshot to unknown peer ${to}`);
    if (!msg.snapshot) throw new Error('a snapshot message needs snapshot meta');
    if (!this.started || this.closed) throw new Error('the transport is not running');
    await sendSnapshotStream({
      socket: this.track(this.dial(link.peerAddress)),
      hello: this.hello(to, 'snap'),
      msg,
      chunks,
      chunkBytes: this.tuning.snapshotChunkBytes,
      idleTimeoutMs: this.tuning.snapshotIdleTimeoutMs,
      maxFrameBytes: this.tuning.maxFrameBytes,
      stats: this.statsFor(to),
      logger: this.logger,
    });
  }

  /**
   * Asks the member at `address`, known here as `to`, which members its table lists as published.
   * Works before start(), so a member can ask before it serves anything.
   */
  askPublished(to: NodeId, address: PeerAddress, timeoutMs: number): Promise<PublishedAnswer> {
    if (this.closed) return Promise.resolve({ unanswered: 'the transport is closed' });
    return queryPublished({
      socket: this.track(this.dial(address)),
      hello: this.hello(to, 'members'),
      timeoutMs,
      maxFrameBytes: this.tuning.maxFrameBytes,
      stats: this.statsFor(to),
      logger: this.logger,
    });
  }

  /** The latest ping round trip to the peer, in seconds. */
  rtt(peer: NodeId): number | undefined {
    return this.links.get(peer)?.rtt;
  }

  /** The peers traffic was counted for. */
  peerIds(): NodeId[] {
    return [...this.peerStatsById.keys()];
  }

  peerStats(peer: NodeId): PeerStats | undefined {
    const s = this.peerStatsById.get(peer);
    return s && { ...s };
  }

  /** Totals over all peers. */
  stats(): PeerStats {
    const total = newPeerStats();
    for (const s of this.peerStatsById.values()) {
      for (const k of Object.keys(total) as (keyof PeerStats)[]) total[k] += s[k];
    }
    return total;
  }

  /** Closes every connection, the listener and the timers; resolves once all are released. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pinger);
    const server = this.server;
    await Promise.all([
      ...[...this.links.values()].map((link) => link.close()),
      ...[...this.sockets].map(destroyAndWait),
      ...this.closing,
      server && new Promise<void>((resolve) => server.close(() => resolve())),
    ]);
  }

  /** Runs a caller's callback from a socket event, where a throw would take the process down. */
  private callback<T>(name: string, fn: () => T, fallback?: T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.logger.error(`transport ${name} callback threw`, { error: String(e) });
      return fallback;
    }
  }

  private hello(to: NodeId, kind: StreamKind): Hello {
    return { t: 'hello', version: PROTOCOL_VERSION, clusterId: this.o.clusterId, from: this.o.id, to, kind };
  }

  /** Keeps the socket until it closes, so close() can destroy it. */
  private track(s: Socket): Socket {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    return s;
  }

  private statsFor(peer: NodeId): PeerStats {
    let s = this.peerStatsById.get(peer);
    if (!s) this.peerStatsById.set(peer, (s = newPeerStats()));
    return s;
  }

  private accept(s: Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    this.track(s);
    acceptPeer(s, {
      id: this.o.id,
      clusterId: this.o.clusterId,
      maxFrameBytes: this.tuning.maxFrameBytes,
      idleTimeoutMs: this.tuning.idleTimeoutMs,
      snapshotIdleTimeoutMs: this.tuning.snapshotIdleTimeoutMs,
      logger: this.logger,
      statsFor: (peer) => this.statsFor(peer),
      isRemoved: (peer) => this.callback('isRemoved', () => this.o.isRemoved?.(peer) ?? false, false)!,
      onMessageStream: (from, stream) => {
        // A peer re-dials when it thinks its connection died; the old one may linger half-open here.
        const old = this.messageStreams.get(from);
        if (old && old !== stream) old.destroy();
        this.messageStreams.set(from, stream);
        stream.once('close', () => {
          if (this.messageStreams.get(from) === stream) this.messageStreams.delete(from);
        });
      },
      deliver: (msgs) => this.callback('onMessages', () => this.messageHandler(msgs)),
      // async: a handler that throws instead of rejecting still fails only its snapshot.
      receiveSnapshot: async (from, msg, chunks) => this.snapshotHandler(from, msg, chunks),
      publishedMembers: () => this.callback('publishedMembers', () => this.o.publishedMembers?.() ?? [], [])!,
    });
  }
}
