// Replacing the store file with one built from a snapshot or a compacting copy: built beside it
// under a staging name, then renamed over it, so a crash leaves either the old store or the new
// one, never a mix.
import { existsSync, openSync, closeSync, fsyncSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

export function stagingPath(path: string): string {
  return `${path}.restore`;
}

/** Where a defragmenting copy is built. */
export function defragPath(path: string): string {
  return `${path}.defrag`;
}

/** Whether a staged store is waiting to be installed. */
export function hasStaged(path: string): boolean {
  return existsSync(stagingPath(path));
}

/** Removes the staging files left by a restore or a defragmentation that did not finish. */
export function removeStaging(path: string): void {
  for (const f of [...lmdbFiles(stagingPath(path)), ...lmdbFiles(defragPath(path))])
    rmSync(f, { force: true });
}

/** Makes a file's data, or a directory's entries, durable (lmdb's copy does not sync its file). */
export function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Call with the store at `path` closed. */
export function installStaged(path: string, staged = stagingPath(path)): void {
  renameSync(staged, path);
  syncFile(dirname(path)); // make the rename itself durable
  removeStaging(path);
}

/** lmdb's data file and, beside it, its lock file. */
function lmdbFiles(path: string): string[] {
  return [path, `${path}-lock`];
}
