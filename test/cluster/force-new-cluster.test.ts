// etcd's --force-new-cluster on real processes: a 3-member cluster loses two members for good;
// the survivor restarts with the flag, keeps every write it had, and serves alone; a removed
// member whose old data comes back is refused; a new member joins the survivor with member add.
import { jest } from '@jest/globals';
import { rmSync } from 'node:fs';
import { KvClient } from '../../node/client/client.js';
import { exitOf, logTail, tempCluster, type TempCluster } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { promoteMember, servesLocally } from '../support/membership.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

let t: TempCluster;
beforeAll(async () => {
  t = await tempCluster('force-new', {
    size: 3,
    extraArgs: ['--heartbeat-interval=50', '--election-timeout=500'],
  });
});
afterAll(() => t.dispose());

test('a survivor forced into a one-member cluster keeps its data, refuses the removed, and takes new members', async () => {
  const { cluster } = t;
  const leader = await agreedLeader(() => cluster.members);
  const [survivor, stale] = cluster.members.filter((m) => m !== leader);
  const c = new KvClient(cluster.members.map((m) => m.clientURL));
  await waitFor('writes', async () => c.put('ready', 'yes'), 30_000, 100);
  for (let i = 0; i < 30; i++) await c.put(`k${i}`, `v${i}`);
  const local = new KvClient([survivor!.clientURL]);
  await servesLocally(local, 'k29');
  const survivorId = (await local.status()).memberId;

  // The leader's disk is gone, the other follower is down; the survivor crashes too.
  for (const m of [leader, stale!, survivor!]) await cluster.stop(m, 'SIGKILL');
  rmSync(leader.dataDir, { recursive: true, force: true });
  await cluster.start(survivor!, 'new', undefined, ['--force-new-cluster']);
  expect(await agreedLeader(() => [survivor!])).toBe(survivor);
  expect(logTail(survivor!)).toContain('forced a new one-member cluster');
  expect((await local.members()).map((m) => m.ID)).toEqual([survivorId]);
  const { kvs } = await local.get('k', { prefix: true });
  expect(kvs.map((kv) => kv.value).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `v${i}`).sort());
  await local.put('after', 'forced');

  // The old follower comes back with its data: it is no longer a member, and it is told so.
  await cluster.start(stale!, 'existing');
  expect(await exitOf(stale!)).toBe(0);
  expect(logTail(stale!)).toContain('removed from the cluster');

  // Restarted without the flag it is still the one-member cluster, data and all.
  await cluster.stop(survivor!);
  await cluster.start(survivor!);
  await agreedLeader(() => [survivor!]);
  expect((await local.get('after')).kvs[0]?.value).toBe('forced');

  // A new member at the lost leader's peer URL joins it the usual way.
  const id = await local.memberAdd(leader.peerURL, true);
  await cluster.start(leader, 'existing', cluster.initialCluster([survivor!, leader]));
  const joined = new KvClient([leader.clientURL]);
  await servesLocally(joined, 'after');
  await promoteMember(local, id);
  expect(
    (await local.members())
      .filter((m) => !m.isLearner)
      .map((m) => m.ID)
      .sort(),
  ).toEqual([survivorId, id].sort());
  expect((await joined.get('k', { prefix: true })).kvs).toHaveLength(30);
});
