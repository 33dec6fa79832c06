// A member of a new cluster killed before its backend's first commit: its writes are in the WAL
// alone, and a restart must replay them instead of finding the WAL's starting snapshot ahead of
// the backend and calling the data directory damaged (as it did before the starting point was
// made durable in the backend too).
import { jest } from '@jest/globals';
import { KvClient } from '../../node/client/client.js';
import { tempCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(60_000);

test('a new member SIGKILLed before its first backend commit restarts with its acknowledged writes', async () => {
  const t = await tempCluster('early-crash', {
    size: 1,
    // No backend commit on a timer within the test: only the WAL holds the writes at the kill.
    extraArgs: ['--heartbeat-interval=50', '--election-timeout=500', '--backend-batch-interval=100s'],
  });
  try {
    const m = t.cluster.members[0]!;
    const c = new KvClient([m.clientURL], 3000);
    await waitFor('the member to serve writes', async () => c.put('first', 'yes'));
    await c.put('second', 'yes');
    await t.cluster.stop(m, 'SIGKILL');
    await t.cluster.start(m);
    const { kvs } = await waitFor('the restarted member to serve reads', async () =>
      c.get('', { prefix: true }),
    );
    expect(kvs.map((kv) => [kv.key, kv.value])).toEqual([
      ['first', 'yes'],
      ['second', 'yes'],
    ]);
  } finally {
    await t.dispose();
  }
});
