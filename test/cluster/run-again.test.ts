// A second `make run` on the data of the first: the cluster is planned again on the same data
// root and ports, so its members must have the same IDs and come back with their data (a new ID
// would make each member find itself removed from its own cluster and exit).
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvClient } from '../../node/client/client.js';
import { canListen, freePort, LocalCluster } from '../../node/tools/local-cluster.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(60_000);

/** A base port whose peer port (base + 1) is free too: member 1's two ports. */
async function basePort(): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (await canListen(base + 1)) return base;
  }
}

test('a cluster planned again on its data root keeps its member IDs and its data', async () => {
  const root = mkdtempSync(join(tmpdir(), 'raftkv-run-again-'));
  const options = {
    size: 1,
    dataRoot: root,
    basePort: await basePort(),
    extraArgs: ['--heartbeat-interval=50', '--election-timeout=500'],
  };
  let cluster = new LocalCluster(options);
  try {
    await cluster.plan();
    await cluster.startAll();
    const c = new KvClient([cluster.members[0]!.clientURL], 3000);
    await waitFor('the first run to serve writes', async () => c.put('kept', 'yes'));
    const id = (await c.status()).memberId;
    await cluster.stopAll('SIGTERM');

    cluster = new LocalCluster(options);
    await cluster.plan();
    await cluster.startAll();
    const again = await waitFor('the second run to serve reads', async () => c.get('kept'));
    expect(again.kvs.map((kv) => kv.value)).toEqual(['yes']);
    expect((await c.status()).memberId).toBe(id);
    expect(cluster.members[0]!.proc?.exitCode).toBeNull();
  } finally {
    await cluster.stopAll('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});
