// A voter that lost its disk must not rejoin under its old identity (it could vote twice in one
// term): it refuses with a clear error, and the remedy the operator automates works by hand —
// remove it, add it back as a learner, let it catch up, promote it.
import { jest } from '@jest/globals';
import { rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { KvClient } from '../../node/client/client.js';
import { encodeFrame } from '../../node/transport/framing.js';
import type { LocalCluster } from '../../node/tools/local-cluster.js';
import { exitOf, tempCluster, type TempCluster } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { promoteMember, servesLocally } from '../support/membership.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(90_000);

let t: TempCluster;
let cluster: LocalCluster;
beforeAll(async () => {
  t = await tempCluster('wiped', {
    size: 3,
    extraArgs: ['--heartbeat-interval=50', '--election-timeout=500'],
  });
  cluster = t.cluster;
});
afterAll(() => t.dispose());

test('a voter restarted with an empty data dir refuses to rejoin, and is replaced by remove + add', async () => {
  // A follower loses its disk: the leader that saw its log grow is the one that exposes it (a
  // leader elected after it went down would not know, as with etcd; docs/operator.md).
  const leader = await agreedLeader(() => cluster.members);
  const m3 = cluster.members.filter((m) => m !== leader).at(-1)!;
  const others = cluster.members.filter((m) => m !== m3);
  const c = new KvClient(others.map((m) => m.clientURL));
  await waitFor('writes', async () => c.put('ready', 'yes'), 30_000, 100);
  for (let i = 0; i < 20; i++) await c.put(`k${i}`, `v${i}`);
  const id = (await new KvClient([m3.clientURL]).status()).memberId;

  await cluster.stop(m3, 'SIGKILL');
  rmSync(m3.dataDir, { recursive: true, force: true });
  await cluster.start(m3, 'existing');
  expect(await exitOf(m3)).toBe(1);
  expect(m3.log.join('')).toMatch(/started with an empty data dir.*its data was lost/);
  // Restarted again (as a kubelet does), it is still a member that has lost its data, not one
  // with an empty log that may vote.
  m3.log.length = 0;
  await cluster.start(m3, 'existing');
  expect(await exitOf(m3)).toBe(1);
  expect(m3.log.join('')).toMatch(/started with an empty data dir.*its data was lost/);
  expect((await c.members()).find((m) => m.ID === id)?.isLearner).toBeFalsy();
  await c.put('still', 'serving');

  await c.memberRemove(id);
  const again = await c.memberAdd(m3.peerURL, true);
  rmSync(m3.dataDir, { recursive: true, force: true });
  await cluster.start(m3, 'existing');
  const m3c = new KvClient([m3.clientURL]);
  await servesLocally(m3c, 'still');
  await promoteMember(c, again);
  const members = await c.members();
  expect(members.filter((m) => !m.isLearner)).toHaveLength(3);
  const { kvs } = await m3c.get('k', { prefix: true, serializable: true });
  expect(kvs).toHaveLength(20);
});

test('a member that the leader still replicates to stays when a peer with a stale view refuses it as removed', async () => {
  // A member joining later replays the log, and between a replaced member's old removal and its
  // re-addition (same ID, same peer URL) it refuses that member as removed. Stand-in: a learner
  // whose "process" refuses everyone that way.
  const refused: string[] = [];
  const liar = createServer((s) => {
    refused.push(s.remoteAddress ?? '');
    s.end(encodeFrame({ t: 'reject', reason: 'removed', detail: 'a stale view of the membership' }));
  });
  await new Promise<void>((ok) => liar.listen(0, '127.0.0.1', ok));
  const c = new KvClient(cluster.members.map((m) => m.clientURL));
  const id = await c.memberAdd(`http://127.0.0.1:${(liar.address() as AddressInfo).port}`, true);
  try {
    const log = (m: (typeof cluster.members)[number]) => m.log.join('');
    await waitFor(
      'every member to decide to stay',
      async () =>
        cluster.members.every((m) => /still a member of the cluster; staying/.test(log(m)))
          ? true
          : undefined,
      30_000,
    );
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const m of cluster.members) expect(m.proc?.exitCode).toBeNull();
    await c.put('after-refusals', 'ok');
  } finally {
    liar.close();
    await c.memberRemove(id);
  }
});

test('a member removed while it was down is refused by its peers when it comes back, and exits', async () => {
  const leader = await agreedLeader(() => cluster.members.filter((m) => m.proc));
  const victim = cluster.members.find((m) => m !== leader && m.proc)!;
  const c = new KvClient(cluster.members.filter((m) => m !== victim).map((m) => m.clientURL));
  const id = (await new KvClient([victim.clientURL]).status()).memberId;
  await cluster.stop(victim, 'SIGKILL');
  await c.memberRemove(id);
  await cluster.start(victim); // its own data still lists it: only its peers can tell it
  expect(await exitOf(victim)).toBe(0);
  expect(victim.log.join('')).toMatch(/a peer refused this member as removed/);
  await c.put('after-removal', 'ok');
});
