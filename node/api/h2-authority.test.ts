import { connect, createServer as createH2Server, type ClientHttp2Session } from 'node:http2';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import hpack, { type Header } from 'hpack.js';
import { waitFor } from '../../test/support/wait.js';
import { AuthorityRewriter, admitHttp2 } from './h2-authority.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

function frames(bytes: Buffer): Array<{ type: number; flags: number; stream: number; payload: Buffer }> {
  const out = [];
  for (let at = 0; at < bytes.length;) {
    const length = bytes.readUIntBE(at, 3);
    const payload = bytes.subarray(at + 9, at + 9 + length);
    out.push({ type: bytes[at + 3]!, flags: bytes[at + 4]!, stream: bytes.readUInt32BE(at + 5), payload });
    at += 9 + length;
  }
  return out;
}

/** An HPACK encoder or decoder used as a client (or grpc-js's server) would. */
const encoder = () => {
  const c = hpack.compressor.create({ table: { size: 4096 } });
  return (headers: Header[]) => {
    c.write(headers);
    const parts: Buffer[] = [];
    for (let b = c.read(); b; b = c.read()) parts.push(b as Buffer);
    return Buffer.concat(parts);
  };
};
const decoder = () => {
  const d = hpack.decompressor.create({ table: { size: 4096 } });
  return (block: Buffer) => {
    d.write(block);
    d.execute();
    const out: Array<[string, string]> = [];
    for (let h = d.read() as Header | null; h; h = d.read() as Header | null) out.push([h.name, h.value]);
    return out;
  };
};

const request = (authority: string, path: string): Header[] => [
  { name: ':method', value: 'POST' },
  { name: ':scheme', value: 'http' },
  { name: ':path', value: path },
  { name: ':authority', value: authority },
  { name: 'content-type', value: 'application/grpc' },
];

describe('AuthorityRewriter', () => {
  const encode = encoder();
  const first = encode(request('http://127.0.0.1:2379', '/etcdserverpb.Maintenance/Status'));
  // The second request names the authority by its index in the client's table.
  const second = encode(request('http://127.0.0.1:2379', '/etcdserverpb.KV/Range'));
  const data = frame(0x0, 0x1, 1, Buffer.from([0, 0, 0, 0, 0]));
  const priority = Buffer.from([0, 0, 0, 0, 15]);
  const client = Buffer.concat([
    PREFACE,
    frame(0x4, 0, 0, Buffer.alloc(0)),
    // HEADERS with padding and priority, the block split over a CONTINUATION.
    frame(
      0x1,
      0x8 | 0x20,
      1,
      Buffer.concat([Buffer.from([3]), priority, first.subarray(0, 10), Buffer.alloc(3)]),
    ),
    frame(0x9, 0x4, 1, first.subarray(10)),
    data,
    frame(0x1, 0x4 | 0x1, 3, second),
  ]);

  const check = (out: Buffer) => {
    expect(out.subarray(0, PREFACE.length)).toEqual(PREFACE);
    const got = frames(out.subarray(PREFACE.length));
    expect(got.map((f) => [f.type, f.flags, f.stream])).toEqual([
      [0x4, 0, 0],
      [0x1, 0x4 | 0x20, 1],
      [0x0, 0x1, 1],
      [0x1, 0x4 | 0x1, 3],
    ]);
    expect(got[1]!.payload.subarray(0, 5)).toEqual(priority);
    expect(got[2]!.payload).toEqual(data.subarray(9));
    const decode = decoder();
    expect(decode(got[1]!.payload.subarray(5))).toEqual(
      request('127.0.0.1:2379', '/etcdserverpb.Maintenance/Status').map((h) => [h.name, h.value]),
    );
    expect(decode(got[3]!.payload)).toEqual(
      request('127.0.0.1:2379', '/etcdserverpb.KV/Range').map((h) => [h.name, h.value]),
    );
  };

  test('gives every header block the authority as host:port, keeping flags, priority and other frames', () => {
    check(new AuthorityRewriter().rewrite(client));
  });

  test('takes the bytes in any pieces', () => {
    const rewriter = new AuthorityRewriter();
    const out: Buffer[] = [];
    for (let at = 0; at < client.length; at++) out.push(rewriter.rewrite(client.subarray(at, at + 1)));
    check(Buffer.concat(out));
  });

  test('splits a block larger than a frame into CONTINUATION frames', () => {
    // Random letters, which Huffman coding does not shrink below a frame.
    const big = Array.from({ length: 30_000 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join(
      '',
    );
    const headers = [...request('http://h:1', '/p'), { name: 'x-big', value: big }];
    const block = encoder()(headers);
    const out = new AuthorityRewriter().rewrite(
      Buffer.concat([
        PREFACE,
        frame(0x1, 0, 1, block.subarray(0, 16384)),
        frame(0x9, 0x4, 1, block.subarray(16384)),
      ]),
    );
    const got = frames(out.subarray(PREFACE.length));
    expect(got.length).toBeGreaterThan(1);
    expect(got.map((f) => f.type)).toEqual([0x1, ...got.slice(1).map(() => 0x9)]);
    expect(got.map((f) => f.flags & 0x4)).toEqual([...got.slice(1).map(() => 0), 0x4]);
    expect(Math.max(...got.map((f) => f.payload.length))).toBeLessThanOrEqual(16384);
    const decoded = decoder()(Buffer.concat(got.map((f) => f.payload)));
    expect(decoded.find(([n]) => n === ':authority')).toEqual([':authority', 'h:1']);
    expect(decoded.find(([n]) => n === 'x-big')).toEqual(['x-big', big]);
  });

  test('refuses a frame larger than the server allows', () => {
    const header = Buffer.from([0, 0x40, 0x01, 0x0, 0, 0, 0, 0, 1]); // 16,385 bytes
    expect(() => new AuthorityRewriter().rewrite(Buffer.concat([PREFACE, header]))).toThrow(
      'HTTP/2 frame of 16385 bytes is over 16384',
    );
  });
});

describe('admitHttp2 in front of a real HTTP/2 server', () => {
  // Only what the client sends hands a connection over here; the wait is the next test's.
  const NEVER_MS = 600_000;
  let port: number;
  let server: Server;
  const served: Duplex[] = [];
  const sessions: ClientHttp2Session[] = [];
  beforeAll(async () => {
    const h2 = createH2Server((req, res) => res.end(String(req.headers[':authority'])));
    server = createServer((socket) =>
      admitHttp2(
        socket,
        (connection) => {
          served.push(connection);
          h2.emit('connection', connection);
        },
        NEVER_MS,
      ),
    );
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await new Promise((ok) => server.close(ok));
  });

  const session = () => {
    const s = connect(`http://127.0.0.1:${port}`);
    sessions.push(s);
    return s;
  };
  const get = (s: ClientHttp2Session, authority: string) =>
    new Promise<string>((ok, fail) => {
      const req = s.request({ ':path': '/', ':authority': authority });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => ok(body));
      req.on('error', fail);
      req.end();
    });

  test('a URL authority reaches the server as host:port, on every request of the connection', async () => {
    const s = session();
    const url = `http://127.0.0.1:${port}`;
    expect(await get(s, url)).toBe(`127.0.0.1:${port}`);
    expect(await get(s, url)).toBe(`127.0.0.1:${port}`);
    expect(served.at(-1)).not.toBeInstanceOf(Socket);
  });

  test('a plain authority reaches the server on the socket itself', async () => {
    const s = session();
    expect(await get(s, `127.0.0.1:${port}`)).toBe(`127.0.0.1:${port}`);
    expect(await get(s, 'other:1')).toBe('other:1');
    expect(served.at(-1)).toBeInstanceOf(Socket);
  });

  test('a connection that only pings is handed over and answered', async () => {
    const before = served.length;
    const s = session();
    await new Promise<void>((ok, fail) => s.once('connect', () => s.ping((err) => (err ? fail(err) : ok()))));
    expect(served.length).toBe(before + 1);
  });

  test('a header block that does not decode closes that connection only', async () => {
    const before = served.length;
    const raw = new Socket();
    const closed = new Promise((ok) => raw.once('close', ok));
    raw.on('error', () => {});
    raw.resume(); // reads our SETTINGS, so the close is seen
    raw.connect(port, '127.0.0.1', () => {
      raw.write(Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))]));
      // An index far past both HPACK tables.
      raw.write(
        Buffer.concat([
          frame(0x4, 0x1, 0, Buffer.alloc(0)),
          frame(0x1, 0x4, 1, Buffer.from([0xff, 0xff, 0x7f])),
        ]),
      );
    });
    await closed;
    expect(served.length).toBe(before);
    expect(await get(session(), 'still:1')).toBe('still:1');
  });
});

test('a connection that sends no request is handed over when the wait ends', async () => {
  const served: Duplex[] = [];
  const server = createServer((socket) => admitHttp2(socket, (c) => served.push(c), 50));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const client = new Socket();
  await new Promise<void>((ok) => client.connect((server.address() as AddressInfo).port, '127.0.0.1', ok));
  try {
    const settings = new Promise<Buffer>((ok) => client.once('data', ok));
    client.write(Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))]));
    expect([...(await settings)]).toEqual([0, 0, 0, 4, 0, 0, 0, 0, 0]); // the empty SETTINGS frame
    client.write(frame(0x4, 0x1, 0, Buffer.alloc(0))); // its acknowledgement
    await waitFor('the connection to be served', async () => (served.length ? true : undefined));
    expect(served[0]).toBeInstanceOf(Socket);
  } finally {
    client.destroy();
    for (const s of served) s.destroy();
    await new Promise((ok) => server.close(ok));
  }
});
