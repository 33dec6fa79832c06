// Shared by the transport's tests: real transports on 127.0.0.1 port 0 that record what they get
// and log, and a deadline-bound wait for conditions.
import type { Message, NodeId } from '../raft/types.js';
import { Transport, type TransportOptions } from './transport.js';

export function appMsg(
  from: NodeId,
  to: NodeId,
  index: number,
  data = new Uint8Array([index % 256]),
): Message {
  return {
    type: 'app',
    from,
    to,
    term: 1,
    logTerm: 1,
    index,
    entries: [{ term: 1, index: index + 1, type: 'normal', data }],
    commit: 0,
    reject: false,
    rejectHint: 0,
    hintTerm: 0,
  };
}

/** A snapshot message from a to b. */
export function snapMsg(index: number, data = new Uint8Array(0)): Message {
  return {
    ...appMsg('a', 'b', 0),
    type: 'snap',
    entries: [],
    snapshot: { meta: { index, term: 2, confState: { voters: ['a', 'b'], learners: [] } }, data },
  };
}

export function heartbeat(from: NodeId, to: NodeId, commit: number): Message {
  return { ...appMsg(from, to, 0), type: 'heartbeat', entries: [], commit };
}

/** Polls `cond` until it holds; fails with `what` at the deadline. */
export async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  meta?: Record<string, unknown>;
}

export interface Node {
  t: Transport;
  id: NodeId;
  port: number;
  got: Message[];
  logs: LogLine[];
  logged: (level: LogLine['level'], text: string) => boolean;
}

/** Transports started by node(); closed by closeAll() (call it in afterEach). */
const running: Transport[] = [];

export async function node(id: NodeId, extra: Partial<TransportOptions> = {}): Promise<Node> {
  const got: Message[] = [];
  const logs: LogLine[] = [];
  const log = (level: LogLine['level']) => (message: string, meta?: Record<string, unknown>) =>
    logs.push({ level, message, meta });
  const t = new Transport({
    id,
    clusterId: 'c1',
    listen: { host: '127.0.0.1', port: 0 },
    onMessages: (ms) => got.push(...ms),
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
    ...extra,
  });
  running.push(t);
  const port = await t.start();
  const logged = (level: LogLine['level'], text: string) =>
    logs.some((l) => l.level === level && l.message.includes(text));
  return { t, id, port, got, logs, logged };
}

/** Makes every node a peer of every other. */
export function mesh(nodes: Node[]): void {
  for (const a of nodes)
    for (const b of nodes) if (a !== b) a.t.addPeer(b.id, { host: '127.0.0.1', port: b.port });
}

export async function closeAll(): Promise<void> {
  await Promise.all(running.splice(0).map((t) => t.close()));
}
