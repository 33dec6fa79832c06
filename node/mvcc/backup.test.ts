// Backup files: a body and its sha256 as `etcdctl snapshot save` stores them. Backups from raftkv
// before etcd snapshots (the snapshot stream padded to 512-byte blocks, its length in the last 8
// bytes of the body) still read back byte for byte once the hash matches, whatever the length.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBackup, withSha256 } from './backup.js';

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

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

/** A backup as raftkv wrote them before: stream, zeros, the stream's length, then the sha256. */
function olderBackup(stream: Buffer): Buffer {
  const tail = Buffer.alloc(((512 - ((stream.length + 8) % 512)) % 512) + 8);
  tail.writeBigUInt64BE(BigInt(stream.length), tail.length - 8);
  const body = Buffer.concat([stream, tail]);
  return Buffer.concat([body, sha256(body)]);
}

test('withSha256 passes the chunks on and ends with their sha256', async () => {
  const data = Buffer.from(Array.from({ length: 4096 * 3 }, (_, i) => (i * 7) & 0xff));
  expect(await collect(withSha256(pieces(data)))).toEqual(Buffer.concat([data, sha256(data)]));
});

test.each([1, 100, 503, 504, 505, 512, 4096])('an older backup of a %i-byte stream reads back', async (n) => {
  const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff));
  const file = join(dir, `b${n}`);
  writeFileSync(file, olderBackup(data));
  expect((await collect(await readBackup(file))).equals(data)).toBe(true);
});

test('an older backup whose body is damaged is refused, naming the file and the offset of the hash', async () => {
  const backup = olderBackup(Buffer.alloc(1000, 1));
  backup.writeUInt8(backup.readUInt8(10) ^ 1, 10);
  const file = join(dir, 'damaged');
  writeFileSync(file, backup);
  await expect(readBackup(file)).rejects.toThrow(
    `backup ${file}: the sha256 at offset ${backup.length - 32} does not match the data before it`,
  );
});
