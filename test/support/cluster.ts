// Real member processes for a test: a LocalCluster in a fresh temporary folder, and the wait for
// a member's process to exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type LocalClusterOptions, type LocalMember } from '../../node/tools/local-cluster.js';

/** Fast timers for tests (election timeout 500 ms) and snapshots every 50 entries. */
export const TEST_MEMBER_ARGS = [
  '--heartbeat-interval=50',
  '--election-timeout=500',
  '--snapshot-count=50',
  '--snapshot-catchup-entries=10',
];

export interface TempCluster {
  cluster: LocalCluster;
  root: string;
  /** Kills every member and removes the folder. */
  dispose(): Promise<void>;
}

/** Plans a cluster under a new folder `raftkv-<name>-*` and, unless `start` is false, starts it. */
export async function tempCluster(
  name: string,
  options: Omit<LocalClusterOptions, 'dataRoot'>,
  start = true,
): Promise<TempCluster> {
  const root = mkdtempSync(join(tmpdir(), `raftkv-${name}-`));
  const cluster = new LocalCluster({ ...options, dataRoot: root });
  await cluster.plan();
  if (start) await cluster.startAll();
  return {
    cluster,
    root,
    dispose: async () => {
      await cluster.stopAll('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The member's exit code, once its process has exited. */
export function exitOf(m: LocalMember): Promise<number | null> {
  const proc = m.proc!;
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((ok) => proc.once('exit', (code) => ok(code)));
}
