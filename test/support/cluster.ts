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
      // A member that failed on its own is worth seeing: show the end of its log.
      for (const m of cluster.members) {
        const code = m.proc?.exitCode ?? m.proc?.signalCode;
        if (code) console.error(`${m.name} exited on its own (${code}):\n${logTail(m)}`);
      }
      await cluster.stopAll('SIGKILL');
      cluster.releasePorts();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The member's exit code, once its process has exited (an exit the test expects: the member
 * then counts as stopped). */
export async function exitOf(m: LocalMember): Promise<number | null> {
  const proc = m.proc!;
  const code = proc.exitCode ?? (await new Promise<number | null>((ok) => proc.once('exit', (c) => ok(c))));
  m.proc = undefined;
  return code;
}

/** The end of a member's log, for a failure message. */
export function logTail(m: LocalMember, chars = 3000): string {
  return m.log.join('').slice(-chars);
}

/** `p`, with the end of the member's log added to its error if it fails. */
export function withLogOf<T>(m: LocalMember, p: Promise<T>): Promise<T> {
  return p.catch((e: unknown) => {
    throw new Error(`${String(e)}\n${m.name}'s log:\n${logTail(m)}`);
  });
}
