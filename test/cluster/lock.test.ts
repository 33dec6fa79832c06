// etcd's Lock service (v3lockpb; jetcd's and the Rust etcd-client's locks use it) against a real
// etcd 3.4, step by step with the same gRPC calls: a lock is the key <name>/<lease in hex>; a
// second caller waits until the holder unlocks or its lease goes; a waiter that gives up leaves no
// key; a lock without a lease gets one of 60 s; an unknown lease is refused. raftkv runs 3 members
// and is called through a follower, so each step also crosses to the leader.
import { jest } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { etcdServices } from '../../node/api/grpc.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

type Obj = Record<string, unknown>;
type UnaryMethod = (req: Obj, options: grpc.CallOptions, done: (e: Error | null, r: never) => void) => void;
interface Stubs {
  call<T = Obj>(service: 'KV' | 'Lease' | 'Lock', method: string, req: Obj, deadline?: Date): Promise<T>;
  close(): void;
}

function stubsFor(m: LocalMember): Stubs {
  const services = etcdServices();
  const address = new URL(m.clientURL).host;
  const made = new Map<string, grpc.Client>();
  const stub = (name: string) => {
    if (!made.has(name)) made.set(name, new services[name]!(address, grpc.credentials.createInsecure()));
    return made.get(name)! as unknown as Record<string, UnaryMethod>;
  };
  return {
    call: (service, method, req, deadline) =>
      new Promise((ok, fail) =>
        stub(service)[method]!.call(
          stub(service),
          req,
          deadline ? { deadline } : {},
          (e: Error | null, r: never) => (e ? fail(e) : ok(r)),
        ),
      ),
    close: () => made.forEach((c) => c.close()),
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

test('the JSON gateway locks and unlocks as etcd 3.4 does', async () => {
  for (const m of [t.cluster.members[0]!, etcd.cluster.members[0]!]) {
    const post = async (path: string, body: Obj) => {
      const res = await fetch(new URL(path, m.clientURL), { method: 'POST', body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Obj };
    };
    const lease = (await post('/v3/lease/grant', { TTL: 30 })).body.ID as string;
    const locked = await post('/v3/lock/lock', { name: b('gw').toString('base64'), lease });
    expect(locked.status).toBe(200);
    expect(Buffer.from(locked.body.key as string, 'base64').toString()).toBe(`gw/${hex(lease)}`);
    expect(Object.keys(locked.body.header as Obj).sort()).toEqual([
      'cluster_id',
      'member_id',
      'raft_term',
      'revision',
    ]);
    const unlocked = await post('/v3/lock/unlock', { key: locked.body.key });
    expect(unlocked.status).toBe(200);
    expect(Object.keys(unlocked.body)).toEqual(['header']);
  }
});
