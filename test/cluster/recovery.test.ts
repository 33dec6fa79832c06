// Damage on a real member's disk: a torn tail is repaired and the data served; a flipped byte
// in the middle of the log stops the member with the file and offset.
import { jest } from '@jest/globals';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvClient } from '../../node/client/client.js';
import { dataEnd } from '../../node/storage/scan.js';
import type { LocalCluster, LocalMember } from '../../node/tools/local-cluster.js';
import { exitOf, tempCluster, type TempCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(60_000);

let t: TempCluster;
let cluster: LocalCluster;
let m: LocalMember;
beforeEach(async () => {
  t = await tempCluster(
    'recovery',
    { size: 1, extraArgs: ['--heartbeat-interval=50', '--election-timeout=500'] },
    false,
  );
  cluster = t.cluster;
  m = cluster.members[0]!;
  await cluster.start(m);
  const c = new KvClient([m.clientURL]);
  await waitFor('the member to serve writes', async () => c.put('ready', 'yes'));
  for (let i = 0; i < 20; i++) await c.put(`k${i}`, `v${i}`);
  await cluster.stop(m, 'SIGTERM');
});
afterEach(() => t.dispose());

function walFiles(): string[] {
  const dir = join(m.dataDir, 'member', 'wal');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort()
    .map((f) => join(dir, f));
}

test('a record torn at the tail is cut off with a warning and every acknowledged write is served', async () => {
  const last = walFiles().at(-1)!;
  const buf = readFileSync(last);
  // Half a record where the data ends, in the segment's preallocated zeros.
  Buffer.from([9, 0, 0, 0, 1, 2]).copy(buf, dataEnd(buf));
  writeFileSync(last, buf);
  await cluster.start(m);
  const c = new KvClient([m.clientURL]);
  const { kvs } = await waitFor('the member to serve reads', async () => c.get('k', { prefix: true }));
  expect(kvs).toHaveLength(20);
  expect(m.log.join('')).toMatch(/WAL tail torn by a crash mid-write; truncating/);
});

test('a flipped byte in the middle of the log stops the member with the file and offset', async () => {
  const victim = walFiles().find((f) => dataEnd(readFileSync(f)) > 200)!;
  const buf = readFileSync(victim);
  buf[Math.floor(dataEnd(buf) / 2)]! ^= 0xff;
  writeFileSync(victim, buf);
  await cluster.start(m);
  expect(await exitOf(m)).toBe(1);
  const log = m.log.join('');
  expect(log).toContain(victim);
  // A flipped byte may land in a checksum, a payload or a length field: each is named damage.
  expect(log).toMatch(/WAL corrupt: .* at offset \d+: /);
});
