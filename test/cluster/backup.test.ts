// Backup and restore on real processes: `etcdctl snapshot save` from a live member, `raftkvctl
// snapshot status` on the file, `raftkvctl snapshot restore` into new data dirs, and a new cluster
// started from them that holds the same keys, revisions, history and leases and goes on writing;
// a damaged backup is refused by both.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvClient } from '../../node/client/client.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { mustEtcdctl } from '../support/etcd-clients.js';
import { agreedLeader } from '../support/leader.js';

jest.setTimeout(120_000);

const CTL = join(process.cwd(), 'dist/node/cli/raftkvctl.js');
const restore = (file: string, dataDir: string) =>
  spawnSync(process.execPath, [CTL, 'snapshot', 'restore', file, `--data-dir=${dataDir}`]);
const status = (file: string, ...flags: string[]) =>
  spawnSync(process.execPath, [CTL, 'snapshot', 'status', file, ...flags]);
const clientOf = (members: LocalMember[]) =>
  new KvClient(
    members.map((m) => m.clientURL),
    5000,
  );

let src: TempCluster;
let backup: string;
/** What the source held when the backup was taken. */
let before: { revision: number; modRevisions: Map<string, number>; lease: string; deletedAt: number };

beforeAll(async () => {
  src = await tempCluster('backup-src', { size: 3, extraArgs: TEST_MEMBER_ARGS });
  await agreedLeader(() => src.cluster.members);
  const c = clientOf(src.cluster.members);
  for (let i = 0; i < 120; i++) await c.put(`b/k${i % 30}`, `v${i}`); // past --snapshot-count
  const lease = (await c.leaseGrant(600)).id;
  await c.put('b/leased', 'x', { lease });
  const deletedAt = (await c.get('b/k0')).revision;
  await c.del('b/k0');
  const { kvs, revision } = await c.get('b/', { prefix: true });
  before = { revision, modRevisions: new Map(kvs.map((kv) => [kv.key, kv.modRevision])), lease, deletedAt };

  backup = join(src.root, 'backup.db');
  expect(mustEtcdctl(src.cluster.members[1]!, 'snapshot', 'save', backup)).toContain(
    `Snapshot saved at ${backup}`,
  );
});
afterAll(() => src.dispose());

test('a new cluster restored from the backup has the keys, revisions, history and leases, and goes on', async () => {
  const dst = await tempCluster('backup-dst', { size: 3, extraArgs: TEST_MEMBER_ARGS }, false);
  try {
    for (const m of dst.cluster.members) {
      const r = restore(backup, m.dataDir);
      expect(r.stderr.toString()).toBe('');
      expect(r.stdout.toString()).toBe(
        `restored ${backup} into ${m.dataDir}: revision ${before.revision}, compacted 0\n`,
      );
    }
    await dst.cluster.startAll();
    await agreedLeader(() => dst.cluster.members);
    const c = clientOf(dst.cluster.members);
    const { kvs, revision } = await c.get('b/', { prefix: true });
    expect(revision).toBe(before.revision);
    expect(new Map(kvs.map((kv) => [kv.key, kv.modRevision]))).toEqual(before.modRevisions);
    expect((await c.get('b/k0', { revision: before.deletedAt })).kvs[0]?.value).toBe('v90'); // history
    const lease = await c.leaseTimeToLive(before.lease, true);
    expect([lease.grantedTtl, lease.keys]).toEqual([600, ['b/leased']]);
    expect(await c.put('b/after', 'y')).toBe(before.revision + 1);
    // Every member restored the same state, so their histories hash alike.
    const hashes = await Promise.all(
      dst.cluster.members.map(async (m) => {
        const kv = clientOf([m]);
        await kv.get('b/after'); // linearizable: this member has applied the put
        return (await kv.call('/v3/maintenance/hashkv', { revision: String(before.revision + 1) })).hash;
      }),
    );
    expect(new Set(hashes).size).toBe(1);
  } finally {
    await dst.dispose();
  }
});

test("snapshot status shows the backup's revision, keys and size, and the members' HashKV at that revision", async () => {
  const json = status(backup, '-w', 'json');
  expect(json.stderr.toString()).toBe('');
  const live = await clientOf(src.cluster.members).call('/v3/maintenance/hashkv', {
    revision: String(before.revision),
  });
  const size = statSync(backup).size;
  // One history row per revision after the first (every write here touched one key), and the lease.
  const totalKey = before.revision - 1 + 1;
  expect(JSON.parse(json.stdout.toString())).toEqual({
    hash: Number(live.hash),
    revision: before.revision,
    totalKey,
    totalSize: size,
  });
  const hex = Number(live.hash).toString(16);
  expect(status(backup).stdout.toString().split('\n')[2]).toMatch(
    new RegExp(`^\\| ${hex} +\\| ${before.revision} +\\| ${totalKey} +\\| \\d+(\\.\\d)? kB +\\|$`),
  );
});

test('a damaged or cut-short backup is refused with the file named, and leaves no store behind', () => {
  const damaged = join(src.root, 'damaged.db');
  copyFileSync(backup, damaged);
  const bytes = readFileSync(damaged);
  const at = bytes.length >> 1;
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
  writeFileSync(damaged, bytes);
  const dir = join(src.root, 'restore-damaged');
  const r = restore(damaged, dir);
  expect(r.status).toBe(1);
  expect(r.stderr.toString()).toBe(
    `raftkvctl: ${damaged}: the sha256 at offset ${bytes.length - 32} does not match the data before it\n`,
  );
  expect(existsSync(join(dir, 'member', 'db'))).toBe(false);
  expect(status(damaged).stderr.toString()).toBe(r.stderr.toString());

  truncateSync(damaged, 10);
  const short = restore(damaged, dir);
  expect(short.stderr.toString()).toBe(
    `raftkvctl: backup ${damaged}: 10 bytes, not the size of a snapshot file\n`,
  );
});

test('restoring into a data dir that already has a store is refused', () => {
  const dir = join(src.root, 'restore-twice');
  expect(restore(backup, dir).status).toBe(0);
  const again = restore(backup, dir);
  expect(again.status).toBe(1);
  expect(again.stderr.toString()).toBe(
    `raftkvctl: ${join(dir, 'member', 'db')} exists: restore into a new data directory\n`,
  );
});
