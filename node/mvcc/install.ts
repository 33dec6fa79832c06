// Replacing the store file with one built from a snapshot: built beside it under a staging name,
// then renamed over it, so a crash leaves either the old store or the new one, never a mix.
import { existsSync, openSync, closeSync, fsyncSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

export function stagingPath(path: string): string {
  return `${path}.restore`;
}

/** Whether a staged store is waiting to be installed. */
export function hasStaged(path: string): boolean {
  return existsSync(stagingPath(path));
}

/** Removes a staging file left by a restore that did not finish. */
export function removeStaging(path: string): void {
  for (const f of lmdbFiles(stagingPath(path))) rmSync(f, { force: true });
}

/** Call with the store at `path` closed. */
export function installStaged(path: string): void {
  const staged = stagingPath(path);
  renameSync(staged, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir); // make the rename itself durable
  } finally {
    closeSync(dir);
  }
  removeStaging(path);
}

/** lmdb's data file and, beside it, its lock file. */
function lmdbFiles(path: string): string[] {
  return [path, `${path}-lock`];
}
