// The backup layout: etcdctl's check (size % 512 == 32) holds for every stream length, and the
// stream comes back byte for byte once the hash matches.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupStream, readBackup } from './backup.js';

const dir = mkdtempSync(join(tmpdir(), 'raftkv-backup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of chunks) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

async function* pieces(data: Buffer): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += 100) yield data.subarray(at, at + 100);
}

test.each([1, 100, 503, 504, 505, 512, 4096])('a %i-byte stream', async (n) => {
  const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff));
  const file = join(dir, `b${n}`);
  const backup = await collect(backupStream(pieces(data)));
  expect(backup.length % 512).toBe(32);
  writeFileSync(file, backup);
  expect((await collect(await readBackup(file))).equals(data)).toBe(true);
});
