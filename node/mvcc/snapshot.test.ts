// Snapshots for Raft: export → restore gives the same state (hashKV, applied index, revisions,
// history), whatever the chunking; a broken stream is refused and leaves the old store intact.
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { MvccStore } from './store.js';
import { Harness, b, str, summary } from './test-harness.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.close());

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** The same bytes, cut into pieces of `size` bytes. */
async function* rechunk(data: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Runs `fn` on a second store, given the snapshot of the filled first one. */
async function withOtherStore(fn: (other: Harness, data: Buffer) => Promise<void>): Promise<void> {
  fillHistory();
  const data = await collect(h.store.exportSnapshot());
  const other = new Harness();
  try {
    await fn(other, data);
  } finally {
    await other.close();
  }
}

function fillHistory(): void {
  for (let i = 0; i < 300; i++) h.put(`k${i % 37}`, `v${i}`.repeat(i % 50));
  h.del('k1');
  h.ok({ compaction: { revision: 100 } });
  h.del('k2', 'k3');
}

test('exportSnapshot → restoreSnapshot: same hashKV, applied index, revisions, alarms, history and auth store', async () => {
  fillHistory();
  h.ok({ auth: { op: 'userAdd', name: 'alice', hash: 'h' } });
  h.ok({ auth: { op: 'roleAdd', name: 'app' } });
  h.ok({
    auth: {
      op: 'roleGrantPermission',
      name: 'app',
      perm: { permType: 'READ', key: b('a'), range_end: b('b') },
    },
  });
  const data = await collect(h.store.exportSnapshot());
  const path = join(h.dir, 'restored');
  const copy = await MvccStore.restoreSnapshot(path, rechunk(data, 777));
  try {
    expect(copy.hashKV()).toEqual(h.store.hashKV());
    expect(copy.hashKV(150)).toEqual(h.store.hashKV(150));
    expect(copy.appliedIndex()).toEqual(h.store.appliedIndex());
    expect(copy.auth()).toEqual(h.store.auth());
    expect(copy.auth().roles.app).toHaveLength(1);
    expect([copy.currentRevision(), copy.compactedRevision()]).toEqual([303, 100]);
    const all = { key: new Uint8Array([0]), range_end: new Uint8Array([0]) };
    expect(copy.range(all)).toEqual(h.store.range(all));
    expect(copy.range({ ...all, revision: 120 })).toEqual(h.store.range({ ...all, revision: 120 }));
    expect(copy.eventsSince(200, all.key, all.range_end)).toEqual(
      h.store.eventsSince(200, all.key, all.range_end),
    );
    // It carries on from the same place: the next entry and revision.
    const next = copy.appliedIndex().index + 1;
    copy.applyBatch([{ index: next, term: 1, request: { put: { key: b('next'), value: b('1') } } }]);
    expect(copy.range({ key: b('next') }).kvs[0]!.mod_revision).toBe(304);
  } finally {
    await copy.close();
  }
});

test('a staged snapshot leaves the store serving its old state until it is installed', async () => {
  await withOtherStore(async (other, data) => {
    other.put('stale', 'x');
    const staged = await other.store.stageSnapshot(rechunk(data, 4096));
    expect(staged).toEqual(h.store.appliedIndex());
    expect(str(other.get('stale')!.value)).toBe('x');
    await other.store.installStagedSnapshot(staged.index);
    expect(other.store.hashKV()).toEqual(h.store.hashKV());
    // Nothing staged any more: a second install of the same index is a no-op, of a later one an error.
    await other.store.installStagedSnapshot(staged.index);
    await expect(other.store.installStagedSnapshot(staged.index + 1)).rejects.toThrow(/no staged snapshot/);
  });
});

test('a stage a crash cut short is removed when the store opens, never installed', async () => {
  await withOtherStore(async (other, data) => {
    other.put('mine', 'kept');
    await other.store.stageSnapshot(rechunk(data, 4096));
    await other.reopen(); // as after a crash between staging and installing
    await expect(other.store.installStagedSnapshot(other.store.appliedIndex().index + 1)).rejects.toThrow(
      /no staged snapshot/,
    );
    expect(str(other.get('mine')!.value)).toBe('kept');
  });
});

test('restore replaces an open store’s state in place, from one buffer as the server passes it', async () => {
  await withOtherStore(async (other, data) => {
    other.put('stale', 'x');
    await other.store.restore(data);
    expect(other.store.hashKV()).toEqual(h.store.hashKV());
    expect(other.get('stale')).toBeUndefined();
    await other.reopen();
    expect(other.store.appliedIndex()).toEqual(h.store.appliedIndex());
  });
});

test('the export is one consistent read: writes during it do not show up in it', async () => {
  fillHistory();
  const expected = h.store.hashKV();
  const chunks: Uint8Array[] = [];
  for await (const c of h.store.exportSnapshot()) {
    chunks.push(c);
    if (chunks.length === 1) h.put('during', 'x'); // between the header and the rows
  }
  const copy = await MvccStore.restoreSnapshot(join(h.dir, 'copy'), rechunk(Buffer.concat(chunks), 1 << 16));
  try {
    expect(copy.hashKV()).toEqual(expected);
    expect(copy.range({ key: b('during') }).kvs).toEqual([]);
  } finally {
    await copy.close();
  }
});

test('a cut-short or corrupt stream is refused and the store keeps its old state', async () => {
  await withOtherStore(async (other, data) => {
    other.put('mine', '1');
    await expect(other.store.restore(data.subarray(0, data.length - 3))).rejects.toThrow(
      /ended early|Unexpected end/,
    );
    await expect(other.store.restore(Buffer.from('not a snapshot'))).rejects.toThrow();
    const wrongHeader = Buffer.from([0x81, 0xa1, 0x78, 0x01]); // {x: 1}
    await expect(other.store.restore(wrongHeader)).rejects.toThrow('mvcc snapshot: not an mvcc snapshot');
    expect(summary(other.get('mine'))).toEqual(['1', 2, 2, 1]);
    other.put('mine', '2');
    expect(str(other.get('mine')!.value)).toBe('2');
  });
});

test('rows out of revision order are refused (they would leave an old version live)', async () => {
  h.put('a', '1');
  h.put('a', '2');
  const packr = new Packr({ useRecords: false });
  const [head, body, end] = packr.unpackMultiple(await collect(h.store.exportSnapshot())) as [
    object,
    { rows: unknown[] },
    object,
  ];
  body.rows.reverse();
  const swapped = Buffer.concat([packr.pack(head), packr.pack(body), packr.pack(end)]);
  await expect(MvccStore.restoreSnapshot(join(h.dir, 'bad'), swapped)).rejects.toThrow(
    'mvcc snapshot: rows out of revision order',
  );
});

test('hashKV: equal for equal histories, different when a value differs; checks the revision', () => {
  const other = new Harness();
  try {
    for (const x of [h, other]) {
      x.put('a', '1');
      x.put('b', '2');
    }
    expect(other.store.hashKV()).toEqual(h.store.hashKV());
    h.put('c', '3');
    other.put('c', '4');
    expect(other.store.hashKV().hash).not.toBe(h.store.hashKV().hash);
    expect(other.store.hashKV(3)).toEqual(h.store.hashKV(3));
    expect(() => h.store.hashKV(5)).toThrow('future revision');
  } finally {
    void other.close();
  }
});
