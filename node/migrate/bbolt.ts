// A read-only reader of bbolt files, the B+tree file etcd keeps its state in (and what
// `etcdctl snapshot save` writes). No maintained JavaScript library reads them; the layout is
// small: fixed-size pages, two meta pages at the front (the newer valid one wins), and buckets that
// are B+trees of branch and leaf pages, nested through the root bucket. Every page is checked
// against what points to it, so a damaged file stops the reader with the file and offset.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

// The layout, shared with the writer (bbolt-writer.ts): a page header is the page id (8 bytes),
// flags (2), element count (2) and how many pages the page runs on past its first (4).
export const PAGE_HEADER = 16;
/** A branch element: pos, ksize, child page id; a leaf element: flags, pos, ksize, vsize. */
export const ELEMENT = 16;
export const BRANCH = 0x01;
export const LEAF = 0x02;
export const META = 0x04;
export const FREELIST = 0x10;
/** A leaf element whose value is a nested bucket. */
export const BUCKET_LEAF = 0x01;
export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
/** Where the meta's checksum sits in its page: it covers the meta's bytes before it. */
export const META_CHECKSUM = PAGE_HEADER + 56;
/** Deeper than any real tree; stops a page cycle in a damaged file. */
const MAX_DEPTH = 64;
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const U64 = (1n << 64n) - 1n;

export class BoltError extends Error {
  override name = 'BoltError';
}

/** A bucket's root: a page of the file, or a page held inline in its parent's leaf. */
export type Bucket = { page: number } | { inline: Buffer; name: string };

export interface BoltEntry {
  key: Buffer;
  value: Buffer;
  /** The value is a nested bucket's header. */
  isBucket: boolean;
}

interface Page {
  buf: Buffer;
  /** Where the page starts in the file, for errors. */
  offset: number;
}

export class BoltFile {
  private constructor(
    private readonly path: string,
    private readonly fd: number,
    /** Bytes of the file that are the database (an etcd snapshot has its sha256 after them). */
    private readonly length: number,
    readonly pageSize: number,
    /** One past the highest page the meta says is in use. */
    private readonly highWater: number,
    readonly root: Bucket,
    readonly txid: number,
  ) {}

  /** Opens `path`, the database being its first `length` bytes (all of it by default). */
  static open(path: string, length?: number): BoltFile {
    const fd = openSync(path, 'r');
    try {
      const size = length ?? fstatSync(fd).size;
      const meta = newestMeta(path, fd, size);
      return new BoltFile(path, fd, size, meta.pageSize, meta.highWater, { page: meta.root }, meta.txid);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The nested bucket `name` of `parent`, if there is one. */
  bucket(name: string, parent: Bucket = this.root): Bucket | undefined {
    const want = Buffer.from(name);
    for (const e of this.entries(parent)) {
      if (e.isBucket && e.key.equals(want)) return this.bucketOf(name, e.value);
    }
    return undefined;
  }

  /** The bucket's entries in key order, nested buckets' headers included. */
  *entries(bucket: Bucket): Generator<BoltEntry> {
    if ('page' in bucket) {
      yield* this.walk(bucket.page, 0);
    } else {
      yield* this.elements(bucket.inline, LEAF, `the inline page of bucket ${bucket.name}`);
    }
  }

  private bucketOf(name: string, header: Buffer): Bucket {
    const bad = (what: string) => new BoltError(`${this.path}: bucket ${name}: ${what}`);
    if (header.length < 16) throw bad(`a header of ${header.length} bytes`);
    const root = header.readBigUInt64LE(0);
    if (root > BigInt(this.highWater))
      throw bad(`a root page ${root} outside the file's ${this.highWater} pages`);
    // A small bucket's root page follows its header inline.
    return root === 0n ? { inline: header.subarray(16), name } : { page: Number(root) };
  }

  private *walk(id: number, depth: number): Generator<BoltEntry> {
    if (depth > MAX_DEPTH)
      throw new BoltError(`${this.path}: page ${id}: the tree is deeper than ${MAX_DEPTH}`);
    const page = this.page(id);
    const flags = page.buf.readUInt16LE(8);
    if (flags !== BRANCH && flags !== LEAF) {
      throw new BoltError(
        `${this.path}: offset ${page.offset}: page ${id} has flags ${flags}, not a tree page`,
      );
    }
    const where = `offset ${page.offset}: page ${id}`;
    if (flags === LEAF) {
      yield* this.elements(page.buf, LEAF, where);
      return;
    }
    for (const child of this.elements(page.buf, BRANCH, where)) {
      yield* this.walk(this.u64(child.value, 0, page.offset), depth + 1);
    }
  }

  /** A page's elements; a branch element's value is its child's page id (8 bytes). */
  private *elements(buf: Buffer, kind: number, where: string): Generator<BoltEntry> {
    const bad = (what: string) => new BoltError(`${this.path}: ${where}: ${what}`);
    if (buf.length < PAGE_HEADER) throw bad('shorter than a page header');
    const count = buf.readUInt16LE(10);
    if (PAGE_HEADER + count * ELEMENT > buf.length) throw bad(`${count} elements do not fit`);
    for (let i = 0; i < count; i++) {
      const at = PAGE_HEADER + i * ELEMENT;
      if (kind === BRANCH) {
        const pos = at + buf.readUInt32LE(at);
        const ksize = buf.readUInt32LE(at + 4);
        if (pos + ksize > buf.length) throw bad(`element ${i} runs past the page`);
        yield { key: buf.subarray(pos, pos + ksize), value: buf.subarray(at + 8, at + 16), isBucket: false };
      } else {
        const flags = buf.readUInt32LE(at);
        const pos = at + buf.readUInt32LE(at + 4);
        const ksize = buf.readUInt32LE(at + 8);
        const vsize = buf.readUInt32LE(at + 12);
        if (pos + ksize + vsize > buf.length) throw bad(`element ${i} runs past the page`);
        yield {
          key: buf.subarray(pos, pos + ksize),
          value: buf.subarray(pos + ksize, pos + ksize + vsize),
          isBucket: (flags & BUCKET_LEAF) !== 0,
        };
      }
    }
  }

  private page(id: number): Page {
    const offset = id * this.pageSize;
    if (id < 2 || id >= this.highWater || offset + this.pageSize > this.length) {
      throw new BoltError(
        `${this.path}: a reference to page ${id}, outside the file's ${this.highWater} pages`,
      );
    }
    let buf = readAt(this.fd, offset, this.pageSize);
    const overflow = buf.readUInt32LE(12);
    if (overflow > 0) {
      const bytes = (overflow + 1) * this.pageSize;
      if (offset + bytes > this.length) {
        throw new BoltError(`${this.path}: offset ${offset}: page ${id} overflows past the end of the file`);
      }
      buf = readAt(this.fd, offset, bytes);
    }
    if (this.u64(buf, 0, offset) !== id) {
      throw new BoltError(`${this.path}: offset ${offset}: page ${id} is labelled ${buf.readBigUInt64LE(0)}`);
    }
    return { buf, offset };
  }

  private u64(buf: Buffer, at: number, offset: number): number {
    const n = buf.readBigUInt64LE(at);
    if (n > BigInt(Number.MAX_SAFE_INTEGER))
      throw new BoltError(`${this.path}: offset ${offset}: ${n} is out of range`);
    return Number(n);
  }
}

/** Whether the file at `path` starts as a bbolt file does (etcd's snapshot or db file). */
export async function isBoltFile(path: string): Promise<boolean> {
  const f = await open(path);
  try {
    const head = Buffer.alloc(PAGE_HEADER + 4);
    await f.read(head, 0, head.length, 0);
    return head.readUInt32LE(PAGE_HEADER) === MAGIC;
  } finally {
    await f.close();
  }
}

function readAt(fd: number, offset: number, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  const n = readSync(fd, buf, 0, bytes, offset);
  return n === bytes ? buf : buf.subarray(0, n);
}

interface Meta {
  pageSize: number;
  root: number;
  highWater: number;
  txid: number;
}

/** The meta page with the highest transaction id among those that check out, as bbolt picks. */
function newestMeta(path: string, fd: number, size: number): Meta {
  const first = readAt(fd, 0, 4096);
  const problems: string[] = [];
  const metas: Meta[] = [];
  const m0 = parseMeta(first, 0);
  if (typeof m0 === 'string') problems.push(m0);
  else metas.push(m0);
  // The second meta page sits one page in; without a good first meta, try the usual page sizes.
  const sizes = typeof m0 === 'string' ? [4096, 8192, 16384, 32768, 65536] : [m0.pageSize];
  for (const pageSize of sizes) {
    if (pageSize * 2 > size) continue;
    const m1 = parseMeta(readAt(fd, pageSize, 4096), pageSize);
    if (typeof m1 !== 'string' && m1.pageSize === pageSize) {
      metas.push(m1);
      break;
    }
    if (typeof m1 === 'string') problems.push(m1);
  }
  const meta = metas.sort((a, b) => b.txid - a.txid)[0];
  if (!meta) throw new BoltError(`${path}: not a bbolt file (${problems.join('; ')})`);
  if (meta.highWater * meta.pageSize > size) {
    throw new BoltError(
      `${path}: the meta counts ${meta.highWater} pages of ${meta.pageSize} bytes, the file has ${size} bytes`,
    );
  }
  return meta;
}

/** bbolt's meta checksum: 64-bit FNV-1a over the meta's fields before the checksum. */
export function metaChecksum(page: Buffer): bigint {
  let h = FNV_OFFSET;
  for (let i = PAGE_HEADER; i < META_CHECKSUM; i++) h = ((h ^ BigInt(page[i]!)) * FNV_PRIME) & U64;
  return h;
}

function parseMeta(buf: Buffer, offset: number): Meta | string {
  if (buf.length < META_CHECKSUM + 8) return `offset ${offset}: too short for a meta page`;
  if ((buf.readUInt16LE(8) & META) === 0) return `offset ${offset}: not a meta page`;
  if (buf.readUInt32LE(16) !== MAGIC) return `offset ${offset + 16}: no bbolt magic`;
  if (buf.readUInt32LE(20) !== VERSION) return `offset ${offset + 20}: bbolt version ${buf.readUInt32LE(20)}`;
  if (buf.readBigUInt64LE(META_CHECKSUM) !== metaChecksum(buf))
    return `offset ${offset + META_CHECKSUM}: meta checksum mismatch`;
  const num = (at: number) => Number(buf.readBigUInt64LE(at));
  return { pageSize: buf.readUInt32LE(24), root: num(32), highWater: num(56), txid: num(64) };
}
