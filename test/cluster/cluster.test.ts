// A real 3-member cluster of member processes on loopback: elections, writes through every
// member, linearizable reads everywhere, SIGKILL of the leader, restarts that catch up from the
// log and from a snapshot, and membership changes.
import { jest } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { etcdServices } from '../../node/api/grpc.js';
import { ApiError, KvClient } from '../../node/client/client.js';
import type { LocalCluster, LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

const client = (m: LocalMember) => new KvClient([m.clientURL], 5000);

/** The leader every live member agrees on. */
const leaderOf = (cluster: LocalCluster) =>
  agreedLeader(() => cluster.members.filter((m) => m.proc), 20_000, 5000);

let t: TempCluster;
let cluster: LocalCluster;
beforeAll(async () => {
  t = await tempCluster('cluster', {
    size: 3,
    // Short, so the progress notification test waits for a few rounds, not etcd's 10 minutes.
    extraArgs: [...TEST_MEMBER_ARGS, `--experimental-watch-progress-notify-interval=${PROGRESS_MS}ms`],
  });
  cluster = t.cluster;
});
afterAll(() => t.dispose());

const PROGRESS_MS = 300;

const acked = new Map<string, string>();

test('a leader is elected and writes through every member are read back linearizably from every member', async () => {
  await leaderOf(cluster);
  for (const [i, m] of cluster.members.entries()) {
    await client(m).put(`via-${i}`, `v${i}`);
    acked.set(`via-${i}`, `v${i}`);
  }
  for (const m of cluster.members) {
    const { kvs } = await client(m).get('via-', { prefix: true });
    expect(kvs.map((kv) => [kv.key, kv.value])).toEqual([...acked].sort());
  }
});

test('etcdctl talks to raftkv over gRPC on the same client port: put, get, txn, del, member list, health', () => {
  const endpoints = `--endpoints=${cluster.members.map((m) => m.clientURL).join(',')}`;
  const ctl = (args: string[], input?: string) => {
    const r = spawnSync('etcdctl', [endpoints, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      input,
    });
    if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed: ${r.stderr.toString()}`);
    return r.stdout.toString() + r.stderr.toString(); // etcdctl reports health on stderr
  };
  expect(ctl(['put', 'ctl/a', '1'])).toBe('OK\n');
  expect(ctl(['put', 'ctl/b', '2'])).toBe('OK\n');
  expect(ctl(['get', 'ctl/', '--prefix'])).toBe('ctl/a\n1\nctl/b\n2\n');
  expect(ctl(['txn'], 'value("ctl/a") = "1"\n\nput ctl/a 10\n\nput ctl/a failed\n\n')).toMatch(/^SUCCESS/);
  expect(ctl(['get', 'ctl/a', '--print-value-only'])).toBe('10\n');
  expect(ctl(['del', 'ctl/', '--prefix'])).toBe('2\n');
  const members = JSON.parse(ctl(['member', 'list', '-w', 'json'])) as { members: { name: string }[] };
  expect(members.members.map((m) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
  expect(ctl(['endpoint', 'health'])).toMatch(/is healthy/);
  expect(ctl(['alarm', 'list'])).toBe('');
});

// etcdctl 3.4 dials each endpoint of these commands with the endpoint URL as its HTTP/2 :authority,
// which Node's HTTP/2 alone would refuse (node/api/h2-authority.ts); 3.5 sends host:port.
test.each([
  ['3.4 (Debian)', () => 'etcdctl'],
  ['3.5', () => execFileSync('test/support/etcdctl/build.sh').toString().trim()],
])(
  "etcdctl %s with the member list's URLs (--cluster): every member's status, one leader, equal hashes",
  async (version, binary) => {
    const etcdctl = binary();
    const ctl = (args: string[]) => {
      const r = spawnSync(etcdctl, [`--endpoints=${cluster.members[0]!.clientURL}`, ...args], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed: ${r.stderr.toString()}`);
      return r.stdout.toString() + r.stderr.toString(); // etcdctl reports health on stderr
    };
    const urls = cluster.members.map((m) => m.clientURL).sort();
    const status = JSON.parse(ctl(['endpoint', 'status', '--cluster', '-w', 'json'])) as Array<{
      Endpoint: string;
      Status: { header: { member_id: number }; leader: number };
    }>;
    expect(status.map((s) => s.Endpoint).sort()).toEqual(urls);
    expect(new Set(status.map((s) => s.Status.leader)).size).toBe(1);
    expect(status.filter((s) => s.Status.header.member_id === s.Status.leader)).toHaveLength(1);
    // Every member at the same revision (a linearizable read on each), then the same hash there.
    const key = `ctl/hashed-${version}`;
    await client(cluster.members[0]!).put(key, 'y');
    const { revision } = await client(cluster.members[0]!).get(key);
    for (const m of cluster.members) await client(m).get(key);
    const hashes = JSON.parse(
      ctl(['endpoint', 'hashkv', '--cluster', `--rev=${revision}`, '-w', 'json']),
    ) as Array<{
      Endpoint: string;
      HashKV: { hash: number };
    }>;
    expect(hashes.map((h) => h.Endpoint).sort()).toEqual(urls);
    expect(new Set(hashes.map((h) => h.HashKV.hash)).size).toBe(1);
    expect(hashes[0]!.HashKV.hash).not.toBe(0);
    expect(ctl(['endpoint', 'health', '--cluster']).match(/is healthy/g)).toHaveLength(3);
  },
);

const CTL = join(process.cwd(), 'dist/node/cli/raftkvctl.js');

test('etcdctl defrag after a compaction shrinks every member file; data, hashes and writes go on', async () => {
  await leaderOf(cluster);
  const c = client(cluster.members[0]!);
  const big = 'x'.repeat(64 * 1024);
  for (let i = 0; i < 150; i++) await c.put(`defrag/${i % 3}`, `${i}${big}`);
  const { revision } = await c.get('defrag/0');
  await c.call('/v3/kv/compaction', { revision: String(revision), physical: true });
  const dbSize = async (m: LocalMember) =>
    Number((await client(m).call('/v3/maintenance/status', {})).dbSize);
  const before = await Promise.all(cluster.members.map(dbSize));
  const urls = cluster.members.map((m) => m.clientURL);
  const finished = urls.map((u) => `Finished defragmenting etcd member[${u}]\n`).join('');
  const r = spawnSync('etcdctl', [`--endpoints=${urls.join(',')}`, 'defrag'], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  expect([r.status, r.stderr.toString(), r.stdout.toString()]).toEqual([0, '', finished]);
  const after = await Promise.all(cluster.members.map(dbSize));
  // raftkvctl does the same through the JSON API, and prints what etcdctl prints.
  const ours = spawnSync(process.execPath, [CTL, `--endpoints=${urls.join(',')}`, 'defrag']);
  expect([ours.status, ours.stdout.toString()]).toEqual([0, finished]);
  // 150 values of 64 KiB written, all but the last 3 compacted away: well over 5 MiB freed.
  for (const [i, size] of after.entries()) expect(before[i]! - size).toBeGreaterThan(5 * 1024 * 1024);
  for (const m of cluster.members) {
    const { kvs } = await client(m).get('defrag/', { prefix: true });
    expect(kvs.map((kv) => kv.value.slice(0, 3))).toEqual(['147', '148', '149']);
  }
  const hashes = await Promise.all(
    cluster.members.map(async (m) => (await client(m).call('/v3/maintenance/hashkv', {})).hash),
  );
  expect(new Set(hashes).size).toBe(1);
  await c.put('defrag/after', 'ok');
  expect((await client(cluster.members[2]!).get('defrag/after')).kvs).toHaveLength(1);
});

test.each([
  ['etcdctl', 'etcdctl', []],
  ['raftkvctl', process.execPath, [CTL]],
])('%s watch gets the history from a revision, then live events, in order', async (_, program, prefix) => {
  const c = client(cluster.members[0]!);
  const from = await c.put('w/a', '1');
  await c.put('w/a', '2');
  const endpoint = `--endpoints=${cluster.members[2]!.clientURL}`;
  const watcher = spawn(program, [...prefix, endpoint, 'watch', 'w/', '--prefix', `--rev=${from}`], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  let out = '';
  watcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor('the history', async () => (out.includes('PUT\nw/a\n2\n') ? true : undefined));
    await c.put('w/b', '3');
    await client(cluster.members[1]!).del('w/a');
    // etcdctl prints type, key and value per event; a deletion's value is empty.
    await waitFor('live events', async () => (out.includes('DELETE\nw/a\n\n') ? true : undefined));
    expect(out).toBe('PUT\nw/a\n1\nPUT\nw/a\n2\nPUT\nw/b\n3\nDELETE\nw/a\n\n');
  } finally {
    watcher.kill('SIGKILL');
    await c.del('w/', { prefix: true });
  }
});

test('the JSON gateway streams a watch: created, the history, live events, then progress while quiet', async () => {
  const c = client(cluster.members[0]!);
  const from = await c.put('hw', '1');
  const abort = new AbortController();
  const res = await fetch(new URL('/v3/watch', cluster.members[1]!.clientURL), {
    method: 'POST',
    body: JSON.stringify({
      create_request: {
        key: Buffer.from('hw').toString('base64'),
        start_revision: String(from),
        progress_notify: true,
      },
    }),
    signal: abort.signal,
  });
  const reader = res.body!.getReader();
  let text = '';
  type Result = { header: { revision: string }; created?: boolean; events?: { kv: { value: string } }[] };
  const results = () =>
    text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => (JSON.parse(l) as { result: Result }).result);
  const isProgress = (r: Result) => r.created === undefined && r.events === undefined;
  try {
    const last = await c.put('hw', '2');
    await waitFor('the events, then a progress notification', async () => {
      const { value } = await reader.read();
      text += Buffer.from(value!).toString();
      return results().some((r) => isProgress(r) && Number(r.header.revision) >= last) ? true : undefined;
    });
    expect(results()[0]!.created).toBe(true);
    const values = results().flatMap((r) =>
      (r.events ?? []).map((e) => Buffer.from(e.kv.value, 'base64').toString()),
    );
    expect(values).toEqual(['1', '2']);
  } finally {
    abort.abort();
  }
});

interface WatchResponse {
  header: { revision: string };
  watch_id: string;
  created: boolean;
  canceled: boolean;
  events: { kv: { key: Buffer } }[];
}

/** A gRPC Watch stream on `member`, collecting what it is sent. */
function grpcWatch(member: LocalMember) {
  const Watch = etcdServices().Watch!;
  const stub = new Watch(new URL(member.clientURL).host, grpc.credentials.createInsecure());
  const stream = (stub.Watch as () => grpc.ClientDuplexStream<object, WatchResponse>).call(stub);
  const got: WatchResponse[] = [];
  stream.on('data', (r: WatchResponse) => got.push(r));
  stream.on('error', () => {});
  return {
    stream,
    got,
    close: () => {
      stream.cancel();
      stub.close();
    },
  };
}

test('gRPC watches made with progress_notify hear the current revision while quiet, as Kubernetes expects', async () => {
  // kube-apiserver's watch cache asks for these and moves its resource version on them.
  await leaderOf(cluster); // run alone, the test would otherwise start before the first election
  const member = cluster.members[1]!;
  const c = client(cluster.members[0]!);
  const { stream, got, close } = grpcWatch(member);
  const key = (k: string) => Buffer.from(k);
  try {
    stream.write({ create_request: { key: key('pn/'), range_end: key('pn0'), progress_notify: true } });
    stream.write({ create_request: { key: key('plain/'), range_end: key('plain0') } });
    const ids = await waitFor('both watches created', async () => {
      const created = got.filter((r) => r.created).map((r) => r.watch_id);
      return created.length === 2 ? created : undefined;
    });
    const progress = () => got.filter((r) => !r.created && r.events.length === 0);
    const rev = await c.put('pn/a', '1');
    await waitFor('a progress notification after the event', async () =>
      progress().some((r) => Number(r.header.revision) >= rev) ? true : undefined,
    );
    const notes = progress();
    // Only the progress_notify watch is told, each time at a revision it has seen every event up to.
    expect(new Set(notes.map((r) => r.watch_id))).toEqual(new Set([ids[0]]));
    const event = got.findIndex((r) => r.events.length > 0);
    expect(got[event]!.events.map((e) => e.kv.key.toString())).toEqual(['pn/a']);
    for (const r of got.slice(0, event)) if (!r.created) expect(Number(r.header.revision)).toBeLessThan(rev);
    for (const r of got.slice(event + 1)) expect(Number(r.header.revision)).toBeGreaterThanOrEqual(rev);
  } finally {
    close();
    await c.del('pn/', { prefix: true });
  }
});

test('/metrics speaks etcd: leader gauges, proposals, WAL fsync and peer round-trip histograms', async () => {
  const leader = await leaderOf(cluster);
  const metric = async (m: LocalMember, name: string) => {
    const text = await (await fetch(new URL('/metrics', m.clientURL))).text();
    const line = text.split('\n').find((l) => l.startsWith(name));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };
  expect(await metric(leader, 'etcd_server_is_leader')).toBe(1);
  for (const m of cluster.members) {
    expect(await metric(m, 'etcd_server_has_leader')).toBe(1);
    expect(await metric(m, 'etcd_server_proposals_committed_total')).toBeGreaterThan(0);
    expect(await metric(m, 'etcd_disk_wal_fsync_duration_seconds_count')).toBeGreaterThan(0);
    await waitFor('a peer round trip', async () =>
      ((await metric(m, 'etcd_network_peer_round_trip_time_seconds_count')) ?? 0) > 0 ? true : undefined,
    );
  }
  const health = await (await fetch(new URL('/health', leader.clientURL))).json();
  expect(health).toEqual({ health: 'true', reason: '' });
});

test('the alarm API lists no alarms on a healthy cluster and accepts a disarm through the log', async () => {
  const c = client(cluster.members[0]!);
  expect((await c.call('/v3/maintenance/alarm', {})).alarms).toBeUndefined();
  const disarm = await c.call('/v3/maintenance/alarm', { action: 'DEACTIVATE', alarm: 'NOSPACE' });
  expect(disarm.header).toBeDefined();
  const bad = await c.call('/v3/maintenance/alarm', { action: 'EXPLODE' }).catch((e: unknown) => e);
  expect((bad as ApiError).status).toBe(400);
});

test('a serializable read on the member that answered a write sees it (read-your-writes, as etcd)', async () => {
  for (const [i, m] of cluster.members.entries()) {
    const c = client(m);
    for (let n = 0; n < 30; n++) {
      const revision = await c.put(`ryw/${i}`, String(n));
      const { kvs } = await c.get(`ryw/${i}`, { serializable: true });
      expect([kvs[0]?.value, kvs[0]?.modRevision]).toEqual([String(n), revision]);
    }
  }
});

test('compare-and-swap succeeds once and then fails on the stale value', async () => {
  const c = client(cluster.members[1]!);
  expect((await c.cas('lock', undefined, 'a')).succeeded).toBe(true);
  expect((await c.cas('lock', undefined, 'b')).succeeded).toBe(false);
  expect((await c.cas('lock', 'a', 'c')).succeeded).toBe(true);
  expect((await c.get('lock')).kvs[0]!.value).toBe('c');
});

test('malformed requests get a 4xx with a reason and the member keeps serving', async () => {
  const c = client(cluster.members[0]!);
  const bad = await c.call('/v3/kv/put', { key: '***', value: 'x' }).catch((e: unknown) => e);
  expect(bad).toBeInstanceOf(ApiError);
  expect((bad as ApiError).status).toBe(400);
  expect((bad as ApiError).message).toMatch(/key must be base64/);
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(new URL(path, cluster.members[0]!.clientURL), { method: 'POST', headers, body });
  const refusals: Array<[string, string, Record<string, string>, number, RegExp]> = [
    ['/v3/kv/range', '{"key":', {}, 400, /invalid JSON/],
    [
      '/v3/kv/put',
      JSON.stringify({ key: 'aHVnZQ==', value: Buffer.alloc(3 << 20).toString('base64') }),
      {},
      413,
      /^etcdserver: request is too large$/,
    ],
    [
      '/v3/kv/range',
      '{"key":"YQ=="}',
      { 'content-type': 'application/json; charset=latin1' },
      415,
      /charset/,
    ],
    ['/v3/kv/range', '{"key":"YQ=="}', { 'content-encoding': 'gzip' }, 400, /unreadable/],
  ];
  for (const [path, body, headers, status, message] of refusals) {
    const res = await post(path, body, headers);
    expect({ status: res.status, body: await res.json() }).toMatchObject({
      status,
      body: { code: 3, message: expect.stringMatching(message) },
    });
  }
  const wrongMethod = await fetch(new URL('/v3/kv/range', cluster.members[0]!.clientURL));
  expect(wrongMethod.status).toBe(404);
  await c.put('after-bad-input', 'ok');
  // A query string does not change the endpoint.
  const withQuery = await post(
    '/v3/kv/range?x=1',
    JSON.stringify({ key: Buffer.from('after-bad-input').toString('base64') }),
  );
  const { kvs } = (await withQuery.json()) as { kvs: Array<{ value: string }> };
  expect(Buffer.from(kvs[0]!.value, 'base64').toString()).toBe('ok');
});

test('SIGKILL of the leader: writes resume and nothing acknowledged is lost', async () => {
  const leader = await leaderOf(cluster);
  await cluster.stop(leader, 'SIGKILL');
  const survivors = cluster.members.filter((m) => m.proc);
  const c = new KvClient(
    survivors.map((m) => m.clientURL),
    3000,
  );
  await waitFor('writes to resume', async () => {
    await c.put('after-failover', 'yes');
    return true;
  });
  acked.set('after-failover', 'yes');
  for (const m of survivors) {
    const { kvs } = await client(m).get('', { prefix: true });
    const got = new Map(kvs.map((kv) => [kv.key, kv.value]));
    for (const [k, v] of acked) expect(got.get(k)).toBe(v);
  }
  // The killed member restarts from its disk and catches up.
  await cluster.start(leader);
  const latest = (await c.get('after-failover')).revision;
  await waitFor('the restarted member to catch up', async () => {
    const { kvs, revision } = await client(leader).get('after-failover', { serializable: true });
    return revision >= latest && kvs[0]?.value === 'yes' ? true : undefined;
  });
});

test('a write a follower passed to a leader that just died goes to the next leader instead of timing out', async () => {
  // etcd's follower leaves such a write to time out (its request timeout, 7 s by default).
  const leader = await leaderOf(cluster);
  const follower = cluster.members.find((m) => m !== leader && m.proc)!;
  const from = follower.log.length;
  const lost = `"port":${new URL(leader.peerURL).port}`;
  await cluster.stop(leader, 'SIGKILL');
  // Its connection to the leader is down, and it still counts on that leader for an election
  // timeout: the write waits in the dead connection's queue.
  await waitFor(
    'the follower to lose its connection to the leader',
    async () => {
      const lines = follower.log.slice(from).join('').split('\n');
      return lines.some((l) => l.includes('peer unreachable') && l.includes(lost)) ? true : undefined;
    },
    5000,
    5,
  );
  // The client gives up before the member's request timeout (5 s + 2 election timeouts) would.
  expect(await new KvClient([follower.clientURL], 4000).put('passed-on', 'yes')).toBeGreaterThan(0);
  acked.set('passed-on', 'yes');
  expect(follower.log.slice(from).join('')).toMatch(/leader changed/);
  await cluster.start(leader);
  await leaderOf(cluster);
});

test('a member that was down while the log moved past a snapshot catches up from the snapshot', async () => {
  const leader = await leaderOf(cluster);
  const follower = cluster.members.find((m) => m !== leader && m.proc)!;
  await cluster.stop(follower, 'SIGTERM');
  const c = client(leader);
  for (let i = 0; i < 150; i++) {
    await c.put(`bulk/${i}`, `value-${i}`);
    acked.set(`bulk/${i}`, `value-${i}`);
  }
  await cluster.start(follower);
  await waitFor('the follower to install a snapshot and catch up', async () => {
    const { kvs } = await client(follower).get('bulk/', { prefix: true, serializable: true });
    return kvs.length === 150 ? true : undefined;
  });
  expect(follower.log.join('')).toMatch(/installing snapshot from leader/);
});

test('a watch on a member that catches up from a snapshot goes on with the events it missed', async () => {
  // As with etcd: the member's watchers are sent what the snapshot brought, not canceled.
  const leader = await leaderOf(cluster);
  const follower = cluster.members.find((m) => m !== leader && m.proc)!;
  const c = client(leader);
  const { stream, got, close } = grpcWatch(follower);
  const events = () => got.flatMap((r) => r.events.map((e) => e.kv.key.toString()));
  const installs = () => follower.log.join('').match(/installing snapshot from leader/g)?.length ?? 0;
  try {
    stream.write({ create_request: { key: Buffer.from('sw/'), range_end: Buffer.from('sw0') } });
    await waitFor('the watch', async () => (got.some((r) => r.created) ? true : undefined));
    const before = installs();
    const written: string[] = [];
    process.kill(follower.proc!.pid!, 'SIGSTOP');
    try {
      // Past the leader's 256 appends in flight and --snapshot-count, so the leader's log no longer
      // reaches back to what the follower has.
      for (let i = 0; i < 400; i++) {
        const key = i % 20 === 0 ? `sw/${i}` : `other/${i}`;
        await c.put(key, 'x');
        if (key.startsWith('sw/')) written.push(key);
      }
    } finally {
      process.kill(follower.proc!.pid!, 'SIGCONT');
    }
    await waitFor('the missed events', async () => (events().length >= written.length ? true : undefined));
    await c.put('sw/live', 'y');
    await waitFor('the live event', async () => (events().includes('sw/live') ? true : undefined));
    expect(installs()).toBeGreaterThan(before);
    expect(events()).toEqual([...written, 'sw/live']);
    expect(got.filter((r) => r.canceled)).toEqual([]);
  } finally {
    close();
  }
});

test('a fourth member joins as a learner, is promoted, and another member is removed', async () => {
  const c = new KvClient(cluster.members.filter((m) => m.proc).map((m) => m.clientURL));
  const fourth = await cluster.addMember('m4');
  const id = await c.memberAdd(fourth.peerURL, true);
  await cluster.start(fourth, 'existing', cluster.initialCluster());
  await waitFor('the learner to catch up', async () => {
    const { kvs } = await client(fourth).get('bulk/', { prefix: true, serializable: true });
    return kvs.length === 150 ? true : undefined;
  });
  expect((await c.members()).find((m) => m.ID === id)?.isLearner).toBe(true);
  await waitFor('promotion to be accepted', async () => {
    await c.memberPromote(id);
    return true;
  });
  expect((await c.members()).find((m) => m.ID === id)?.isLearner).toBeUndefined();

  const leader = await leaderOf(cluster);
  const victim = cluster.members.find((m) => m !== leader && m !== fourth && m.proc)!;
  const victimId = (await client(victim).status()).memberId;
  await c.memberRemove(victimId);
  const members = await c.members();
  expect(members.map((m) => m.ID)).not.toContain(victimId);
  expect(members).toHaveLength(3);
  // The removed member stops by itself.
  await waitFor('the removed member to exit', async () =>
    victim.proc?.exitCode !== null ? true : undefined,
  );
  await new KvClient([fourth.clientURL]).put('after-membership-changes', 'ok');
});
