// A backup file of either kind, as a snapshot's parts: an etcd snapshot (etcd-snapshot.ts), which
// is what `etcdctl snapshot save` writes against etcd or raftkv, or a backup from raftkv before it
// sent etcd snapshots (backup.ts), told apart by etcd's bbolt magic.
import { readBackup } from '../mvcc/backup.js';
import { snapshotParts, type Parts } from '../mvcc/snapshot.js';
import { isBoltFile } from './bbolt.js';
import { etcdSnapshotParts, type EtcdRestoreOptions } from './etcd-snapshot.js';

export async function backupParts(file: string, opts: EtcdRestoreOptions = {}): Promise<Parts> {
  return (await isBoltFile(file)) ? etcdSnapshotParts(file, opts) : snapshotParts(await readBackup(file));
}
