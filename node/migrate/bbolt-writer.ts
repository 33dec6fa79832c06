// Writes bbolt files, the B+tree file etcd keeps its state in, so that etcd's own tools read what
// raftkv writes (`etcdctl snapshot status`, `etcdctl snapshot restore`). No maintained JavaScript
// library writes them. The file is written front to back, as a stream: two meta pages, an empty
// freelist, then each bucket's tree (its leaves in key order, then each level of branches above
// them), then the root bucket's tree, which names the buckets' root pages. The meta pages name the
// root bucket's page and the page count, which are known only at the end, so the layout is worked
// out first by a dry run of the same code that counts pages instead of filling them.
import {
  BRANCH,
  BUCKET_LEAF,
  ELEMENT,
  FREELIST,
  LEAF,
  MAGIC,
  META,
  META_CHECKSUM,
  PAGE_HEADER,
  VERSION,
  metaChecksum,
} from './bbolt.js';

/** Linux's page size, which bbolt takes for a new file. */
const PAGE_SIZE = 4096;
/** Pages 0 and 1 are the meta pages, 2 the freelist; trees start after them. */
const FREELIST_PAGE = 2;
const FIRST_TREE_PAGE = 3;
/**
 * The stream comes in chunks of about this size, and both passes let other work on the thread in
 * as often: the member serving the backup goes on serving requests meanwhile.
 */
const CHUNK_BYTES = 256 * 1024;
const otherWork = () => new Promise(setImmediate);

export interface BoltBucketSource {
  name: string;
  /**
   * The bucket's entries in byte order of their keys, each in buffers of its own (they are held
   * until their page is laid, a page's first key until the tree is); called once per pass, the
   * same each time.
   */
  entries(): Iterable<[Buffer, Buffer]>;
}

/** A bbolt file holding `buckets` (nested in the root bucket), as chunks of whole pages. */
export async function* boltFile(buckets: BoltBucketSource[], pageSize = PAGE_SIZE): AsyncGenerator<Buffer> {
  const sorted = [...buckets].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  const plan = new Layout(pageSize, false);
  for (const _ of plan.lay(sorted)) await otherWork();

  yield Buffer.concat([metaPage(0, plan), metaPage(1, plan), freelistPage(pageSize)]);
  const file = new Layout(pageSize, true);
  for (const _ of file.lay(sorted)) {
    yield file.take();
    await otherWork(); // a consumer that takes chunks as fast as they come would not yield
  }
  yield file.take();
  if (file.next !== plan.next || file.root !== plan.root) {
    throw new Error(
      `bbolt writer: the buckets changed between passes (${plan.next} pages, then ${file.next})`,
    );
  }
}

/** Where the pages go: the next free page id, and with `writing` the filled pages not yet taken. */
class Layout {
  next = FIRST_TREE_PAGE;
  /** The root bucket's page, once laid. */
  root = 0;
  private pages: Buffer[] = [];

  constructor(
    readonly pageSize: number,
    readonly writing: boolean,
  ) {}

  /** Lays out every bucket, then the root bucket; pauses after about each CHUNK_BYTES of entries. */
  *lay(buckets: BoltBucketSource[]): Generator<void> {
    const root = new Tree(this);
    let bytes = 0;
    for (const b of buckets) {
      const tree = new Tree(this);
      for (const [key, value] of b.entries()) {
        tree.add(key, value, 0);
        bytes += key.length + value.length;
        if (bytes >= CHUNK_BYTES) {
          bytes = 0;
          yield;
        }
      }
      const header = Buffer.alloc(16); // the bucket's root page, then its sequence (0)
      header.writeBigUInt64LE(BigInt(tree.finish()), 0);
      root.add(Buffer.from(b.name), header, BUCKET_LEAF);
    }
    this.root = root.finish();
  }

  /** Gives `count` pages (the first id); keeps their bytes when writing. */
  place(count: number, fill: (id: number) => Buffer): number {
    const id = this.next;
    this.next += count;
    if (this.writing) this.pages.push(fill(id));
    return id;
  }

  take(): Buffer {
    const chunk = Buffer.concat(this.pages);
    this.pages = [];
    return chunk;
  }
}

type Element = [key: Buffer, value: Buffer, flags: number];

/**
 * One B+tree, built bottom up: elements fill a page until the next would not fit (one that fits no
 * page alone gets a page of its own that runs on over as many pages as it needs), and each page's
 * first key and id become an element of the level above, until one page holds them all.
 */
class Tree {
  private pending: Element[] = [];
  private bytes = PAGE_HEADER;
  /** The level being filled: LEAF, then BRANCH. */
  private kind = LEAF;
  /** The pages laid so far on this level, as elements of the next: first key, id. */
  private laid: Element[] = [];

  constructor(private readonly layout: Layout) {}

  add(key: Buffer, value: Buffer, flags: number): void {
    const size = ELEMENT + key.length + (this.kind === LEAF ? value.length : 0);
    if (this.pending.length > 0 && this.bytes + size > this.layout.pageSize) this.flush();
    this.pending.push([key, value, flags]);
    this.bytes += size;
  }

  /** Lays what is pending and the levels above; returns the root's page id. */
  finish(): number {
    for (;;) {
      if (this.pending.length > 0 || this.laid.length === 0) this.flush();
      if (this.laid.length === 1) return readId(this.laid[0]![1]);
      const children = this.laid;
      this.laid = [];
      this.kind = BRANCH;
      for (const child of children) this.add(...child);
    }
  }

  private flush(): void {
    const { pageSize } = this.layout;
    const count = Math.ceil(this.bytes / pageSize);
    const elements = this.pending;
    const kind = this.kind;
    const id = this.layout.place(count, (at) => fillPage(at, kind, elements, count, pageSize));
    this.laid.push([elements[0]?.[0] ?? Buffer.alloc(0), idBytes(id), 0]);
    this.pending = [];
    this.bytes = PAGE_HEADER;
  }
}

/** A leaf or branch page of `count` pages: header, elements, then each one's key (and a leaf's value). */
function fillPage(id: number, kind: number, elements: Element[], count: number, pageSize: number): Buffer {
  const page = pageHeader(id, kind, elements.length, count, pageSize);
  let data = PAGE_HEADER + elements.length * ELEMENT;
  elements.forEach(([key, value, flags], i) => {
    const at = PAGE_HEADER + i * ELEMENT;
    if (kind === LEAF) {
      page.writeUInt32LE(flags, at);
      page.writeUInt32LE(data - at, at + 4); // pos counts from the element itself
      page.writeUInt32LE(key.length, at + 8);
      page.writeUInt32LE(value.length, at + 12);
      data += key.copy(page, data);
      data += value.copy(page, data);
    } else {
      page.writeUInt32LE(data - at, at);
      page.writeUInt32LE(key.length, at + 4);
      value.copy(page, at + 8); // the child's page id
      data += key.copy(page, data);
    }
  });
  return page;
}

function pageHeader(id: number, flags: number, elements: number, count: number, pageSize: number): Buffer {
  const page = Buffer.alloc(count * pageSize);
  page.writeBigUInt64LE(BigInt(id), 0);
  page.writeUInt16LE(flags, 8);
  page.writeUInt16LE(elements, 10);
  page.writeUInt32LE(count - 1, 12); // pages it runs on over
  return page;
}

/** Meta page `id` (0 or 1, its transaction id the same, as bbolt makes a new file's). */
function metaPage(id: number, plan: Layout): Buffer {
  const page = pageHeader(id, META, 0, 1, plan.pageSize);
  page.writeUInt32LE(MAGIC, 16);
  page.writeUInt32LE(VERSION, 20);
  page.writeUInt32LE(plan.pageSize, 24);
  page.writeBigUInt64LE(BigInt(plan.root), 32); // the root bucket: its page, then its sequence (0)
  page.writeBigUInt64LE(BigInt(FREELIST_PAGE), 48);
  page.writeBigUInt64LE(BigInt(plan.next), 56); // one past the last page in use
  page.writeBigUInt64LE(BigInt(id), 64);
  page.writeBigUInt64LE(metaChecksum(page), META_CHECKSUM);
  return page;
}

/** No page is free: every page after the freelist is in a tree. */
function freelistPage(pageSize: number): Buffer {
  return pageHeader(FREELIST_PAGE, FREELIST, 0, 1, pageSize);
}

function idBytes(id: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(id));
  return b;
}

function readId(b: Buffer): number {
  return Number(b.readBigUInt64LE(0));
}
