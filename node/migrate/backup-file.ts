// A backup file of either kind, as a snapshot's parts: raftkv's own (backup.ts) or etcd's
// (etcd-snapshot.ts), told apart by etcd's bbolt magic, so `raftkvctl snapshot restore` takes
// what `etcdctl snapshot save` wrote against either system.
import { readBackup } from '../mvcc/backup.js';
import { snapshotParts, type Parts } from '../mvcc/snapshot.js';
import { isBoltFile } from './bbolt.js';
import { etcdSnapshotParts, type EtcdRestoreOptions } from './etcd-snapshot.js';

export async function backupParts(file: string, opts: EtcdRestoreOptions = {}): Promise<Parts> {
  return (await isBoltFile(file)) ? etcdSnapshotParts(file, opts) : snapshotParts(await readBackup(file));
}
