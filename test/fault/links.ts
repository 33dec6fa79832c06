// Controllable peer links for fault runs. Each member listens for peers on an address of its own
// (127.0.1.N) and dials from it; what the cluster advertises as the member's peer URL is a proxy
// in front of that listener. The proxy tells who is dialling by the source address, so every
// direction between two members is a link of its own that a test can cut or slow down.
//
// A cut link holds its bytes instead of dropping them: a stream cannot lose bytes in the middle
// and stay parseable, and TCP behaves the same way (it retransmits until the partition heals or
// the sender gives up, which here is the transport's idle timeout closing the connection). On
// heal, whatever was held arrives at once, stale messages included.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface LinkEnd {
  name: string;
  /** The address it dials from. */
  sourceHost: string;
  /** Where the proxy listens: the member's advertised peer URL. */
  advertised: { host: string; port: number };
  /** The member's own peer listener. */
  listen: { host: string; port: number };
}

interface Link {
  cut: boolean;
  delayMs: number;
}

/** Bytes in one direction of one proxied connection, released in order as the link allows. */
class Pipe {
  private readonly queue: Array<{ chunk: Buffer; at: number }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly to: Socket,
    private readonly link: () => Link,
  ) {}

  push(chunk: Buffer): void {
    this.queue.push({ chunk, at: performance.now() });
    this.pump();
  }

  pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      const { cut, delayMs } = this.link();
      if (cut) return; // heal() pumps again
      const wait = this.queue[0]!.at + delayMs - performance.now();
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      this.to.write(this.queue.shift()!.chunk);
    }
  }

  drop(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

export class PeerLinks {
  private readonly links = new Map<string, Link>();
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly pipes = new Set<Pipe>();
  private readonly bySource = new Map<string, string>();

  private link(from: string, to: string): Link {
    const key = `${from}>${to}`;
    let l = this.links.get(key);
    if (!l) this.links.set(key, (l = { cut: false, delayMs: 0 }));
    return l;
  }

  /** Starts a proxy in front of each member's peer listener. */
  async start(ends: LinkEnd[]): Promise<void> {
    for (const end of ends) await this.add(end);
  }

  /** Starts the proxy in front of one more member's peer listener. */
  async add(end: LinkEnd): Promise<void> {
    this.bySource.set(end.sourceHost, end.name);
    const server = createServer((s) => this.accept(end, s));
    this.servers.push(server);
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(end.advertised.port, end.advertised.host, () => ok());
    });
  }

  private accept(end: LinkEnd, inbound: Socket): void {
    const from = this.bySource.get(inbound.remoteAddress ?? '');
    const outbound = connect(end.listen.port, end.listen.host);
    const pass: Link = { cut: false, delayMs: 0 };
    // A dialler that is not a member (a probe) passes freely.
    const up = new Pipe(outbound, () => (from ? this.link(from, end.name) : pass));
    const down = new Pipe(inbound, () => (from ? this.link(end.name, from) : pass));
    for (const [s, pipe] of [
      [inbound, up],
      [outbound, down],
    ] as const) {
      this.sockets.add(s);
      this.pipes.add(pipe);
      s.on('data', (c: Buffer) => pipe.push(c));
      s.on('error', () => {}); // 'close' follows
      s.once('close', () => {
        this.sockets.delete(s);
        this.pipes.delete(pipe);
        up.drop();
        down.drop();
        inbound.destroy();
        outbound.destroy();
      });
    }
  }

  /** Holds everything `from` sends to `to` (one way). */
  cut(from: string, to: string): void {
    this.link(from, to).cut = true;
  }

  /** Cuts both directions between every member of `a` and every member of `b`. */
  split(a: string[], b: string[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cut(x, y);
        this.cut(y, x);
      }
    }
  }

  /** Delays what `from` sends to `to` by `ms`. */
  delay(from: string, to: string, ms: number): void {
    this.link(from, to).delayMs = ms;
  }

  /** Restores every link and releases what was held. */
  healAll(): void {
    for (const l of this.links.values()) {
      l.cut = false;
      l.delayMs = 0;
    }
    for (const p of this.pipes) p.pump();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((ok) => s.close(ok))));
  }
}
