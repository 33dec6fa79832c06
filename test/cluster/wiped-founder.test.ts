// A founder that lost its data dir and is started again with --initial-cluster-state=new (as
// static configs leave it) must not bootstrap again with an empty log: the other founders list it
// as published, so it refuses to start, as etcd's isMemberBootstrapped makes it. A founder that
// only starts late, never having run, is not refused.
import { jest } from '@jest/globals';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { KvClient } from '../../node/client/client.js';
import { parseMemberId } from '../../node/server/ids.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { exitOf, TEST_MEMBER_ARGS, tempCluster, withLogOf } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(90_000);

const log = (m: LocalMember) => m.log.join('');

test('a founder restarted with "new" on an emptied data dir refuses to start; the others serve on', async () => {
  const t = await tempCluster('wiped-founder', { size: 3, extraArgs: TEST_MEMBER_ARGS });
  try {
    const { cluster } = t;
    const leader = await agreedLeader(() => cluster.members);
    const wiped = cluster.members.find((m) => m !== leader)!;
    const others = cluster.members.filter((m) => m !== wiped);
    const c = new KvClient(cluster.members.map((m) => m.clientURL));
    await waitFor('writes', async () => c.put('ready', 'yes'), 30_000, 100);
    for (let i = 0; i < 10; i++) await c.put(`k${i}`, `v${i}`);
    // Hex, as logs and etcdctl's member commands show it.
    const id = parseMemberId((await new KvClient([wiped.clientURL]).status()).memberId);

    await cluster.stop(wiped, 'SIGKILL');
    for (const f of readdirSync(wiped.dataDir))
      rmSync(join(wiped.dataDir, f), { recursive: true, force: true });
    // Twice, as a supervisor restarts it: the first refusal leaves nothing that lets the second pass.
    for (let attempt = 0; attempt < 2; attempt++) {
      wiped.log.length = 0;
      await cluster.start(wiped, 'new');
      expect(await exitOf(wiped)).toBe(1);
      const text = log(wiped);
      expect(text).toMatch(/has already been bootstrapped/);
      expect(text).toContain(`member ${wiped.name} (${id})`);
      expect(text).toContain(wiped.dataDir);
      expect(text).toMatch(/its data was lost/);
      expect(text).not.toMatch(/member started/);
    }

    for (const m of others) await new KvClient([m.clientURL]).put(`after-${m.name}`, 'ok');
    for (const m of others) {
      const { kvs } = await new KvClient([m.clientURL]).get('', { prefix: true });
      expect(kvs.map((kv) => kv.key)).toEqual(
        expect.arrayContaining(['k9', ...others.map((o) => `after-${o.name}`)]),
      );
    }
  } finally {
    await t.dispose();
  }
});

test('a founder that starts late on an empty data dir, having never run, joins and serves', async () => {
  const t = await tempCluster('late-founder', { size: 3, extraArgs: TEST_MEMBER_ARGS }, false);
  try {
    const { cluster } = t;
    const [m1, m2, late] = cluster.members as [LocalMember, LocalMember, LocalMember];
    await Promise.all([cluster.start(m1), cluster.start(m2)]);
    await agreedLeader(() => [m1, m2]);
    const c = new KvClient([m1.clientURL, m2.clientURL]);
    await waitFor('writes', async () => c.put('before-late', 'yes'), 30_000, 100);

    await cluster.start(late, 'new');
    const lc = new KvClient([late.clientURL], 2000);
    const kv = await withLogOf(
      late,
      waitFor(
        'the late founder to serve a linearizable read',
        async () => (await lc.get('before-late')).kvs[0],
      ),
    );
    expect(kv.value).toBe('yes');
    expect(late.proc?.exitCode).toBeNull();
    // It asked (the first case shows the answers count) and no founder knew it as bootstrapped.
    expect(log(late)).toMatch(/no founder knows this member as bootstrapped/);
    await lc.put('from-late', 'ok');
  } finally {
    await t.dispose();
  }
});
