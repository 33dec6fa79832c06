// Test-only disk fault hooks for a member process, on when RAFTKV_TEST_FAULT_DIR names a folder
// (the fault tests set it; nothing else should). In that folder:
//   fsync-delay-ms  if present, every WAL fdatasync waits this many ms first: a slow disk, and a
//                   window in which written records are not yet durable;
//   synced          rewritten after every fdatasync with "<segment path> <bytes>": how much of the
//                   WAL a power cut would keep, so a test can drop the rest after a SIGKILL.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WalFaults } from './wal.js';

export const TEST_FAULT_DIR_ENV = 'RAFTKV_TEST_FAULT_DIR';

export function testFaultHooks(dir: string | undefined): WalFaults | undefined {
  if (!dir) return undefined;
  return {
    beforeFsync: async () => {
      const ms = Number(await readFile(join(dir, 'fsync-delay-ms'), 'utf8').catch(() => '0'));
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    },
    synced: (path, size) => writeFile(join(dir, 'synced'), `${path} ${size}\n`),
  };
}
