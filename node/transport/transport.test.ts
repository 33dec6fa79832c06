// The transport over real loopback sockets.
import { connect } from 'node:net';
import type { Message } from '../raft/types.js';
import { Transport } from './transport.js';

function msg(from: string, to: string, n: number, data = new Uint8Array([n % 256])): Message {
  return {
    type: 'app',
    from,
    to,
    term: 1,
    logTerm: 1,
    index: n,
    entries: [{ term: 1, index: n + 1, type: 'normal', data }],
    commit: 0,
    reject: false,
    rejectHint: 0,
    hintTerm: 0,
  };
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const started: Transport[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.close()));
});

async function node(
  id: string,
  cluster = 'c1',
): Promise<{ t: Transport; got: Message[]; port: number; warnings: string[] }> {
  const got: Message[] = [];
  const warnings: string[] = [];
  const logger = { info: () => {}, warn: (m: string) => warnings.push(m) };
  const t = new Transport({ id, clusterId: cluster, listen: { host: '127.0.0.1', port: 0 }, logger });
  t.onMessages((ms) => got.push(...ms));
  started.push(t);
  return { t, got, port: await t.start(), warnings };
}

test('messages with entries reach their peers intact, batched into few frames', async () => {
  const a = await node('a');
  const b = await node('b');
  a.t.setPeers(new Map([['b', `http://127.0.0.1:${b.port}`]]));
  for (let i = 0; i < 500; i++) a.t.send([msg('a', 'b', i)]);
  await waitFor(() => b.got.length === 500);
  expect(b.got.map((m) => m.index)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  expect(b.got[7]!.entries[0]!.data).toEqual(new Uint8Array([7]));
  expect(a.t.stats.framesSent).toBeLessThan(100); // hello + ping + batches, not 500 frames
});

test('a member of another cluster is refused', async () => {
  const a = await node('a', 'other-cluster');
  const b = await node('b');
  a.t.setPeers(new Map([['b', `http://127.0.0.1:${b.port}`]]));
  a.t.send([msg('a', 'b', 1)]);
  await waitFor(() => b.warnings.some((w) => w.startsWith('refusing peer connection')));
  expect(b.got).toEqual([]);
});

test('garbage at the peer port closes that connection and the member keeps serving others', async () => {
  const b = await node('b');
  const sock = connect(b.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  await new Promise((r) => sock.once('close', r));
  const a = await node('a');
  a.t.setPeers(new Map([['b', `http://127.0.0.1:${b.port}`]]));
  a.t.send([msg('a', 'b', 1)]);
  await waitFor(() => b.got.length === 1);
});

test('messages queued while the peer is down are delivered after it comes back', async () => {
  const a = await node('a');
  const probe = await node('tmp');
  const port = probe.port;
  await probe.t.close();
  a.t.setPeers(new Map([['b', `http://127.0.0.1:${port}`]]));
  a.t.send([msg('a', 'b', 1)]);
  const got: Message[] = [];
  const b = new Transport({ id: 'b', clusterId: 'c1', listen: { host: '127.0.0.1', port } });
  b.onMessages((ms) => got.push(...ms));
  started.push(b);
  await b.start();
  a.t.send([msg('a', 'b', 2)]);
  await waitFor(() => got.some((m) => m.index === 2));
});

test('a 20 MiB snapshot streams on its own connection while messages keep flowing', async () => {
  const a = await node('a');
  const b = await node('b');
  let received: Message | undefined;
  b.t.onSnapshot(async (m) => {
    received = m;
  });
  a.t.setPeers(new Map([['b', `http://127.0.0.1:${b.port}`]]));
  const data = new Uint8Array(20 * 1024 * 1024).map((_, i) => i % 251);
  const snap: Message = {
    ...msg('a', 'b', 0),
    type: 'snap',
    snapshot: { meta: { index: 9, term: 1, confState: { voters: ['a', 'b'], learners: [] } }, data },
  };
  const sending = a.t.sendSnapshot(snap);
  a.t.send([msg('a', 'b', 42)]);
  await waitFor(() => b.got.some((m) => m.index === 42));
  await sending;
  expect(received!.snapshot!.meta.index).toBe(9);
  expect(Buffer.compare(Buffer.from(received!.snapshot!.data), Buffer.from(data))).toBe(0);
});
