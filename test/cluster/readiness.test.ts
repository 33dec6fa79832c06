// /readyz on real member processes: a member alone has no leader and says so; a member that says
// ok has its client URLs in the member list already (etcd serves clients only once it has
// published them, and `etcdctl endpoint status --cluster` dials the URLs that list holds).
import { jest } from '@jest/globals';
import { KvClient } from '../../node/client/client.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(60_000);

const readyz = (m: LocalMember) => fetch(new URL('/readyz', m.clientURL));

let t: TempCluster;
beforeAll(async () => {
  t = await tempCluster('readiness', { size: 3, extraArgs: TEST_MEMBER_ARGS }, false);
});
afterAll(() => t.dispose());

test('a member is ready once it has a leader, has caught up and is in the member list with its client URLs', async () => {
  const [first, ...rest] = t.cluster.members;
  await t.cluster.start(first!);
  const alone = await waitFor('an answer from the first member', () => readyz(first!));
  expect([alone.status, await alone.text()]).toEqual([503, 'not ready: no leader']);

  for (const m of rest) await t.cluster.start(m);
  // Checked the moment each member first says ok: no later than that may its URLs be listed.
  for (const m of t.cluster.members) {
    await waitFor(`${m.name} ready`, async () => ((await readyz(m)).ok ? true : undefined), 20_000, 5);
    const listed = (await new KvClient([m.clientURL], 5000).members()).find((x) => x.name === m.name);
    expect(listed?.clientURLs).toEqual([m.clientURL]);
  }
});
