// Segment files: `<seq>-<firstIndex>.wal`, both 16 decimal digits (2^53-1 has 16), so names sort
// in write order. `seq` counts up by one per file — a gap means a file went missing. `firstIndex` is
// one past the last entry written before the file was created (etcd's convention); a later
// overwrite may still write lower indexes into it, so replay treats it as a label, not a fact.
import { mkdir, open, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { WalCorruptionError } from './errors.js';

const NAME_RE = /^(\d{16})-(\d{16})\.wal$/;

export interface SegmentFile {
  seq: number;
  firstIndex: number;
  path: string;
}

export function segmentPath(dir: string, seq: number, firstIndex: number): string {
  const pad = (n: number) => String(n).padStart(16, '0');
  return join(dir, `${pad(seq)}-${pad(firstIndex)}.wal`);
}

/** The segments in `dir`, in sequence order; throws if one is missing or duplicated. */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  const files: SegmentFile[] = [];
  for (const name of await readdir(dir)) {
    const m = NAME_RE.exec(name);
    if (m) files.push({ seq: Number(m[1]), firstIndex: Number(m[2]), path: join(dir, name) });
  }
  files.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1]!;
    const cur = files[i]!;
    if (cur.seq === prev.seq) throw new WalCorruptionError(cur.path, 0, `segment ${cur.seq} exists twice`);
    if (cur.seq !== prev.seq + 1) {
      throw new WalCorruptionError(cur.path, 0, `segment ${prev.seq + 1} is missing before it`);
    }
  }
  return files;
}

/** Makes a file's creation, rename or removal in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Creates `dir` (and missing parents) durably. */
export async function ensureDir(dir: string): Promise<void> {
  const made = await mkdir(dir, { recursive: true });
  if (made === undefined) return;
  // Each new directory's entry lives in its parent: sync every parent up to the first one that existed.
  const top = resolve(made);
  for (let d = resolve(dir); d !== dirname(top); d = dirname(d)) await syncDir(dirname(d));
}
