// etcd's automatic compaction on real member processes: with --auto-compaction-retention=2s the
// leader compacts, through the log, history older than 2 s on every member, while history younger
// than that stays readable; followers never compact on their own.
import { jest } from '@jest/globals';
import { ApiError, KvClient } from '../../node/client/client.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(60_000);

const client = (m: LocalMember) => new KvClient([m.clientURL], 5000);
const RETENTION_MS = 2000;

let t: TempCluster;
beforeAll(async () => {
  t = await tempCluster('auto-compaction', {
    size: 3,
    extraArgs: [...TEST_MEMBER_ARGS, `--auto-compaction-retention=${RETENTION_MS / 1000}s`],
  });
});
afterAll(() => t.dispose());

/** Whether reading `key` at `revision` on `m` is refused as compacted. */
async function compactedAt(m: LocalMember, key: string, revision: number): Promise<boolean> {
  try {
    await client(m).get(key, { revision, serializable: true });
    return false;
  } catch (e) {
    if (e instanceof ApiError && /required revision has been compacted/.test(e.message)) return true;
    throw e;
  }
}

test('history older than the retention is compacted on every member, by the leader; younger history stays', async () => {
  const leader = await agreedLeader(() => t.cluster.members);
  const c = client(leader);
  const old = await c.put('ac/k', 'v1');
  await c.put('ac/k', 'v2');
  for (const m of t.cluster.members) {
    await waitFor(`revision ${old} compacted on ${m.name}`, async () =>
      (await compactedAt(m, 'ac/k', old)) ? true : undefined,
    );
  }
  // A write just made is still readable at its own revision: the compaction keeps 2 s of history.
  const fresh = await c.put('ac/k', 'v3');
  await c.put('ac/k', 'v4');
  expect((await c.get('ac/k', { revision: fresh })).kvs.map((kv) => kv.value)).toEqual(['v3']);
  expect((await c.get('ac/k')).kvs.map((kv) => kv.value)).toEqual(['v4']);
  // Only a leader compacts (a compaction through the log reaches the others): a member that never
  // led never does. (Under load leadership may move, so more than one may have led meanwhile.)
  const said = (m: LocalMember, what: RegExp) => what.test(m.log.join(''));
  const compacting = t.cluster.members.filter((m) => said(m, /completed auto compaction/));
  expect(compacting.map((m) => m.name)).toContain(leader.name);
  for (const m of compacting) expect(said(m, /"leader changed"[^\n]*"role":"leader"/)).toBe(true);
});
