// File-system helpers shared by the WAL and the snapshot file.
import { mkdir, open, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Makes a directory's entries (created, renamed, deleted files) durable. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Creates `dir` if needed; a new directory is made durable in its parent. */
export async function ensureDir(dir: string): Promise<void> {
  if ((await mkdir(dir, { recursive: true })) !== undefined) await syncDir(dirname(dir));
}

// Segments are named by their sequence number, 16 zero-padded decimal digits (enough for 2^53-1),
// so that names sort in log order: 0000000000000001.wal, 0000000000000002.wal, ...
const SEGMENT_RE = /^(\d{16})\.wal$/;

export function segmentPath(dir: string, seq: number): string {
  return join(dir, `${String(seq).padStart(16, '0')}.wal`);
}

/** The directory's segments in order, by sequence number. */
export async function listSegments(dir: string): Promise<Array<{ seq: number; path: string }>> {
  return (await readdir(dir))
    .filter((n) => SEGMENT_RE.test(n))
    .sort()
    .map((n) => ({ seq: Number(SEGMENT_RE.exec(n)![1]), path: join(dir, n) }));
}
