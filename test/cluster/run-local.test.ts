// `make run` (node/tools/run-local.ts) stopped with Ctrl-C: the terminal signals the whole
// foreground process group, which must reach only run-local. It then stops the members in turn,
// so a leader hands over to a member still running and the last one stops at once, where all
// three used to stop together and the leader waited out a transfer to a member already gone.
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvClient } from '../../node/client/client.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(60_000);

const RUN_LOCAL = resolve(fileURLToPath(import.meta.url), '../../../dist/node/tools/run-local.js');

test('Ctrl-C stops the members of make run one by one, each leader handing over to a running member', async () => {
  const data = await mkdtemp(join(tmpdir(), 'run-local-'));
  // A process group of its own, as a terminal's foreground job has; free ports instead of 2379.
  const proc = spawn(process.execPath, [RUN_LOCAL], {
    env: { ...process.env, RAFTKV_DATA: data, RAFTKV_BASE_PORT: '0' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
  try {
    const endpoints = await waitFor('the endpoints to be printed', async () =>
      /client endpoints: (\S+)/.exec(output)?.[1]?.split(','),
    );
    expect(endpoints).toHaveLength(3);
    await agreedLeader(() => endpoints.map((clientURL) => ({ clientURL })));
    await KvClient.using(endpoints, 3000, undefined, (c) => c.put('before-ctrl-c', 'yes'));

    process.kill(-proc.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('raftkv: all members stopped');
    expect(output).not.toContain('leadership transfer before stopping failed');
    // Whoever leads at the end has nobody left to hand over to and says so.
    expect(output).toContain('no reachable voter to hand leadership to; stopping');
    for (const url of endpoints) await expect(fetch(new URL('/health', url))).rejects.toThrow();
  } finally {
    if (proc.exitCode === null) process.kill(-proc.pid!, 'SIGKILL');
    await rm(data, { recursive: true, force: true });
  }
});
