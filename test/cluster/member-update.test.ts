// etcd's member update on real processes: a member moved to a new peer URL (etcdctl member update,
// over gRPC) restarts there with the same ID and data, and the others reach it there; an unknown
// member or a URL another member has is refused.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { ApiError, KvClient } from '../../node/client/client.js';
import { freePort, type LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

const client = (m: LocalMember) => new KvClient([m.clientURL], 5000);

let t: TempCluster;
beforeAll(async () => {
  t = await tempCluster('member-update', { size: 3, extraArgs: TEST_MEMBER_ARGS });
  await agreedLeader(() => t.cluster.members);
});
afterAll(() => t.dispose());

/** etcdctl 3.4 (Debian's) against one member. */
function etcdctl(m: LocalMember, args: string[]): { status: number | null; out: string } {
  const r = spawnSync('etcdctl', [`--endpoints=${m.clientURL}`, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  return { status: r.status, out: r.stdout.toString() + r.stderr.toString() };
}

test('a member moved to a new peer URL keeps its ID and data, and the others reach it there', async () => {
  const [m1, , m3] = t.cluster.members as [LocalMember, LocalMember, LocalMember];
  await client(m1).put('before', '1');
  const listed = async () => (await client(m1).members()).find((m) => m.name === m3.name)!;
  const id = BigInt((await listed()).ID).toString(16);

  await t.cluster.stop(m3, 'SIGTERM');
  const moved = `http://127.0.0.1:${await freePort()}`;
  const update = etcdctl(m1, ['member', 'update', id, `--peer-urls=${moved}`]);
  expect(update.out).toMatch(new RegExp(`^Member +${id} updated in cluster`)); // etcdctl pads IDs (%16x)
  expect((await listed()).peerURLs).toEqual([moved]);

  m3.peerURL = moved;
  m3.peerListenURL = moved;
  await t.cluster.start(m3);
  // Ready means it has heard a leader, whose heartbeats now go to the new URL.
  await waitFor('m3 ready again', async () =>
    (await fetch(new URL('/readyz', m3.clientURL))).ok ? true : undefined,
  );
  await client(m1).put('after', '2');
  // A linearizable read on m3 asks the leader, which answers it at the new URL.
  const { kvs } = await client(m3).get('after');
  expect(kvs.map((kv) => kv.value)).toEqual(['2']);
  expect((await client(m3).get('before')).kvs[0]?.value).toBe('1');
  expect((await client(m3).status()).memberId).toBe(BigInt(`0x${id}`).toString());
});

test('updating an unknown member, or to a peer URL another member has, is refused', async () => {
  const [m1, m2] = t.cluster.members as [LocalMember, LocalMember];
  const refused = (id: string, url: string) =>
    client(m1)
      .memberUpdate(id, [url])
      .then(
        () => undefined,
        (e: unknown) => e as ApiError,
      );
  const unknown = await refused('1234', 'http://127.0.0.1:1');
  expect([unknown?.status, unknown?.message]).toEqual([404, 'etcdserver: member not found']);
  const m2Id = (await client(m1).members()).find((m) => m.name === m2.name)!.ID;
  const taken = await refused(m2Id, m1.peerURL);
  expect(taken?.message).toBe('etcdserver: Peer URLs already exists');
  const bad = etcdctl(m1, ['member', 'update', BigInt(m2Id).toString(16), '--peer-urls=']);
  expect(bad.status).not.toBe(0);
});
