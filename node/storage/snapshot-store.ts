// Snapshot files, one per snapshot: `<dir>/snap-<term>-<index>.snap` (16-digit decimal numbers).
//
//   [u32 LE crc32 of the rest][u32 LE meta length][meta as UTF-8 JSON][data]
//
// Written to a .tmp file, fsynced, renamed into place and the directory fsynced, so a crash
// leaves either the whole snapshot or none (plus a .tmp that open() removes).
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Snapshot, SnapshotMeta } from '../raft/types.js';
import { ensureDir, syncDir } from './segments.js';

export class SnapshotCorruptionError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`snapshot corrupt: ${file}: ${reason}`);
    this.name = 'SnapshotCorruptionError';
  }
}

const NAME_RE = /^snap-(\d{16})-(\d{16})\.snap$/;
const HEADER_BYTES = 8;

interface SnapFile {
  term: number;
  index: number;
  path: string;
}

export class SnapshotStore {
  private constructor(private readonly dir: string) {}

  /** Creates the directory if needed and removes files a crash left half-written. */
  static async open(dir: string): Promise<SnapshotStore> {
    await ensureDir(dir);
    const tmps = (await readdir(dir)).filter((n) => n.endsWith('.snap.tmp'));
    for (const n of tmps) await rm(join(dir, n));
    if (tmps.length > 0) await syncDir(dir);
    return new SnapshotStore(dir);
  }

  async save(snap: Snapshot): Promise<void> {
    const path = this.pathOf(snap.meta);
    const tmp = `${path}.tmp`;
    const f = await open(tmp, 'w');
    try {
      await f.writeFile(encode(snap));
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
    await syncDir(this.dir);
  }

  /** The snapshot with the highest index, verified; undefined if there is none. */
  async loadNewest(): Promise<Snapshot | undefined> {
    const newest = (await this.list()).at(-1);
    if (!newest) return undefined;
    const snap = decode(await readFile(newest.path), newest.path);
    if (snap.meta.index !== newest.index || snap.meta.term !== newest.term) {
      throw new SnapshotCorruptionError(newest.path, `holds term ${snap.meta.term} index ${snap.meta.index}`);
    }
    return snap;
  }

  /** Deletes all but the `keep` (at least one) newest snapshots. */
  async purge(keep: number): Promise<void> {
    if (!(keep >= 1)) throw new RangeError(`purge must keep at least one snapshot, not ${keep}`);
    const files = await this.list();
    const old = files.slice(0, Math.max(0, files.length - keep));
    if (old.length === 0) return;
    for (const s of old) await rm(s.path);
    await syncDir(this.dir);
  }

  private pathOf(meta: SnapshotMeta): string {
    const pad = (n: number) => String(n).padStart(16, '0');
    return join(this.dir, `snap-${pad(meta.term)}-${pad(meta.index)}.snap`);
  }

  /** Snapshot files, oldest (lowest index, then term) first. */
  private async list(): Promise<SnapFile[]> {
    const files: SnapFile[] = [];
    for (const name of await readdir(this.dir)) {
      const m = NAME_RE.exec(name);
      if (m) files.push({ term: Number(m[1]), index: Number(m[2]), path: join(this.dir, name) });
    }
    return files.sort((a, b) => a.index - b.index || a.term - b.term);
  }
}

function encode(snap: Snapshot): Buffer {
  const meta = Buffer.from(JSON.stringify(snap.meta), 'utf8');
  const out = Buffer.allocUnsafe(HEADER_BYTES + meta.length + snap.data.length);
  out.writeUInt32LE(meta.length, 4);
  meta.copy(out, HEADER_BYTES);
  out.set(snap.data, HEADER_BYTES + meta.length);
  out.writeUInt32LE(crc32(out.subarray(4)), 0);
  return out;
}

function decode(buf: Buffer, file: string): Snapshot {
  if (buf.length < HEADER_BYTES) throw new SnapshotCorruptionError(file, `only ${buf.length} bytes`);
  if (crc32(buf.subarray(4)) !== buf.readUInt32LE(0))
    throw new SnapshotCorruptionError(file, 'checksum mismatch');
  const metaEnd = HEADER_BYTES + buf.readUInt32LE(4);
  if (metaEnd > buf.length) throw new SnapshotCorruptionError(file, 'meta length past the end');
  // The checksum matched, so the JSON is what save() wrote.
  const meta = JSON.parse(buf.subarray(HEADER_BYTES, metaEnd).toString('utf8')) as SnapshotMeta;
  // A view, not a copy: snapshots can be large, and readFile's buffer is ours alone.
  return { meta, data: new Uint8Array(buf.buffer, buf.byteOffset + metaEnd, buf.length - metaEnd) };
}
