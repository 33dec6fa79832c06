// Leases on a real 3-member cluster: grants and puts through any member, keepalives and
// time-to-live answered by the leader (forwarded by followers), expiry by the leader and never
// early, revoke, a leader killed while a lease is kept alive, a member that catches up from a
// snapshot knowing the leases, etcdctl's and raftkvctl's lease commands, and bad requests.
import { jest } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ApiError, KvClient } from '../../node/client/client.js';
import type { LocalCluster, LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, withLogOf, type TempCluster } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { servesLocally } from '../support/membership.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

const client = (m: LocalMember) => new KvClient([m.clientURL], 5000, undefined, true);
const live = () => cluster.members.filter((m) => m.proc);
const leaderOf = () => agreedLeader(live, 20_000, 5000);
const followerOf = async () => {
  const leader = await leaderOf();
  return live().find((m) => m !== leader)!;
};
const all = () =>
  new KvClient(
    live().map((m) => m.clientURL),
    3000,
  );

let t: TempCluster;
let cluster: LocalCluster;
beforeAll(async () => {
  t = await tempCluster('lease', {
    size: 3,
    // Election timeout 500 ms: the minimum TTL is 1 s (1.5 election timeouts, rounded up).
    extraArgs: TEST_MEMBER_ARGS,
  });
  cluster = t.cluster;
  await leaderOf();
});
afterAll(() => t.dispose());

/** Keeps the lease alive through any member every `everyMs` until `until` resolves; returns when
 * the last acknowledged keepalive was sent. */
async function keepAlive(id: string, everyMs: number, until: Promise<unknown>): Promise<number> {
  let done = false;
  void until.finally(() => (done = true));
  let last = performance.now();
  while (!done) {
    const sent = performance.now();
    try {
      if ((await all().leaseKeepAlive(id)) > 0) last = sent;
    } catch {
      // a member down or an election: the next one goes elsewhere
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return last;
}

/** Resolves once the key is gone on every live member; the time it was first seen gone. */
async function goneEverywhere(key: string, ms = 20_000): Promise<number> {
  let goneAt: number | undefined;
  await waitFor(
    `${key} deleted on every member`,
    async () => {
      const reads = await Promise.all(live().map((m) => client(m).get(key, { serializable: true })));
      if (reads.some((r) => r.kvs.length === 0)) goneAt ??= performance.now();
      return reads.every((r) => r.kvs.length === 0) ? true : undefined;
    },
    ms,
    50,
  );
  return goneAt!;
}

test('a grant through a follower; keys put with it through another member; time-to-live and the list from any member', async () => {
  const follower = await followerOf();
  const { id, ttl } = await client(follower).leaseGrant(600);
  expect(ttl).toBe(600);
  const other = live().find((m) => m !== follower)!;
  await client(other).put('l1/a', '1', { lease: id });
  await client(other).put('l1/b', '2', { lease: id });
  const { kvs } = await client(follower).get('l1/', { prefix: true });
  expect(kvs.map((kv) => kv.lease)).toEqual([id, id]);
  for (const m of live()) {
    const info = await client(m).leaseTimeToLive(id, true);
    expect([info.id, info.grantedTtl, info.keys]).toEqual([id, 600, ['l1/a', 'l1/b']]);
    expect(info.ttl).toBeGreaterThan(0);
    expect(info.ttl).toBeLessThanOrEqual(600);
    expect(await client(m).leases()).toContain(id);
  }
});

test('a TTL below the minimum is raised to it; the member picks distinct IDs', async () => {
  const a = await all().leaseGrant(0);
  const b = await all().leaseGrant(1);
  expect([a.ttl, b.ttl]).toEqual([1, 1]);
  expect(a.id).not.toBe(b.id);
  const given = await all().leaseGrant(60, '1234567');
  expect(given).toEqual({ id: '1234567', ttl: 60 });
  const again = await all()
    .leaseGrant(60, '1234567')
    .catch((e: unknown) => e);
  expect(again).toBeInstanceOf(ApiError);
  expect((again as ApiError).message).toBe('etcdserver: lease already exists');
});

test('revoke deletes the keys the lease holds at once, in one revision; the lease is gone', async () => {
  const c = all();
  const { id } = await c.leaseGrant(60);
  await c.put('l2/a', '1', { lease: id });
  await c.put('l2/b', '1', { lease: id });
  await c.put('l2/c', '1');
  const before = (await c.get('l2/', { prefix: true })).revision;
  await c.leaseRevoke(id);
  const after = await c.get('l2/', { prefix: true });
  expect(after.kvs.map((kv) => kv.key)).toEqual(['l2/c']);
  expect(after.revision).toBe(before + 1);
  expect((await c.leaseTimeToLive(id)).ttl).toBe(-1);
  expect(await c.leaseKeepAlive(id)).toBe(0);
  const err = await c.put('l2/d', '1', { lease: id }).catch((e: unknown) => e);
  expect([(err as ApiError).status, (err as ApiError).message]).toEqual([
    404,
    'etcdserver: requested lease not found',
  ]);
});

test('kept alive, a lease outlives its TTL; left alone, the leader revokes it, never before its TTL', async () => {
  const { id } = await all().leaseGrant(2);
  await all().put('l3/k', 'v', { lease: id });
  // Kept alive for twice its TTL: still there.
  const lastAck = await keepAlive(id, 300, new Promise((r) => setTimeout(r, 4000)));
  expect((await all().get('l3/k')).kvs).toHaveLength(1);
  expect((await all().leaseTimeToLive(id)).ttl).toBeGreaterThan(0);
  const goneAt = await goneEverywhere('l3/k');
  expect(goneAt - lastAck).toBeGreaterThanOrEqual(2000);
  expect((await all().leaseTimeToLive(id)).ttl).toBe(-1);
  expect(await all().leases()).not.toContain(id);
});

test('the leader is killed while a lease is kept alive: the new leader keeps it, then expires it', async () => {
  const { id } = await all().leaseGrant(3);
  await all().put('l4/k', 'v', { lease: id });
  const old = await leaderOf();
  const killed = (async () => {
    await new Promise((r) => setTimeout(r, 500));
    await cluster.stop(old, 'SIGKILL');
    const next = await leaderOf();
    // Kept alive for well over a TTL under the new leader.
    await new Promise((r) => setTimeout(r, 4000));
    return next;
  })();
  const lastAck = await keepAlive(id, 300, killed);
  const next = await killed;
  expect(next).not.toBe(old);
  expect((await client(next).get('l4/k')).kvs).toHaveLength(1);
  const goneAt = await goneEverywhere('l4/k');
  expect(goneAt - lastAck).toBeGreaterThanOrEqual(3000);
  await cluster.start(old);
  await goneEverywhere('l4/k');
});

test('a member that catches up from a snapshot knows the leases and which keys they hold', async () => {
  const leader = await leaderOf();
  const behind = live().find((m) => m !== leader)!;
  await cluster.stop(behind, 'SIGTERM');
  const c = all();
  const { id } = await c.leaseGrant(60);
  await c.put('l5/k', 'v', { lease: id });
  for (let i = 0; i < 120; i++) await c.put(`l5/bulk${i % 5}`, String(i)); // past --snapshot-count
  await cluster.start(behind);
  await withLogOf(behind, servesLocally(client(behind), 'l5/k'));
  expect(behind.log.join('')).toContain('installing snapshot from leader');
  expect(await client(behind).leases()).toContain(id);
  await c.leaseRevoke(id);
  await goneEverywhere('l5/k');
});

// raftkvctl prints what etcdctl prints, so one script checks both.
const CTL = join(process.cwd(), 'dist/node/cli/raftkvctl.js');
test.each([
  ['etcdctl', 'etcdctl', []],
  ['raftkvctl', process.execPath, [CTL]],
])('%s: lease grant, put --lease, timetolive --keys, keep-alive --once, list, revoke', (name, cmd, pre) => {
  const endpoints = `--endpoints=${live()
    .map((m) => m.clientURL)
    .join(',')}`;
  const ctl = (...args: string[]) => {
    const r = spawnSync(cmd, [...pre, endpoints, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
    if (r.status !== 0) throw new Error(`${name} ${args.join(' ')} failed: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };
  const granted = /^lease ([0-9a-f]{16}) granted with TTL\(60s\)\n$/.exec(ctl('lease', 'grant', '60'));
  expect(granted).not.toBeNull();
  const hex = granted![1]!;
  const key = `l6/${name}`;
  expect(ctl('put', '--lease', hex, key, 'v')).toBe('OK\n');
  expect(ctl('lease', 'timetolive', hex, '--keys')).toMatch(
    new RegExp(
      `^lease ${hex} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[${key}\\]\\)\\n$`,
    ),
  );
  expect(ctl('lease', 'keep-alive', '--once', hex)).toBe(`lease ${hex} keepalived with TTL(60)\n`);
  expect(ctl('lease', 'list')).toMatch(new RegExp(`^found \\d+ leases\\n(.*\\n)*${hex}\\n`));
  expect(ctl('lease', 'revoke', hex)).toBe(`lease ${hex} revoked\n`);
  expect(ctl('get', key)).toBe('');
  expect(ctl('lease', 'timetolive', hex)).toBe(`lease ${hex} already expired\n`);
});

test('etcdctl lock (a lease, a txn on create revisions and a watch) runs a command under the lock', async () => {
  const endpoints = `--endpoints=${live()
    .map((m) => m.clientURL)
    .join(',')}`;
  const r = spawnSync('etcdctl', [endpoints, 'lock', 'l7', 'echo', 'held'], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  expect([r.status, r.stdout.toString()]).toEqual([0, 'held\n']);
  // The lock's key lived under its lease; etcdctl revoked it on the way out.
  expect((await all().get('l7/', { prefix: true })).kvs).toEqual([]);

  // Mutual exclusion: a second locker gets the lock only once the first has let go.
  const order: string[] = [];
  const locker = (...command: string[]) => {
    const p = spawn('etcdctl', [endpoints, 'lock', 'l8', ...command], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    p.stdout.on('data', (d: Buffer) => order.push(...d.toString().trim().split('\n')));
    return new Promise<number | null>((ok) => p.once('exit', ok));
  };
  const first = locker('--', 'sh', '-c', 'echo first-in; sleep 1; echo first-out');
  await waitFor('the first locker to hold the lock', async () =>
    order.includes('first-in') ? true : undefined,
  );
  const second = locker('echo', 'second-in');
  expect(await Promise.all([first, second])).toEqual([0, 0]);
  // The second's command ran only after the first's was done.
  expect(order).toEqual(['first-in', 'first-out', 'second-in']);
});

test('bad lease requests get a 400 that says what is wrong, and the member keeps serving', async () => {
  const m = live()[0]!;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(new URL(path, m.clientURL), { method: 'POST', body: JSON.stringify(body) });
    return [res.status, ((await res.json()) as { message?: string }).message];
  };
  expect(await post('/v3/lease/grant', { TTL: 'ten' })).toEqual([
    400,
    'TTL must be an integer (a number or a decimal string)',
  ]);
  expect(await post('/v3/lease/grant', { TTL: '9000000001' })).toEqual([
    400,
    'etcdserver: too large lease TTL',
  ]);
  expect(await post('/v3/lease/grant', { TTL: 5, ID: -3 })).toEqual([
    400,
    'ID must be 0 (the member picks one) or a positive integer',
  ]);
  expect(await post('/v3/lease/revoke', {})).toEqual([400, 'ID must be a lease ID (a positive integer)']);
  expect(await post('/v3/lease/revoke', { ID: '77' })).toEqual([
    404,
    'etcdserver: requested lease not found',
  ]);
  expect(await post('/v3/lease/timetolive', { ID: '77', keys: 'yes' })).toEqual([
    400,
    'keys must be true or false',
  ]);
  expect((await client(m).get('l1/', { prefix: true })).kvs).toHaveLength(2);
});
