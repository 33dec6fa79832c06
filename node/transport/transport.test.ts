// The transport over real loopback sockets: delivery, batching, reconnects, the handshake, bad
// input at the port, round-trip times, and a clean close.
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { makeTestCerts } from '../../test/support/certs.js';
import type { Message } from '../raft/types.js';
import { encodeFrame } from './framing.js';
import { sourceAddressFor } from './transport.js';
import { appMsg, closeAll, heartbeat, mesh, node, snapMsg, waitFor } from './test-support.js';

afterEach(closeAll);

const loopback = (port: number) => ({ host: '127.0.0.1', port });

async function rawConnect(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  return s;
}

test('messages with entries round-trip between three transports', async () => {
  const nodes = [await node('a'), await node('b'), await node('c')];
  mesh(nodes);
  for (const from of nodes) {
    for (const to of nodes) {
      if (from === to) continue;
      const data = new TextEncoder().encode(`${from.id}->${to.id}`);
      from.t.send([appMsg(from.id, to.id, 7, data), heartbeat(from.id, to.id, 3)]);
    }
  }
  await waitFor('4 messages at each node', () => nodes.every((n) => n.got.length === 4));
  for (const n of nodes) {
    const apps = n.got.filter((m) => m.type === 'app');
    expect(apps.map((m) => m.from).sort()).toEqual(nodes.filter((x) => x !== n).map((x) => x.id));
    for (const m of apps) {
      expect(m.to).toBe(n.id);
      expect(m.entries[0]!.data).toBeInstanceOf(Uint8Array);
      expect(new TextDecoder().decode(m.entries[0]!.data)).toBe(`${m.from}->${n.id}`);
    }
  }
});

test('sends made while a write is in flight share frames', async () => {
  const [a, b] = [await node('a'), await node('b')];
  mesh([a, b]);
  await waitFor('a connected to b', () => a.t.rtt('b') !== undefined);
  const before = a.t.peerStats('b')!.framesSent;
  for (let i = 0; i < 1000; i++) a.t.send([appMsg('a', 'b', i)]);
  await waitFor('1000 messages', () => b.got.length === 1000);
  expect(b.got.map((m) => m.index)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  const stats = a.t.peerStats('b')!;
  expect(stats.messagesSent).toBe(1000);
  expect(stats.framesSent - before).toBeLessThan(20); // a few batches (and maybe a ping), not 1000 frames
  expect(b.t.peerStats('a')!.messagesReceived).toBe(1000);
  expect(stats.bytesSent).toBeGreaterThan(1000 * 20);
  expect(b.t.peerStats('a')!.bytesReceived).toBe(stats.bytesSent);
});

test('messages queued while a peer restarts are delivered to the new process on the same port', async () => {
  const unreachable: string[] = [];
  const a = await node('a', { onUnreachable: (p) => unreachable.push(p) });
  let b = await node('b');
  const port = b.port;
  mesh([a, b]);
  a.t.send([appMsg('a', 'b', 1)]);
  await waitFor('the first message', () => b.got.length === 1);
  await b.t.close();
  await waitFor('a notices b is gone', () => unreachable.includes('b'));
  a.t.send([appMsg('a', 'b', 2), appMsg('a', 'b', 3)]);
  b = await node('b', { listen: loopback(port) });
  await waitFor('the queued messages', () => b.got.length === 2);
  expect(b.got.map((m) => m.index)).toEqual([2, 3]);
});

test('a peer is reachable while its connection is up and accepted, and not once it drops', async () => {
  const a = await node('a');
  const b = await node('b');
  expect(a.t.reachable('b')).toBe(false); // not a peer yet
  mesh([a, b]);
  await waitFor('a connected to b', () => a.t.reachable('b'));
  await b.t.close();
  await waitFor('a sees b gone', () => !a.t.reachable('b'));
  expect(a.t.reachable('nobody')).toBe(false);
});

test('the queue in front of an unreachable peer is bounded and counts what it drops', async () => {
  const a = await node('a', { maxQueue: 10 });
  const gone = await node('gone');
  const port = gone.port;
  await gone.t.close();
  a.t.addPeer('b', loopback(port));
  for (let i = 0; i < 25; i++) a.t.send([appMsg('a', 'b', i)]);
  a.t.send([appMsg('a', 'nobody', 0)]);
  expect(a.t.peerStats('b')!.messagesDropped).toBe(15);
  expect(a.t.stats().messagesDropped).toBe(16);
  // The oldest were dropped: once b is up it gets the newest ten.
  const b = await node('b', { listen: loopback(port) });
  await waitFor('the ten newest', () => b.got.length === 10);
  expect(b.got.map((m) => m.index)).toEqual(Array.from({ length: 10 }, (_, i) => 15 + i));
});

test('proposals queued for an unreachable peer can be taken back; they are then never sent to it', async () => {
  // The member passes them to a new leader instead (a forwarded write must not be applied twice).
  const a = await node('a');
  const gone = await node('gone');
  const port = gone.port;
  await gone.t.close();
  a.t.addPeer('b', loopback(port));
  const prop: Message = { ...appMsg('a', 'b', 0), type: 'prop' };
  a.t.send([appMsg('a', 'b', 1), prop, appMsg('a', 'b', 2)]);
  expect(a.t.takeUnsent('b', 'prop')).toEqual([prop]);
  expect(a.t.takeUnsent('b', 'prop')).toEqual([]);
  expect(a.t.takeUnsent('nobody', 'prop')).toEqual([]);
  const b = await node('b', { listen: loopback(port) });
  await waitFor('the queued appends', () => b.got.length === 2);
  expect(b.got.map((m) => m.type)).toEqual(['app', 'app']);
});

test('a member of another cluster, or a dial meant for another member, is refused', async () => {
  const b = await node('b');
  const stranger = await node('a', { clusterId: 'other-cluster' });
  stranger.t.addPeer('b', loopback(b.port));
  const misdialled = await node('x');
  misdialled.t.addPeer('not-b', loopback(b.port));
  stranger.t.send([appMsg('a', 'b', 1)]);
  misdialled.t.send([appMsg('x', 'not-b', 1)]);
  await waitFor(
    'both refusals',
    () => b.logs.filter((l) => l.message === 'refusing peer connection').length >= 2,
  );
  const reasons = b.logs.filter((l) => l.message === 'refusing peer connection').map((l) => l.meta?.reason);
  expect(reasons).toEqual(expect.arrayContaining(['cluster', 'member']));
  await waitFor('the stranger hears why', () => stranger.logged('warn', 'peer refused our connection'));
  expect(b.got).toEqual([]);
});

test('a removed member is refused and told so', async () => {
  let removed = false;
  const b = await node('b', { isRemoved: (id) => id === 'a' });
  const a = await node('a', { onRemoved: () => (removed = true) });
  a.t.addPeer('b', loopback(b.port));
  await waitFor('a learns it was removed', () => removed);
  a.t.send([appMsg('a', 'b', 1)]);
  expect(b.got).toEqual([]);
});

test('garbage at the port closes that connection only; the member keeps serving its peers', async () => {
  const b = await node('b');
  const a = await node('a');
  mesh([a, b]);
  a.t.send([appMsg('a', 'b', 1)]);
  await waitFor('the first message', () => b.got.length === 1);
  const junk = [
    Buffer.from('GET / HTTP/1.1\r\nHost: b\r\n\r\n'),
    Buffer.from([0, 0, 0, 5, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1]),
    encodeFrame({ t: 'ping', at: 1 }), // not a hello
  ];
  for (const bytes of junk) {
    const s = await rawConnect(b.port);
    s.write(bytes);
    await new Promise((r) => s.once('close', r));
  }
  expect(b.logs.filter((l) => l.level === 'error')).toHaveLength(3);
  a.t.send([appMsg('a', 'b', 2)]);
  await waitFor('the second message', () => b.got.length === 2);
});

test('an oversize frame closes the connection with a logged error', async () => {
  const b = await node('b', { maxFrameBytes: 64 * 1024, snapshotChunkBytes: 16 * 1024 });
  const s = await rawConnect(b.port);
  s.write(encodeFrame({ t: 'hello', version: 1, clusterId: 'c1', from: 'a', to: 'b', kind: 'msg' }));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(64 * 1024 + 1);
  s.write(head);
  await new Promise((r) => s.once('close', r));
  expect(b.logged('error', 'bad frame')).toBe(true);
  expect(String(b.logs.find((l) => l.level === 'error')?.meta?.error)).toMatch(/exceeds the limit/);
});

test('a message too large for any frame is dropped and counted, and the rest still go', async () => {
  const [a, b] = [
    await node('a', { maxFrameBytes: 64 * 1024, snapshotChunkBytes: 16 * 1024 }),
    await node('b'),
  ];
  mesh([a, b]);
  a.t.send([appMsg('a', 'b', 1), appMsg('a', 'b', 2, new Uint8Array(100 * 1024)), appMsg('a', 'b', 3)]);
  await waitFor('the two that fit', () => b.got.length === 2);
  expect(b.got.map((m) => m.index)).toEqual([1, 3]);
  expect(a.t.peerStats('b')!.messagesDropped).toBe(1);
  expect(a.logged('error', 'larger than a frame')).toBe(true);
});

test('a throwing message handler is logged and does not stop later deliveries', async () => {
  const got: Message[] = [];
  const b = await node('b', {
    onMessages: (ms) => {
      got.push(...ms);
      if (got.length === 1) throw new Error('handler bug');
    },
  });
  const a = await node('a');
  mesh([a, b]);
  a.t.send([appMsg('a', 'b', 1)]);
  await waitFor('the first message', () => got.length === 1);
  a.t.send([appMsg('a', 'b', 2)]);
  await waitFor('the second message', () => got.length === 2);
  expect(b.logged('error', 'onMessages callback threw')).toBe(true);
});

test('pings measure the round-trip time to each peer', async () => {
  const rtts: Array<[string, number]> = [];
  const a = await node('a', { pingIntervalMs: 10, onRtt: (p, s) => rtts.push([p, s]) });
  const b = await node('b');
  mesh([a, b]);
  await waitFor('several round trips', () => rtts.length >= 3);
  expect(rtts.every(([p, s]) => p === 'b' && s > 0 && s < 1)).toBe(true);
  expect(a.t.rtt('b')).toBeGreaterThan(0);
  expect(a.t.rtt('nobody')).toBeUndefined();
});

test('a peer that accepts but never answers is dropped and re-dialled', async () => {
  const accepted: Socket[] = [];
  const silent = createServer((s) => accepted.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const unreachable: string[] = [];
  const a = await node('a', {
    pingIntervalMs: 10,
    idleTimeoutMs: 50,
    onUnreachable: (p) => unreachable.push(p),
  });
  a.t.addPeer('b', loopback((silent.address() as { port: number }).port));
  await waitFor('a re-dial', () => accepted.length >= 2);
  expect(unreachable).toContain('b');
  expect(a.logged('warn', 'silent')).toBe(true);
  await a.t.close();
  accepted.forEach((s) => s.destroy());
  await new Promise((r) => silent.close(r));
});

test('a peer that moves is followed to its new address', async () => {
  const a = await node('a');
  const b1 = await node('b');
  mesh([a, b1]);
  a.t.send([appMsg('a', 'b', 1)]);
  await waitFor('b1 gets a message', () => b1.got.length === 1);
  const b2 = await node('b');
  a.t.updatePeer('b', loopback(b2.port));
  a.t.send([appMsg('a', 'b', 2)]);
  await waitFor('b2 gets the next', () => b2.got.length === 1);
  a.t.setPeers(new Map()); // the member's way of removing everyone
  a.t.send([appMsg('a', 'b', 3)]);
  expect(a.t.peerStats('b')!.messagesDropped).toBe(1);
  a.t.setPeers(new Map([['b', `http://127.0.0.1:${b1.port}`]]));
  a.t.send([appMsg('a', 'b', 4)]);
  await waitFor('b1 again, through a peer URL', () => b1.got.length === 2);
});

test('close() releases every socket, server and timer', async () => {
  const baseline = countHandles();
  const nodes = [await node('a'), await node('b'), await node('c')];
  mesh(nodes);
  const got: Message[] = nodes[2]!.got;
  nodes[0]!.t.send([appMsg('a', 'c', 1)]);
  nodes[1]!.t.send([appMsg('b', 'c', 1)]);
  await waitFor('traffic', () => got.length === 2);
  expect(countHandles().TCPSocketWrap).toBeGreaterThan(0);
  await closeAll();
  expect(countHandles()).toEqual(baseline);
});

function countHandles(): Record<string, number> {
  const counts: Record<string, number> = { TCPSocketWrap: 0, TCPServerWrap: 0, Timeout: 0 };
  for (const r of process.getActiveResourcesInfo()) if (r in counts) counts[r]!++;
  return counts;
}

test('connections to peers, snapshot streams included, leave from the source address', async () => {
  const seen: string[] = [];
  const server = createServer((s) => {
    seen.push(s.remoteAddress!);
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const a = await node('a', { sourceAddress: '127.0.3.7' });
    a.t.addPeer('b', loopback((server.address() as { port: number }).port));
    await a.t.sendSnapshot('b', snapMsg(1), []).catch(() => {}); // the server hangs up: only the dial matters
    await waitFor('two connections', () => seen.length >= 2);
    expect(new Set(seen)).toEqual(new Set(['127.0.3.7']));
  } finally {
    server.close();
  }
});

test('a member listening on one address dials from it; a wildcard or a name leaves it to the system', () => {
  expect(sourceAddressFor('127.0.1.2')).toBe('127.0.1.2');
  expect(sourceAddressFor('[::1]')).toBe('::1');
  expect(sourceAddressFor('0.0.0.0')).toBeUndefined();
  expect(sourceAddressFor('[::]')).toBeUndefined();
  expect(sourceAddressFor('kv-0.kv-peers')).toBeUndefined();
});

describe('peer TLS', () => {
  const certs = makeTestCerts();
  const material = (cert: string, key: string) => ({
    cert: readFileSync(cert),
    key: readFileSync(key),
    ca: readFileSync(certs.ca),
  });
  const mutual = (cert = certs.cert, key = certs.key) => {
    const m = material(cert, key);
    return { server: { ...m, requestCert: true, rejectUnauthorized: true }, dial: m };
  };

  test('members with certificates from the trusted CA exchange messages over TLS', async () => {
    const [a, b] = await Promise.all([node('a', { tls: mutual() }), node('b', { tls: mutual() })]);
    mesh([a, b]);
    a.t.send([appMsg('a', 'b', 1)]);
    b.t.send([appMsg('b', 'a', 2)]);
    await waitFor('both messages', () => a.got.length === 1 && b.got.length === 1);
    expect([a.got[0]!.index, b.got[0]!.index]).toEqual([2, 1]);
  });

  test('a peer whose certificate the CA did not sign is refused, and one speaking plain TCP too', async () => {
    const b = await node('b', { tls: mutual() });
    const stranger = await node('a', { tls: mutual(certs.strangerCert, certs.strangerKey) });
    const plain = await node('a');
    for (const n of [stranger, plain]) n.t.addPeer('b', loopback(b.port));
    stranger.t.send([appMsg('a', 'b', 1)]);
    plain.t.send([appMsg('a', 'b', 2)]);
    await waitFor('both dialers to give up once', () =>
      [stranger, plain].every((n) => n.logged('warn', 'peer unreachable')),
    );
    expect(b.got).toEqual([]);
  });
});
