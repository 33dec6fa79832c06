// Asking a peer which members it lists as published, over real loopback sockets: the answer,
// and every way of getting none (another cluster, nothing listening, a silent or older peer)
// within the deadline, with the socket closed either way.
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { makeTestCerts } from '../../test/support/certs.js';
import { encodeFrame, FrameDecoder, type Frame } from './framing.js';
import { Transport } from './transport.js';
import { closeAll, node, waitFor } from './test-support.js';

afterEach(closeAll);

const loopback = (port: number) => ({ host: '127.0.0.1', port });

/** A listener on a free loopback port that hands each connection to `onConnection`. */
async function rawServer(onConnection: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onConnection);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as AddressInfo).port };
}

const closeServer = (server: Server) => new Promise((ok) => server.close(ok));

test('a member that has not started yet asks a peer and gets its published members', async () => {
  const b = await node('b', { publishedMembers: () => ['a', 'b'] });
  const a = new Transport({ id: 'a', clusterId: 'c1', listen: loopback(0) });
  try {
    expect(await a.askPublished('b', loopback(b.port), 1000)).toEqual({ published: ['a', 'b'] });
    expect(a.peerStats('b')!.bytesReceived).toBeGreaterThan(0);
  } finally {
    await a.close();
  }
  // A member that publishes nothing answers an empty list, which is an answer all the same.
  const c = await node('c');
  const asker = await node('a');
  expect(await asker.t.askPublished('c', loopback(c.port), 1000)).toEqual({ published: [] });
});

test('the acceptor answers once and ends the connection', async () => {
  const b = await node('b', { publishedMembers: () => ['b'] });
  const s = connect(b.port, '127.0.0.1');
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(4096);
  s.on('data', (chunk: Buffer) => frames.push(...decoder.push(chunk)));
  const ended = new Promise((ok) => s.once('end', ok));
  s.write(encodeFrame({ t: 'hello', version: 1, clusterId: 'c1', from: 'a', to: 'b', kind: 'members' }));
  await ended;
  expect(frames).toEqual([{ t: 'published', ids: ['b'] }]);
  s.destroy();
  expect(b.got).toEqual([]);
});

test('a peer of another cluster, a wrong member, or a removed asker gives no answer', async () => {
  const b = await node('b', { publishedMembers: () => ['a', 'b'], isRemoved: (id) => id === 'gone' });
  const stranger = await node('a', { clusterId: 'other-cluster' });
  expect(await stranger.t.askPublished('b', loopback(b.port), 1000)).toEqual({
    unanswered: expect.stringMatching(/^refused \(cluster\)/),
  });
  const a = await node('a');
  expect(await a.t.askPublished('not-b', loopback(b.port), 1000)).toEqual({
    unanswered: expect.stringMatching(/^refused \(member\)/),
  });
  const gone = await node('gone');
  expect(await gone.t.askPublished('b', loopback(b.port), 1000)).toEqual({
    unanswered: expect.stringMatching(/^refused \(removed\)/),
  });
});

test('a closed port gives no answer at once', async () => {
  const a = await node('a');
  const closed = await node('b');
  const port = closed.port;
  await closed.t.close();
  const started = performance.now();
  expect(await a.t.askPublished('b', loopback(port), 5000)).toEqual({
    unanswered: expect.stringMatching(/^connection closed: .*ECONNREFUSED/),
  });
  expect(performance.now() - started).toBeLessThan(1000);
});

test('a silent peer gives no answer by the deadline, and the connection is closed', async () => {
  const accepted: Socket[] = [];
  let closedByAsker = 0;
  const { server, port } = await rawServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.once('close', () => closedByAsker++);
    s.resume();
  });
  try {
    const a = await node('a');
    const started = performance.now();
    expect(await a.t.askPublished('b', loopback(port), 300)).toEqual({
      unanswered: 'no answer within 300 ms',
    });
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1000);
    await waitFor('the asker to close the connection', () => closedByAsker === 1);
  } finally {
    for (const s of accepted) s.destroy();
    await closeServer(server);
  }
});

test('a peer of an older build, which closes on the unknown hello kind, gives no answer', async () => {
  // What an older inbound.ts does with a hello it finds malformed: drop the connection, no reject.
  const { server, port } = await rawServer((s) => s.once('data', () => s.destroy()));
  try {
    const a = await node('a');
    expect(await a.t.askPublished('b', loopback(port), 1000)).toEqual({
      unanswered: expect.stringMatching(/^connection closed/),
    });
  } finally {
    await closeServer(server);
  }
});

describe('peer TLS', () => {
  const certs = makeTestCerts();
  const mutual = (cert = certs.cert, key = certs.key) => {
    const m = { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(certs.ca) };
    return { server: { ...m, requestCert: true, rejectUnauthorized: true }, dial: m };
  };

  test('the question goes over TLS as messages do; an untrusted certificate gets no answer', async () => {
    const b = await node('b', { tls: mutual(), publishedMembers: () => ['b'] });
    const a = await node('a', { tls: mutual() });
    expect(await a.t.askPublished('b', loopback(b.port), 1000)).toEqual({ published: ['b'] });
    const stranger = await node('a', { tls: mutual(certs.strangerCert, certs.strangerKey) });
    expect(await stranger.t.askPublished('b', loopback(b.port), 1000)).toHaveProperty('unanswered');
  });
});
