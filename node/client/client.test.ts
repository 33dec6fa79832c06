// KvClient against a loopback server that plays a member without a leader for its first answers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, KvClient } from './client.js';

let server: Server;
let url: string;
let refusals = 0;
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.url!);
    res.setHeader('content-type', 'application/json');
    if (refusals > 0) {
      refusals--;
      res.statusCode = 503;
      res.end(JSON.stringify({ code: 14, message: 'etcdserver: no leader' }));
    } else res.end(JSON.stringify({ header: { revision: '7' }, kvs: [], count: '0' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));
beforeEach(() => (seen.length = 0));

test('a read refused for want of a leader is tried again until it is served', async () => {
  refusals = 3;
  const r = await new KvClient([url], 5000, undefined, true).get('k');
  expect(r.revision).toBe(7);
  expect(seen).toHaveLength(4);
});

test('the retries stop at the timeout with the last refusal', async () => {
  refusals = 1_000;
  const e = await new KvClient([url], 300, undefined, true).get('k').catch((err: unknown) => err);
  expect(e).toBeInstanceOf(ApiError);
  expect([(e as ApiError).status, (e as ApiError).message]).toEqual([503, 'etcdserver: no leader']);
  expect(seen.length).toBeGreaterThan(1);
  refusals = 0;
});

test('a write is never repeated, and without retryUnavailable neither is a read', async () => {
  refusals = 2;
  const put = await new KvClient([url], 5000, undefined, true).put('k', 'v').catch((e: unknown) => e);
  expect((put as ApiError).status).toBe(503);
  const get = await new KvClient([url], 5000).get('k').catch((e: unknown) => e);
  expect((get as ApiError).status).toBe(503);
  expect(seen).toEqual(['/v3/kv/put', '/v3/kv/range']);
});
