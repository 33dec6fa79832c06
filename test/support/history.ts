// A history for the tests that carry a cluster's state from one system to the other through a
// snapshot (etcd to raftkv, raftkv to etcd): what such a snapshot must keep, written the same way
// to either system through the JSON gateway, and users and roles made with etcdctl 3.4.
import { KvClient } from '../../node/client/client.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { mustEtcdctl } from './etcd-clients.js';

export interface SavedHistory {
  /** The newest revision when the snapshot was taken. */
  revision: number;
  /** The compaction point. */
  compacted: number;
  /** The lease that lives on, holding keys; another was revoked after keys had used it. */
  liveLease: string;
}

/**
 * Puts and deletes over 17 keys, multi-op txns (history rows with sub-revisions), keys on a lease
 * later revoked and on one that lives, a physical compaction partway, then a value larger than a
 * bbolt page.
 */
async function writeHistory(c: KvClient): Promise<Omit<SavedHistory, 'revision'>> {
  const gone = (await c.leaseGrant(600)).id;
  const liveLease = (await c.leaseGrant(600)).id;
  let compacted = 0;
  for (let i = 0; i < 60; i++) {
    const key = `m/k${i % 17}`;
    if (i % 7 === 3) await c.del(key);
    else
      await c.put(key, `v${i}-${'x'.repeat(i * 3)}`, i % 5 === 0 ? { lease: i < 30 ? gone : liveLease } : {});
    if (i % 11 === 0) {
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      await c.call('/v3/kv/txn', {
        success: [
          { request_put: { key: b64(`m/t${i}`), value: b64('a') } },
          { request_put: { key: b64(`m/u${i}`), value: b64('b') } },
          { request_delete_range: { key: b64(`m/k${(i + 1) % 17}`) } },
        ],
      });
    }
    if (i === 40) {
      compacted = (await c.get('m/k0')).revision - 5;
      await c.call('/v3/kv/compaction', { revision: String(compacted), physical: true });
    }
  }
  await c.put('m/big', 'b'.repeat(20_000));
  await c.leaseRevoke(gone); // its keys are deleted; older history rows still name it
  return { compacted, liveLease };
}

/** etcdctl's flags for root, as addUsers makes it. */
export const ROOT = ['--user', 'root:rootpw'];

/** The JSON client on `members`, signed in (as root by default). */
export async function client(members: LocalMember[], user = 'root', password = 'rootpw'): Promise<KvClient> {
  const c = new KvClient(
    members.map((m) => m.clientURL),
    5000,
  );
  await c.authenticate(user, password);
  return c;
}

/**
 * Writes the history and the users through the first of `members`, then `etcdctl snapshot save`
 * from `saveFrom` into `file`.
 */
export async function savedHistory(
  members: LocalMember[],
  saveFrom: LocalMember,
  file: string,
): Promise<SavedHistory> {
  const written = await writeHistory(new KvClient([members[0]!.clientURL], 5000));
  addUsers(members[0]!);
  const revision = (await (await client(members)).get('m/k0')).revision;
  const said = mustEtcdctl(saveFrom, ...ROOT, 'snapshot', 'save', file);
  if (!said.includes('Snapshot saved')) throw new Error(`etcdctl snapshot save: ${said}`);
  return { ...written, revision };
}

/** root (password rootpw), alice (alicepw) with readwrite on m/, and auth turned on. */
function addUsers(m: LocalMember): void {
  for (const args of [
    ['user', 'add', 'root:rootpw'],
    ['role', 'add', 'root'],
    ['user', 'grant-role', 'root', 'root'],
    ['role', 'add', 'writer'],
    ['role', 'grant-permission', 'writer', '--prefix=true', 'readwrite', 'm/'],
    ['user', 'add', 'alice:alicepw'],
    ['user', 'grant-role', 'alice', 'writer'],
    ['auth', 'enable'],
  ]) {
    mustEtcdctl(m, ...args);
  }
}
