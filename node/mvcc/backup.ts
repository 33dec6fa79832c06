// Backups: the snapshot stream laid out as etcd's snapshot files are, which `etcdctl snapshot save`
// checks: a body whose size is a multiple of 512 bytes, then the body's sha256. The body is the
// snapshot stream, zero padding, and the stream's length in the last 8 bytes. A restore checks
// the hash before it reads anything else.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

const HASH_BYTES = 32;
const PAGE = 512;
const LENGTH_BYTES = 8;

/** The snapshot stream as a backup: the chunks as they come, the padding and length, the sha256. */
export async function* backupStream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let length = 0;
  for await (const c of chunks) {
    hash.update(c);
    length += c.byteLength;
    yield c;
  }
  const padding = (PAGE - ((length + LENGTH_BYTES) % PAGE)) % PAGE;
  const tail = Buffer.alloc(padding + LENGTH_BYTES);
  tail.writeBigUInt64BE(BigInt(length), tail.length - LENGTH_BYTES);
  yield tail;
  yield hash.update(tail).digest();
}

/**
 * The snapshot stream stored in the backup file at `path`, once its sha256 matches. A damaged or
 * cut-short file is refused with an error that names it.
 */
export async function readBackup(path: string): Promise<AsyncIterable<Uint8Array>> {
  const f = await open(path);
  const stored = Buffer.alloc(HASH_BYTES + LENGTH_BYTES);
  let size: number;
  try {
    size = (await f.stat()).size;
    if (size < PAGE + HASH_BYTES || (size - HASH_BYTES) % PAGE !== 0) {
      throw new Error(`backup ${path}: ${size} bytes, not the size of a snapshot file`);
    }
    await f.read(stored, 0, stored.length, size - stored.length);
  } finally {
    await f.close();
  }
  const body = size - HASH_BYTES;
  const hash = createHash('sha256');
  for await (const c of createReadStream(path, { end: body - 1 })) hash.update(c as Buffer);
  if (!hash.digest().equals(stored.subarray(LENGTH_BYTES))) {
    throw new Error(`backup ${path}: the sha256 at offset ${body} does not match the data before it`);
  }
  const length = Number(stored.readBigUInt64BE(0));
  if (length === 0 || length > body - LENGTH_BYTES) {
    throw new Error(`backup ${path}: a stream length of ${length} bytes in a body of ${body}`);
  }
  return createReadStream(path, { end: length - 1 }) as AsyncIterable<Uint8Array>;
}
