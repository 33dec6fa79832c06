// The fault runs' link proxies on real sockets: a member is told by the address it dials from,
// each direction of each pair of members is cut or slowed on its own, and a cut holds bytes in
// order until it heals.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../node/tools/local-cluster.js';
import { waitFor } from '../support/wait.js';
import { PeerLinks, type LinkEnd } from './links.js';

let links: PeerLinks;
let server: Server;
/** What member b's listener received, and its side of each accepted connection. */
let atB: string;
let bSockets: Socket[];
let b: LinkEnd;

beforeEach(async () => {
  atB = '';
  bSockets = [];
  server = createServer((s) => {
    bSockets.push(s);
    s.on('data', (d) => (atB += d.toString()));
  });
  const bPort = await freePort();
  await new Promise<void>((r) => server.listen(bPort, '127.0.1.2', r));
  b = {
    name: 'b',
    sourceHost: '127.0.1.2',
    advertised: { host: '127.0.0.1', port: await freePort() },
    listen: { host: '127.0.1.2', port: bPort },
  };
  const a: LinkEnd = {
    name: 'a',
    sourceHost: '127.0.1.1',
    advertised: { host: '127.0.0.1', port: await freePort() },
    listen: { host: '127.0.1.1', port: await freePort() },
  };
  links = new PeerLinks();
  await links.start([a, b]);
});

afterEach(async () => {
  await links.close();
  await new Promise((r) => server.close(r));
});

/** A connection to b's advertised address from `source`, collecting what comes back. */
async function dial(source: string): Promise<{ s: Socket; got: () => string }> {
  let got = '';
  const s = connect({ host: b.advertised.host, port: b.advertised.port, localAddress: source });
  s.on('data', (d) => (got += d.toString()));
  await new Promise((r) => s.once('connect', r));
  await waitFor(
    'the proxy connected through to b',
    async () => (bSockets.length > 0 ? true : undefined),
    5000,
  );
  return { s, got: () => got };
}

const until = (what: string, cond: () => boolean) =>
  waitFor(what, async () => (cond() ? true : undefined), 5000, 5);

test('bytes pass both ways while the links are up', async () => {
  const a = await dial('127.0.1.1');
  a.s.write('hello');
  await until('b got hello', () => atB === 'hello');
  bSockets[0]!.write('pong');
  await until('a got pong', () => a.got() === 'pong');
  a.s.destroy();
});

test('a one-way cut holds what a sends, in order, while b still reaches a; heal releases it', async () => {
  const a = await dial('127.0.1.1');
  links.cut('a', 'b');
  a.s.write('one,');
  a.s.write('two');
  bSockets[0]!.write('pong');
  await until('a got pong across the open direction', () => a.got() === 'pong');
  expect(atB).toBe(''); // still held: b has sent and a has received since a wrote
  links.healAll();
  await until('b got both writes', () => atB === 'one,two');
  a.s.destroy();
});

test('split cuts both directions; a dialler that is no member passes freely', async () => {
  const a = await dial('127.0.1.1');
  links.split(['a'], ['b']);
  a.s.write('x');
  bSockets[0]!.write('y');
  const stranger = await dial('127.0.0.1');
  stranger.s.write('z');
  await until('the stranger got through', () => atB === 'z');
  expect(a.got()).toBe('');
  links.healAll();
  await until('held bytes arrive', () => atB === 'zx' && a.got() === 'y');
  a.s.destroy();
  stranger.s.destroy();
});

test('a delayed link holds each chunk for at least the delay', async () => {
  const a = await dial('127.0.1.1');
  links.delay('a', 'b', 200);
  const sent = performance.now();
  a.s.write('slow');
  await until('b got it', () => atB === 'slow');
  expect(performance.now() - sent).toBeGreaterThanOrEqual(190);
  a.s.destroy();
});

test('closing one side closes the other', async () => {
  const a = await dial('127.0.1.1');
  const closed = new Promise((r) => bSockets[0]!.once('close', r));
  a.s.destroy();
  await closed;
});
