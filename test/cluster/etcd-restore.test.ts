// Moving from etcd to raftkv on real processes: a real etcd (Debian's etcd-server) is written to
// (puts, deletes, multi-op txns, a value larger than a page, leases, a revoked lease, a
// compaction) and given users and roles by etcdctl, `etcdctl snapshot save` takes its snapshot,
// `raftkvctl snapshot restore` turns it into three raftkv data dirs, and the raftkv cluster started
// from them answers every read at every kept revision as etcd does, holds the leases and users
// (etcd's bcrypt passwords work) and goes on writing. Damaged files are refused naming the file and
// offset.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiError } from '../../node/client/client.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { client, savedHistory } from '../support/history.js';
import { agreedLeader } from '../support/leader.js';

jest.setTimeout(120_000);

const CTL = join(process.cwd(), 'dist/node/cli/raftkvctl.js');
const raftkvctl = (...args: string[]) => spawnSync(process.execPath, [CTL, ...args]);

let etcd: TempCluster;
let snapshot: string;
/** etcd's newest revision and compaction point when the snapshot was taken. */
let revision: number;
let compacted: number;
let liveLease: string;

beforeAll(async () => {
  etcd = await tempCluster('etcd-restore-src', {
    size: 1,
    command: ['etcd'],
    extraArgs: ['--heartbeat-interval=50', '--election-timeout=500'],
  });
  await agreedLeader(() => etcd.cluster.members);
  snapshot = join(etcd.root, 'etcd.db');
  ({ compacted, liveLease, revision } = await savedHistory(
    etcd.cluster.members,
    etcd.cluster.members[0]!,
    snapshot,
  ));
});
afterAll(() => etcd.dispose());

test("a raftkv cluster restored from etcd's snapshot answers every kept revision as etcd does, and goes on", async () => {
  const dst = await tempCluster('etcd-restore-dst', { size: 3, extraArgs: TEST_MEMBER_ARGS }, false);
  try {
    let printed = '';
    for (const m of dst.cluster.members) {
      const r = raftkvctl('snapshot', 'restore', snapshot, `--data-dir=${m.dataDir}`);
      expect(r.stderr.toString()).toBe('');
      printed = r.stdout.toString();
      expect(printed).toContain(
        `restored ${snapshot} into ${m.dataDir}: revision ${revision}, compacted ${compacted}\n`,
      );
    }
    // etcd's lease IDs take all 64 bits; the restore says which ID each live lease has now.
    const renamed = /^lease ([0-9a-f]+) is lease ([0-9a-f]+) now/m.exec(printed);
    const hex = BigInt(liveLease).toString(16);
    const newLease = renamed?.[1] === hex ? BigInt(`0x${renamed[2]}`).toString() : liveLease;
    await dst.cluster.startAll();
    await agreedLeader(() => dst.cluster.members);
    const e = await client(etcd.cluster.members);
    const r = await client(dst.cluster.members);

    // Every kept revision reads the same, lease IDs aside, which map one to one.
    const leaseMap = new Map<string, string>([[liveLease, newLease]]);
    for (let rev = compacted; rev <= revision; rev++) {
      const [want, got] = await Promise.all([
        e.get('\0', { prefix: true, revision: rev }),
        r.get('\0', { prefix: true, revision: rev }),
      ]);
      expect(got.kvs.map((kv) => ({ ...kv, lease: '' }))).toEqual(
        want.kvs.map((kv) => ({ ...kv, lease: '' })),
      );
      want.kvs.forEach((kv, i) => {
        const mine = got.kvs[i]!.lease;
        expect(kv.lease === '0').toBe(mine === '0');
        expect(leaseMap.get(kv.lease) ?? mine).toBe(mine);
        leaseMap.set(kv.lease, mine);
      });
    }
    expect(new Set(leaseMap.values()).size).toBe(leaseMap.size);
    const below = await r.get('m/k0', { revision: compacted - 1 }).catch((err: ApiError) => err.message);
    expect(below).toBe(
      await e.get('m/k0', { revision: compacted - 1 }).catch((err: ApiError) => err.message),
    );

    // The live lease, with its TTL and keys; the revoked one is gone.
    expect(await r.leases()).toEqual([newLease]);
    const [eLease, rLease] = await Promise.all([
      e.leaseTimeToLive(liveLease, true),
      r.leaseTimeToLive(newLease, true),
    ]);
    expect([rLease.grantedTtl, rLease.keys.sort()]).toEqual([eLease.grantedTtl, eLease.keys.sort()]);

    // Users and roles, with the passwords etcd hashed.
    const alice = await client(dst.cluster.members, 'alice', 'alicepw');
    expect(await alice.put('m/by-alice', 'yes')).toBe(revision + 1);
    await expect(alice.put('elsewhere', 'no')).rejects.toThrow('etcdserver: permission denied');
    await expect(client(dst.cluster.members, 'alice', 'wrong')).rejects.toThrow(
      'etcdserver: authentication failed, invalid user ID or password',
    );

    // Every member holds the same history, whose hash `snapshot status` foretold.
    const status = JSON.parse(raftkvctl('snapshot', 'status', snapshot, '-w', 'json').stdout.toString());
    expect(status.revision).toBe(revision);
    const hashes = await Promise.all(
      dst.cluster.members.map(async (m) => {
        const one = await client([m]);
        await one.get('m/by-alice'); // linearizable: this member has applied the put
        return Number((await one.call('/v3/maintenance/hashkv', { revision: String(revision) })).hash);
      }),
    );
    expect(hashes).toEqual([status.hash, status.hash, status.hash]);
  } finally {
    await dst.dispose();
  }
});

test('a damaged snapshot is refused naming the file and offset, and leaves no store behind', () => {
  const damaged = join(etcd.root, 'damaged.db');
  const dir = join(etcd.root, 'restore-damaged');
  const bytes = readFileSync(snapshot);
  const body = bytes.length - 32;
  bytes.writeUInt8(bytes.readUInt8(body >> 1) ^ 0x01, body >> 1);
  writeFileSync(damaged, bytes);
  const r = raftkvctl('snapshot', 'restore', damaged, `--data-dir=${dir}`);
  expect(r.stderr.toString()).toBe(
    `raftkvctl: ${damaged}: the sha256 at offset ${body} does not match the data before it\n`,
  );
  expect(existsSync(join(dir, 'member', 'db'))).toBe(false);

  // Without its sha256 (a db file copied from a data dir) only --skip-hash-check takes it; a tree
  // page that says it is another page is then caught where it is.
  copyFileSync(snapshot, damaged);
  truncateSync(damaged, body);
  expect(raftkvctl('snapshot', 'status', damaged).stderr.toString()).toContain(
    'restores with --skip-hash-check',
  );
  const pageSize = bytes.readUInt32LE(24);
  // The newer meta page (higher transaction id) names the root bucket's page.
  const meta = bytes.readBigUInt64LE(64) > bytes.readBigUInt64LE(pageSize + 64) ? 0 : pageSize;
  const rootPage = Number(bytes.readBigUInt64LE(meta + 32));
  const page = readFileSync(damaged);
  page.writeBigUInt64LE(7777n, rootPage * pageSize);
  writeFileSync(damaged, page);
  const bad = raftkvctl('snapshot', 'restore', damaged, `--data-dir=${dir}`, '--skip-hash-check');
  expect(bad.stderr.toString()).toBe(
    `raftkvctl: ${damaged}: offset ${rootPage * pageSize}: page ${rootPage} is labelled 7777\n`,
  );
  expect(existsSync(join(dir, 'member', 'db'))).toBe(false);
});

test("a stopped etcd member's own db file restores with --skip-hash-check to the same state", async () => {
  await etcd.cluster.stopAll('SIGTERM');
  const db = join(etcd.cluster.members[0]!.dataDir, 'member', 'snap', 'db');
  const fromDb = raftkvctl('snapshot', 'status', db, '--skip-hash-check', '-w', 'json');
  expect(fromDb.stderr.toString()).toBe('');
  const fromSnapshot = raftkvctl('snapshot', 'status', snapshot, '-w', 'json');
  const pick = (s: string) => {
    const { hash, revision: rev, totalKey } = JSON.parse(s);
    return { hash, rev, totalKey };
  };
  expect(pick(fromDb.stdout.toString())).toEqual(pick(fromSnapshot.stdout.toString()));
});
