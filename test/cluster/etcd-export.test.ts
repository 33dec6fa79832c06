// Going back from raftkv to etcd on real processes: a raftkv cluster is written to (puts, deletes,
// multi-op txns, a value larger than a page, leases, a revoked lease, a compaction) and given
// users and roles by etcdctl, and `etcdctl snapshot save` (Debian's 3.4) takes its backup. Go's
// `bbolt check` finds the file sound, `etcdctl snapshot status` (3.4 and 3.5) reads it, `etcdctl
// snapshot restore` makes an etcd data dir of it, and the etcd started there answers every read at
// every kept revision as raftkv does, holds the lease and its keys, lets the users in with their
// passwords (bcrypt, as etcd hashes them) and goes on writing.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, KvClient } from '../../node/client/client.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { client, savedHistory, type SavedHistory } from '../support/history.js';
import { agreedLeader } from '../support/leader.js';

jest.setTimeout(120_000);

/** A command's output; throws with its error output unless it exits 0. */
function run(command: string, ...args: string[]): string {
  const r = spawnSync(command, args, { env: { ...process.env, ETCDCTL_API: '3' } });
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(' ')}: ${r.stderr.toString()}${r.stdout.toString()}`);
  return r.stdout.toString();
}

let src: TempCluster;
let backup: string;
/** What raftkv held when the backup was taken. */
let written: SavedHistory;

beforeAll(async () => {
  src = await tempCluster('etcd-export-src', { size: 3, extraArgs: TEST_MEMBER_ARGS });
  await agreedLeader(() => src.cluster.members);
  backup = join(src.root, 'raftkv.db');
  written = await savedHistory(src.cluster.members, src.cluster.members[1]!, backup);
});
afterAll(() => src.dispose());

test("Go's bbolt finds the backup sound and etcdctl 3.4's and 3.5's snapshot status read it", () => {
  const bbolt = run('test/support/bbolt.sh').trim();
  expect(run(bbolt, 'check', backup).trim()).toBe('OK');
  const status = JSON.parse(run('etcdctl', 'snapshot', 'status', backup, '-w', 'json'));
  expect(status.revision).toBe(written.revision);
  expect(status.totalSize).toBe(statSync(backup).size - 32); // the sha256 is not the database's
  expect(status.totalKey).toBeGreaterThan(written.revision - written.compacted);
  const etcdctl35 = run('test/support/etcdctl/build.sh').trim();
  expect(JSON.parse(run(etcdctl35, 'snapshot', 'status', backup, '-w', 'json'))).toEqual(status);
});

test('an etcd restored from the backup answers every kept revision as raftkv does, and goes on', async () => {
  const dst = await tempCluster(
    'etcd-export-dst',
    { size: 1, command: ['etcd'], extraArgs: ['--heartbeat-interval=50', '--election-timeout=500'] },
    false,
  );
  try {
    const m = dst.cluster.members[0]!;
    const restored = run(
      'etcdctl',
      'snapshot',
      'restore',
      backup,
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--initial-cluster=${m.name}=${m.peerURL}`,
      `--initial-advertise-peer-urls=${m.peerURL}`,
    );
    expect(restored).toBe('');
    await dst.cluster.startAll();
    await agreedLeader(() => dst.cluster.members);
    const r = await client(src.cluster.members);
    const e = await client(dst.cluster.members);

    for (let rev = written.compacted; rev <= written.revision; rev++) {
      const [want, got] = await Promise.all([
        r.get('\0', { prefix: true, revision: rev }),
        e.get('\0', { prefix: true, revision: rev }),
      ]);
      expect({ rev, kvs: got.kvs }).toEqual({ rev, kvs: want.kvs });
    }
    const below = (c: KvClient) =>
      c.get('m/k0', { revision: written.compacted - 1 }).catch((err: ApiError) => err.message);
    expect(await below(e)).toBe(await below(r));
    expect(await below(e)).toContain('required revision has been compacted');

    // The lease that lived, with its ID, TTL and keys; the revoked one is gone.
    expect(await e.leases()).toEqual([written.liveLease]);
    const [rLease, eLease] = await Promise.all([
      r.leaseTimeToLive(written.liveLease, true),
      e.leaseTimeToLive(written.liveLease, true),
    ]);
    expect([eLease.grantedTtl, eLease.keys.sort()]).toEqual([rLease.grantedTtl, rLease.keys.sort()]);
    expect(eLease.keys.length).toBeGreaterThan(0);

    // Users and roles, with the passwords raftkv hashed.
    const alice = await client(dst.cluster.members, 'alice', 'alicepw');
    expect(await alice.put('m/by-alice', 'yes')).toBe(written.revision + 1);
    await expect(alice.put('elsewhere', 'no')).rejects.toThrow('etcdserver: permission denied');
    await expect(client(dst.cluster.members, 'alice', 'wrong')).rejects.toThrow(
      'etcdserver: authentication failed, invalid user ID or password',
    );
  } finally {
    await dst.dispose();
  }
});
