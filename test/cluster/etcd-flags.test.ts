// etcd's flags raftkv serves beyond the basic ones, on real processes: --wal-dir (the WAL on its own
// disk, used again on restart), --metrics=extensive (grpc_server_handling_seconds),
// --max-concurrent-streams (the HTTP/2 setting gRPC clients get), --pre-vote=false and
// --max-txn-ops (each member checks its own, as etcd's do), --log-outputs (one member logs to
// stdout and a file), with the values of --enable-v2 and --logger that raftkv's behaviour is.
import { jest } from '@jest/globals';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:http2';
import { join } from 'node:path';
import { ApiError, KvClient } from '../../node/client/client.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { grpcStubs } from '../support/grpc-stubs.js';
import { agreedLeader } from '../support/leader.js';
import { servesLocally } from '../support/membership.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(90_000);

let t: TempCluster;
const walDir = (m: LocalMember) => join(t.root, `${m.name}-wal`);
const logFile = () => join(t.root, 'm2.log');
beforeAll(async () => {
  t = await tempCluster(
    'etcd-flags',
    {
      size: 3,
      extraArgs: [
        ...TEST_MEMBER_ARGS,
        '--pre-vote=false',
        '--metrics=extensive',
        '--max-concurrent-streams=16',
        '--enable-v2=false',
        '--logger=zap',
      ],
      // Through etcd's variable names: one member takes bigger txns than etcd's default 128 ops,
      // one logs to stdout and a file.
      env: (m) => ({
        RAFTKV_WAL_DIR: walDir(m),
        ETCD_LOG_OUTPUTS: m.name === 'm2' ? `stdout,${logFile()}` : 'default',
        ...(m.name === 'm1' ? { ETCD_MAX_TXN_OPS: '300' } : {}),
      }),
    },
    false,
  );
  await t.cluster.startAll();
});
afterAll(() => t.dispose());

test('--log-outputs: a member logs the same JSON lines to stdout and to a file', async () => {
  const m2 = t.cluster.members.find((m) => m.name === 'm2')!;
  const started = (text: string) =>
    text.split('\n').filter((l) => l.includes('"member started"') && l.includes('"member":"m2"'));
  await waitFor('m2 started', async () => started(m2.log.join('')).length === 1 || undefined, 30_000, 100);
  expect(started(readFileSync(logFile(), 'utf8'))).toEqual(started(m2.log.join('')));
});

test('the WAL lives in --wal-dir, and a member restarts from it', async () => {
  const { cluster } = t;
  const leader = await agreedLeader(() => cluster.members);
  const c = new KvClient(cluster.members.map((m) => m.clientURL));
  await waitFor('writes', async () => c.put('wal', 'elsewhere'), 30_000, 100);
  for (const m of cluster.members) {
    expect(readdirSync(walDir(m)).some((f) => f.endsWith('.wal'))).toBe(true);
    expect(existsSync(join(m.dataDir, 'member', 'wal'))).toBe(false);
  }
  const follower = cluster.members.find((m) => m !== leader)!;
  await cluster.stop(follower, 'SIGKILL');
  await cluster.start(follower);
  const local = new KvClient([follower.clientURL]);
  await servesLocally(local, 'wal', 'elsewhere');
});

test('--max-txn-ops is checked by the member a client calls: 200 puts pass one set to 300, not one at 128', async () => {
  // With --pre-vote=false the follower restarted above may still call an election: start after it.
  await agreedLeader(() => t.cluster.members);
  const big = t.cluster.members.find((m) => m.name === 'm1')!;
  const plain = t.cluster.members.find((m) => m !== big)!;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const body = {
    success: Array.from({ length: 200 }, (_, i) => ({
      request_put: { key: b64(`ops/${i}`), value: b64('v') },
    })),
  };
  const refused = await new KvClient([plain.clientURL]).call('/v3/kv/txn', body).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(ApiError);
  expect([(refused as ApiError).status, (refused as ApiError).message]).toEqual([
    400,
    'etcdserver: too many operations in txn request',
  ]);
  const r = await new KvClient([big.clientURL]).call('/v3/kv/txn', body);
  expect(r.succeeded).toBe(true);
  // Applied by every member, whatever its own budget.
  for (const m of t.cluster.members) {
    const { kvs } = await new KvClient([m.clientURL], 10_000, undefined, true).get('ops/', { prefix: true });
    expect(kvs).toHaveLength(200);
  }
});

test('--metrics=extensive times every gRPC call by method', async () => {
  const leader = await agreedLeader(() => t.cluster.members);
  const stubs = grpcStubs(leader);
  try {
    await stubs.call('KV', 'Put', { key: Buffer.from('timed'), value: Buffer.from('1') });
  } finally {
    stubs.close();
  }
  const text = await (await fetch(new URL('/metrics', leader.clientURL))).text();
  const count = (method: string) =>
    new RegExp(
      `^grpc_server_handling_seconds_count\\{[^}]*grpc_method="${method}"[^}]*\\} (\\d+)$`,
      'm',
    ).exec(text)?.[1];
  expect(count('Put')).toBe('1');
  // As the counters, every method's series is there from the start.
  expect(count('Compact')).toBe('0');
});

test('gRPC clients are told --max-concurrent-streams', async () => {
  const leader = await agreedLeader(() => t.cluster.members);
  const session = connect(leader.clientURL);
  try {
    // grpc-js's server gets the connection, and sends its settings, with the first request.
    const req = session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.KV/Range',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    req.end(Buffer.from([0, 0, 0, 0, 0])); // one empty RangeRequest
    req.resume();
    await waitFor(
      "grpc-js's settings",
      async () => (session.remoteSettings.maxConcurrentStreams === 16 ? true : undefined),
      10_000,
      20,
    );
  } finally {
    session.destroy();
  }
});
