// etcd's services beside KV, against a real etcd 3.4, step by step with the same calls: Lock and
// Election (v3lockpb, v3electionpb; jetcd's and the Rust etcd-client's locks and elections use
// them), gRPC's standard Health service (Kubernetes' gRPC probes call it), and GET /version.
// Locks: a lock is the key <name>/<lease in hex>; a second caller waits until the holder unlocks or
// its lease goes; a waiter that gives up leaves no key; a lock without a lease gets one of 60 s; an
// unknown lease is refused. Elections: campaign, leader, proclaim, resign and observe, with etcd's
// refusals. raftkv runs 3 members and is called through a follower, so each step also crosses to
// the leader.
import { jest } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { grpcStubs, type GrpcStubs, type Obj } from '../support/grpc-stubs.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

interface Stubs extends GrpcStubs {
  /** The responses of an Observe stream, as they come; cancel ends it. */
  observe(name: string): { got: Obj[]; cancel(): void };
}

function stubsFor(m: LocalMember): Stubs {
  const stubs = grpcStubs(m);
  return {
    ...stubs,
    observe: (name) => {
      const got: Obj[] = [];
      const election = stubs.stub('Election') as unknown as Record<
        string,
        (req: Obj) => grpc.ClientReadableStream<Obj>
      >;
      const stream = election.Observe!.call(election, { name: b(name) });
      stream.on('data', (r: Obj) => got.push(r));
      stream.on('error', () => {});
      return { got, cancel: () => stream.cancel() };
    },
  };
}

const b = (s: string) => Buffer.from(s);
const hex = (id: unknown) => BigInt(String(id)).toString(16);

let t: TempCluster;
let etcd: TempCluster;
const systems: Array<[string, () => Stubs]> = [
  ['raftkv (through a follower)', () => raftkv],
  ['etcd 3.4', () => reference],
];
let raftkv: Stubs;
let reference: Stubs;

beforeAll(async () => {
  [t, etcd] = await Promise.all([
    tempCluster('lock', { size: 3, extraArgs: TEST_MEMBER_ARGS }),
    tempCluster('lock-etcd', {
      size: 1,
      command: ['etcd'],
      extraArgs: ['--heartbeat-interval=50', '--election-timeout=500'],
    }),
  ]);
  const [leader] = await Promise.all([
    agreedLeader(() => t.cluster.members),
    agreedLeader(() => etcd.cluster.members),
  ]);
  raftkv = stubsFor(t.cluster.members.find((m) => m !== leader)!);
  reference = stubsFor(etcd.cluster.members[0]!);
});
afterAll(async () => {
  raftkv?.close();
  reference?.close();
  await Promise.all([t.dispose(), etcd.dispose()]);
});

const grant = async (s: Stubs, ttl = 30) =>
  (await s.call<{ ID: string }>('Lease', 'LeaseGrant', { TTL: ttl })).ID;
const keysUnder = async (s: Stubs, prefix: string) => {
  const end = b(prefix);
  end[end.length - 1]!++;
  const r = await s.call<{ kvs: Array<{ key: Buffer }> }>('KV', 'Range', { key: b(prefix), range_end: end });
  return r.kvs.map((kv) => kv.key.toString());
};
const lock = (s: Stubs, name: string, lease: string | number, deadline?: Date) =>
  s.call<{ key: Buffer; header: { revision: string } }>('Lock', 'Lock', { name: b(name), lease }, deadline);

describe.each(systems)('%s', (_name, stubs) => {
  test('the first caller holds the lock at once; the next waits for the unlock', async () => {
    const s = stubs();
    const [l1, l2] = [await grant(s), await grant(s)];
    const first = await lock(s, 'jobs', l1);
    expect(first.key.toString()).toBe(`jobs/${hex(l1)}`);
    let second: { key: Buffer; header: { revision: string } } | undefined;
    const waiting = lock(s, 'jobs', l2).then((r) => (second = r));
    await waitFor('the waiter to queue its key', async () =>
      (await keysUnder(s, 'jobs/')).length === 2 ? true : undefined,
    );
    expect(second).toBeUndefined();
    // The holder locking again on its lease keeps its place.
    expect((await lock(s, 'jobs', l1)).key.toString()).toBe(`jobs/${hex(l1)}`);
    expect(second).toBeUndefined();
    const unlocked = await s.call<{ header: { revision: string } }>('Lock', 'Unlock', { key: first.key });
    await waiting;
    expect(second!.key.toString()).toBe(`jobs/${hex(l2)}`);
    expect(Number(second!.header.revision)).toBeGreaterThanOrEqual(Number(unlocked.header.revision));
    await s.call('Lock', 'Unlock', { key: second!.key });
    expect(await keysUnder(s, 'jobs/')).toEqual([]);
  });

  test("a holder's lease that is revoked frees the lock", async () => {
    const s = stubs();
    const [l1, l2] = [await grant(s), await grant(s)];
    await lock(s, 'lapse', l1);
    const waiting = lock(s, 'lapse', l2);
    await waitFor('the waiter to queue its key', async () =>
      (await keysUnder(s, 'lapse/')).length === 2 ? true : undefined,
    );
    await s.call('Lease', 'LeaseRevoke', { ID: l1 });
    expect((await waiting).key.toString()).toBe(`lapse/${hex(l2)}`);
    expect(await keysUnder(s, 'lapse/')).toEqual([`lapse/${hex(l2)}`]);
  });

  test('a waiter that gives up (its deadline passes) takes its key away', async () => {
    const s = stubs();
    const [l1, l2] = [await grant(s), await grant(s)];
    await lock(s, 'patience', l1);
    await expect(lock(s, 'patience', l2, new Date(Date.now() + 500))).rejects.toThrow(/DEADLINE_EXCEEDED/);
    await waitFor('only the holder left', async () =>
      (await keysUnder(s, 'patience/')).length === 1 ? true : undefined,
    );
    expect(await keysUnder(s, 'patience/')).toEqual([`patience/${hex(l1)}`]);
  });

  test('a lock without a lease gets one of 60 s; an unknown lease is refused', async () => {
    const s = stubs();
    const r = await lock(s, 'nolease', 0);
    const id = r.key.toString().slice('nolease/'.length);
    const ttl = await s.call<{ grantedTTL: string }>('Lease', 'LeaseTimeToLive', {
      ID: BigInt(`0x${id}`).toString(),
    });
    expect(ttl.grantedTTL).toBe('60');
    await expect(lock(s, 'unknown', 12345)).rejects.toThrow('etcdserver: requested lease not found');
    expect(await keysUnder(s, 'unknown/')).toEqual([]);
  });
});

test('the JSON gateway locks and elects as etcd 3.4 does: the same steps give the same answers', async () => {
  const transcript = async (m: LocalMember) => {
    const post = async (path: string, body: Obj) => {
      const res = await fetch(new URL(path, m.clientURL), { method: 'POST', body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Obj };
    };
    const b64 = (v: string) => b(v).toString('base64');
    const text = (v: unknown) => Buffer.from(String(v), 'base64').toString();
    const lease = (await post('/v3/lease/grant', { TTL: 30 })).body.ID as string;
    const mine = hex(lease);
    const steps: string[] = [];
    const locked = await post('/v3/lock/lock', { name: b64('gw'), lease });
    steps.push(`lock ${locked.status} ${text(locked.body.key)} ${Object.keys(locked.body).sort()}`);
    steps.push(`header ${Object.keys(locked.body.header as Obj).sort()}`);
    const unlocked = await post('/v3/lock/unlock', { key: locked.body.key });
    steps.push(`unlock ${unlocked.status} ${Object.keys(unlocked.body)}`);

    const elected = await post('/v3/election/campaign', { name: b64('gwe'), lease, value: b64('v1') });
    const leader = elected.body.leader as Obj;
    steps.push(`campaign ${elected.status} ${text(leader.name)} ${text(leader.key)} ${hex(leader.lease)}`);
    const proclaimed = await post('/v3/election/proclaim', { leader, value: b64('v2') });
    steps.push(`proclaim ${proclaimed.status}`);
    const current = await post('/v3/election/leader', { name: b64('gwe') });
    const kv = current.body.kv as Obj;
    steps.push(`leader ${current.status} ${text(kv.key)}=${text(kv.value)}`);
    const abort = new AbortController();
    const observing = await fetch(new URL('/v3/election/observe', m.clientURL), {
      method: 'POST',
      body: JSON.stringify({ name: b64('gwe') }),
      signal: abort.signal,
    });
    const reader = observing.body!.getReader();
    let lines = '';
    while (!lines.includes('\n')) lines += Buffer.from((await reader.read()).value!).toString();
    abort.abort();
    const first = (JSON.parse(lines.split('\n')[0]!) as { result: { kv: Obj } }).result.kv;
    steps.push(`observe ${observing.status} ${text(first.key)}=${text(first.value)}`);
    const resigned = await post('/v3/election/resign', { leader });
    steps.push(`resign ${resigned.status}`);
    const none = await post('/v3/election/leader', { name: b64('gwe') });
    steps.push(`no leader ${none.status} ${none.body.message}`);
    return steps.map((step) => step.replaceAll(mine, '<lease>'));
  };
  const ours = await transcript(t.cluster.members[0]!);
  expect(ours).toEqual(await transcript(etcd.cluster.members[0]!));
  expect(ours).toEqual([
    'lock 200 gw/<lease> header,key',
    'header cluster_id,member_id,raft_term,revision',
    'unlock 200 header',
    'campaign 200 gwe gwe/<lease> <lease>',
    'proclaim 200',
    'leader 200 gwe/<lease>=v2',
    'observe 200 gwe/<lease>=v2',
    'resign 200',
    'no leader 500 election: no leader',
  ]);
});

interface LeaderKey {
  name: Buffer;
  key: Buffer;
  rev: string;
  lease: string;
}
const campaign = (s: Stubs, name: string, lease: string, value: string) =>
  s.call<{ header: { revision: string }; leader: LeaderKey }>('Election', 'Campaign', {
    name: b(name),
    lease,
    value: b(value),
  });
const observed = (o: { got: Obj[] }) =>
  o.got.map((r) => {
    const kv = r.kv as { key: Buffer; value: Buffer };
    return `${kv.key.toString()}=${kv.value.toString()}`;
  });

describe.each(systems)('%s', (_name, stubs) => {
  test('an election: the first candidate leads, proclaims, resigns; the next then leads; observers see each', async () => {
    const s = stubs();
    const [l1, l2] = [await grant(s), await grant(s)];
    await expect(s.call('Election', 'Leader', { name: b('pick') })).rejects.toThrow(
      '2 UNKNOWN: election: no leader',
    );
    const watcher = s.observe('pick');
    const first = await campaign(s, 'pick', l1, 'a');
    expect(first.leader.key.toString()).toBe(`pick/${hex(l1)}`);
    expect(first.leader.name.toString()).toBe('pick');
    expect(hex(first.leader.lease)).toBe(hex(l1));
    expect(first.leader.rev).toBe(first.header.revision);
    const leader = await s.call<{ kv: { key: Buffer; value: Buffer } }>('Election', 'Leader', {
      name: b('pick'),
    });
    expect(`${leader.kv.key.toString()}=${leader.kv.value.toString()}`).toBe(`pick/${hex(l1)}=a`);

    let second: { leader: LeaderKey } | undefined;
    const waiting = campaign(s, 'pick', l2, 'b').then((r) => (second = r));
    await waitFor('the second candidate to queue its key', async () =>
      (await keysUnder(s, 'pick/')).length === 2 ? true : undefined,
    );
    await s.call('Election', 'Proclaim', { leader: first.leader, value: b('a2') });
    expect(second).toBeUndefined();
    // Only the leader proclaims: a key of another revision is refused, as is none at all.
    await expect(
      s.call('Election', 'Proclaim', { leader: { ...first.leader, rev: '1' }, value: b('x') }),
    ).rejects.toThrow('2 UNKNOWN: election: not leader');
    await expect(s.call('Election', 'Proclaim', { value: b('x') })).rejects.toThrow(
      '"leader" field must be provided',
    );
    await s.call('Election', 'Resign', { leader: first.leader });
    await waiting;
    expect(second!.leader.key.toString()).toBe(`pick/${hex(l2)}`);
    await waitFor('the observer to see the new leader', async () =>
      observed(watcher).length >= 3 ? true : undefined,
    );
    watcher.cancel();
    expect(observed(watcher)).toEqual([`pick/${hex(l1)}=a`, `pick/${hex(l1)}=a2`, `pick/${hex(l2)}=b`]);
    await s.call('Election', 'Resign', { leader: second!.leader });
    expect(await keysUnder(s, 'pick/')).toEqual([]);
  });
});

test('gRPC health: the server is SERVING and any named service unknown, as with etcd', async () => {
  for (const s of [raftkv, reference]) {
    expect(await s.call('Health', 'Check', { service: '' })).toEqual({ status: 'SERVING' });
    await expect(s.call('Health', 'Check', { service: 'etcdserverpb.KV' })).rejects.toThrow(
      '5 NOT_FOUND: unknown service',
    );
  }
});

test("GET /version answers in etcd's shape, with the etcd API level raftkv serves and its own version", async () => {
  const version = async (m: LocalMember) => (await fetch(new URL('/version', m.clientURL))).json();
  const theirs = (await version(etcd.cluster.members[0]!)) as Record<string, string>;
  expect(Object.keys(theirs).sort()).toEqual(['etcdcluster', 'etcdserver']);
  expect(theirs.etcdcluster).toBe('3.4.0');
  expect(await version(t.cluster.members[0]!)).toEqual({
    etcdserver: '3.4.0',
    etcdcluster: '3.4.0',
    raftkv: '0.1.0',
  });
});

describe.each(systems)('%s', (_name, stubs) => {
  /** A Watch stream and the responses it has had so far. */
  function openWatch() {
    const watch = stubs().stub('Watch') as unknown as Record<string, () => grpc.ClientDuplexStream<Obj, Obj>>;
    const stream = watch.Watch!.call(watch);
    const got: Obj[] = [];
    stream.on('data', (r: Obj) => got.push(r));
    stream.on('error', () => {});
    return { stream, got };
  }

  /** The responses to one watch created from `startRevision`, until `enough` says so. */
  async function watchFrom(key: string, startRevision: number, enough: (got: Obj[]) => boolean) {
    const { stream, got } = openWatch();
    try {
      stream.write({
        create_request: { key: b(key), range_end: b(`${key}~`), start_revision: startRevision },
      });
      return await waitFor(`the watch from ${startRevision}`, async () => (enough(got) ? got : undefined));
    } finally {
      stream.cancel();
    }
  }

  test('a watch may start at the compacted revision itself (clients resume there); below it, it is canceled with that revision', async () => {
    const put = async (k: string, v: string) =>
      Number(((await stubs().call<Obj>('KV', 'Put', { key: b(k), value: b(v) })).header as Obj).revision);
    await put('compactwatch/a', '1');
    const at = await put('compactwatch/a', '2');
    const last = await put('compactwatch/b', '1');
    await stubs().call('KV', 'Compact', { revision: at });
    const events = (got: Obj[]) => got.flatMap((r) => (r.events as Obj[] | undefined) ?? []);
    const from = await watchFrom('compactwatch/', at, (got) => events(got).length >= 2);
    expect(from.some((r) => r.canceled)).toBe(false);
    expect(events(from).map((e) => `${String((e.kv as Obj).key)}=${String((e.kv as Obj).value)}`)).toEqual([
      'compactwatch/a=2',
      'compactwatch/b=1',
    ]);
    expect(Number((events(from).at(-1)!.kv as Obj).mod_revision)).toBe(last);
    const below = await watchFrom('compactwatch/', at - 1, (got) => got.some((r) => r.canceled));
    expect(events(below)).toEqual([]);
    expect(Number(below.find((r) => r.canceled)!.compact_revision)).toBe(at);
  });

  test('a Watch stream whose client closed its sending side (as grpcurl does) goes on delivering events', async () => {
    const { stream, got } = openWatch();
    try {
      stream.write({ create_request: { key: b('halfclose/k') } });
      await waitFor('the watch created', async () => (got.some((r) => r.created) ? true : undefined));
      stream.end(); // half-close: nothing more to send, still reading
      await stubs().call('KV', 'Put', { key: b('halfclose/k'), value: b('v') });
      const events = await waitFor('the put as an event', async () => {
        const e = got.flatMap((r) => (r.events as Obj[] | undefined) ?? []);
        return e.length > 0 ? e : undefined;
      });
      expect(events.map((e) => [e.type, String((e.kv as Obj).value)])).toEqual([['PUT', 'v']]);
    } finally {
      stream.cancel();
    }
  });
});
