// Backups: what `etcdctl snapshot save` stores, a body and its sha256. A member sends an etcd
// snapshot (a bbolt file, migrate/etcd-export.ts). Backups from raftkv before that hold raftkv's
// snapshot stream laid out as etcd's files are: the stream, zero padding to a multiple of 512 bytes
// with the stream's length in the last 8, then the sha256; those are still read. A restore checks
// the hash before it reads anything else.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';

const HASH_BYTES = 32;
const PAGE = 512;
const LENGTH_BYTES = 8;

/** The chunks as they come, then their sha256: `etcdctl snapshot save`'s file, as etcd sends it. */
export async function* withSha256(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  for await (const c of chunks) {
    hash.update(c);
    yield c;
  }
  yield hash.digest();
}

/**
 * The snapshot stream stored in the backup file at `path`, once its sha256 matches. A damaged or
 * cut-short file is refused with an error that names it.
 */
export async function readBackup(path: string): Promise<AsyncIterable<Uint8Array>> {
  const { size } = await stat(path);
  if (size < PAGE + HASH_BYTES || !hasTrailingSha256(size)) {
    throw new Error(`backup ${path}: ${size} bytes, not the size of a snapshot file`);
  }
  const body = await checkTrailingSha256(path, size, `backup ${path}`);
  const length = Number((await readAt(path, body - LENGTH_BYTES, LENGTH_BYTES)).readBigUInt64BE(0));
  if (length === 0 || length > body - LENGTH_BYTES) {
    throw new Error(`backup ${path}: a stream length of ${length} bytes in a body of ${body}`);
  }
  return createReadStream(path, { end: length - 1 }) as AsyncIterable<Uint8Array>;
}

/** Whether a file of `size` bytes is laid out as etcdctl snapshot save leaves one: pages, then a sha256. */
export function hasTrailingSha256(size: number): boolean {
  return size % PAGE === HASH_BYTES;
}

/**
 * Checks that the last 32 bytes of the `size`-byte file at `path` are the sha256 of the bytes
 * before them, as `etcdctl snapshot save` leaves a file (of raftkv's or of etcd's); returns where
 * the hashed body ends. `name` starts the error.
 */
export async function checkTrailingSha256(path: string, size: number, name: string): Promise<number> {
  const body = size - HASH_BYTES;
  const hash = createHash('sha256');
  for await (const c of createReadStream(path, { end: body - 1 })) hash.update(c as Buffer);
  if (!hash.digest().equals(await readAt(path, body, HASH_BYTES))) {
    throw new Error(`${name}: the sha256 at offset ${body} does not match the data before it`);
  }
  return body;
}

async function readAt(path: string, offset: number, bytes: number): Promise<Buffer> {
  const f = await open(path);
  try {
    const buf = Buffer.alloc(bytes);
    await f.read(buf, 0, bytes, offset);
    return buf;
  } finally {
    await f.close();
  }
}
