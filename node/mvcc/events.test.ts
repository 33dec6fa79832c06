// Watch support: history replayed as events, and the events of each committed batch.
import { Harness, b, str } from './test-harness.js';
import type { Event } from './types.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.close());

/** TYPE key=value@mod (prev value@mod) */
function show(e: Event): string {
  const prev = e.prev_kv ? ` (${str(e.prev_kv.value)}@${e.prev_kv.mod_revision})` : '';
  return `${e.type} ${str(e.kv.key)}=${str(e.kv.value)}@${e.kv.mod_revision}${prev}`;
}

test('eventsSince: puts and deletes from a revision on, in order, with the previous versions', () => {
  h.put('a', '1'); // 2
  h.put('b', '1'); // 3
  h.put('a', '2'); // 4
  h.del('a'); // 5
  h.put('a', '3'); // 6
  h.put('c', '1'); // 7
  const all = h.store.eventsSince(1, b('a'), new Uint8Array([0])).map(show);
  expect(all).toEqual([
    'PUT a=1@2',
    'PUT b=1@3',
    'PUT a=2@4 (1@2)',
    'DELETE a=@5 (2@4)',
    'PUT a=3@6',
    'PUT c=1@7',
  ]);
  expect(h.store.eventsSince(4, b('a')).map(show)).toEqual([
    'PUT a=2@4 (1@2)',
    'DELETE a=@5 (2@4)',
    'PUT a=3@6',
  ]);
  expect(h.store.eventsSince(3, b('b'), b('c')).map(show)).toEqual(['PUT b=1@3']);
  expect(h.store.eventsSince(8, b('a'))).toEqual([]);
  const deletion = h.store.eventsSince(5, b('a'))[0]!.kv;
  expect([deletion.version, deletion.create_revision, deletion.value.length]).toEqual([0, 0, 0]);
});

test('a txn’s events share its revision, in the order of its operations', () => {
  h.put('x', '0');
  h.ok({
    txn: {
      success: [
        { request_put: { key: b('b'), value: b('1') } },
        { request_delete_range: { key: b('x') } },
        { request_put: { key: b('a'), value: b('1') } },
      ],
    },
  });
  expect(h.store.eventsSince(3, b('a'), new Uint8Array([0])).map(show)).toEqual([
    'PUT b=1@3',
    'DELETE x=@3 (0@2)',
    'PUT a=1@3',
  ]);
});

test('eventsSince below the compacted revision is ErrCompacted; from it on the kept changes come, and prev_kv above it', () => {
  h.put('a', '1'); // 2
  h.put('a', '2'); // 3
  h.put('b', '1'); // 4
  h.ok({ compaction: { revision: 3 } });
  expect(() => h.store.eventsSince(2, b('a'))).toThrow(
    'etcdserver: mvcc: required revision has been compacted',
  );
  expect(h.store.eventsSince(3, b('a'), b('c')).map(show)).toEqual(['PUT a=2@3', 'PUT b=1@4']);
  h.put('a', '3'); // 5
  expect(h.store.eventsSince(4, b('a')).map(show)).toEqual(['PUT a=3@5 (2@3)']);
});

test('onEvents: called once per committed batch with its events; not for failed requests; unsubscribe works', () => {
  const batches: string[][] = [];
  const off = h.store.onEvents((events) => batches.push(events.map(show)));
  h.apply(
    { put: { key: b('a'), value: b('1') } },
    { put: { key: b('nope'), ignore_value: true } }, // refused: no event
    {
      txn: {
        success: [{ request_put: { key: b('b'), value: b('1') } }, { request_delete_range: { key: b('a') } }],
      },
    },
  );
  h.apply({ delete_range: { key: b('missing') } }); // changes nothing: no call
  expect(batches).toEqual([['PUT a=1@2', 'PUT b=1@3', 'DELETE a=@3 (1@2)']]);
  off();
  h.put('c', '1');
  expect(batches).toHaveLength(1);
});

test('a listener that throws does not break the batch or the other listeners', () => {
  const seen: number[] = [];
  h.store.onEvents(() => {
    throw new Error('watcher bug');
  });
  h.store.onEvents((events) => seen.push(events.length));
  h.put('a', '1');
  expect(seen).toEqual([1]);
  expect(h.store.currentRevision()).toBe(2);
});
