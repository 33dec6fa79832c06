// The watch hub against a small in-memory event source: history then live events, exactly once
// and in order, filters, prev_kv, and going on when the backend is replaced by a snapshot.
import { inRange } from '../mvcc/key-range.js';
import type { Event, KeyValue } from '../mvcc/types.js';
import { WatchHub, type WatchSink, type WatchSource } from './watch-hub.js';

const b = (s: string) => new TextEncoder().encode(s);
const s = (u: Uint8Array) => new TextDecoder().decode(u);

function kv(key: string, rev: number): KeyValue {
  return { key: b(key), value: b(`v${rev}`), create_revision: rev, mod_revision: rev, version: 1, lease: 0 };
}

class Source implements WatchSource {
  history: Event[] = [];
  compacted = 0;
  private listener: ((e: Event[]) => void) | undefined;
  /** A change applied here (its event is dispatched), or one that came in a snapshot (not). */
  commit(type: Event['type'], key: string, how: 'applied' | 'in a snapshot' = 'applied'): void {
    const rev = this.currentRevision() + 1;
    const e: Event = { type, kv: kv(key, rev), prev_kv: kv(key, rev - 1) };
    this.history.push(e);
    if (how === 'applied') this.listener?.([e]);
  }
  eventsSince(from: number, key: Uint8Array, rangeEnd?: Uint8Array): Event[] {
    return this.history.filter((e) => e.kv.mod_revision >= from && inRange(e.kv.key, key, rangeEnd));
  }
  onEvents(l: (e: Event[]) => void): () => void {
    this.listener = l;
    return () => (this.listener = undefined);
  }
  currentRevision(): number {
    return 1 + this.history.length;
  }
  compactedRevision(): number {
    return this.compacted;
  }
}

function recorder() {
  const got: string[] = [];
  const sink: WatchSink = {
    events: (id, events) =>
      got.push(
        ...events.map(
          (e) => `${id}:${e.type}:${s(e.kv.key)}@${e.kv.mod_revision}${e.prev_kv ? '+prev' : ''}`,
        ),
      ),
    canceled: (id, reason) => got.push(`${id}:canceled:${reason.slice(0, 20)}`),
    progress: (id) => got.push(`${id}:progress`),
  };
  return { got, sink };
}

const spec = {
  key: b('a'),
  rangeEnd: b('b'),
  startRevision: 0,
  prevKv: false,
  noPut: false,
  noDelete: false,
  progressNotify: false,
};

test('a watch from a past revision gets the history, then live events, each once and in order', () => {
  const src = new Source();
  src.commit('PUT', 'a1');
  src.commit('PUT', 'z');
  src.commit('DELETE', 'a1');
  const hub = new WatchHub(() => src);
  const { got, sink } = recorder();
  const id = hub.create({ ...spec, startRevision: 2 }, sink);
  src.commit('PUT', 'a2');
  src.commit('PUT', 'zz');
  expect(got).toEqual([`${id}:PUT:a1@2`, `${id}:DELETE:a1@4`, `${id}:PUT:a2@5`]);
});

test('filters and prev_kv are honoured, and a canceled watch gets nothing more', () => {
  const src = new Source();
  const hub = new WatchHub(() => src);
  const a = recorder();
  const b2 = recorder();
  const noPut = hub.create({ ...spec, noPut: true, prevKv: true }, a.sink);
  const all = hub.create(spec, b2.sink);
  src.commit('PUT', 'a');
  src.commit('DELETE', 'a');
  hub.cancel(all);
  src.commit('PUT', 'a');
  expect(a.got).toEqual([`${noPut}:DELETE:a@3+prev`]);
  expect(b2.got).toEqual([`${all}:PUT:a@2`, `${all}:DELETE:a@3`]);
});

test('after a snapshot each watch gets the events it missed from its history, then live ones', () => {
  const src = new Source();
  const hub = new WatchHub(() => src);
  const { got, sink } = recorder();
  const id = hub.create(spec, sink);
  src.commit('PUT', 'a1'); // revision 2, applied here
  src.commit('PUT', 'a2', 'in a snapshot'); // 3
  src.commit('PUT', 'z', 'in a snapshot'); // 4, outside the range
  src.commit('DELETE', 'a1', 'in a snapshot'); // 5
  hub.resync();
  src.commit('PUT', 'a3'); // 6
  expect(got).toEqual([`${id}:PUT:a1@2`, `${id}:PUT:a2@3`, `${id}:DELETE:a1@5`, `${id}:PUT:a3@6`]);
});

test('after a snapshot whose history is compacted past a watch, that watch is canceled with the compacted revision', () => {
  const src = new Source();
  const hub = new WatchHub(() => src);
  const behind = recorder();
  const current = recorder();
  const canceled: Array<[number, number]> = [];
  const a = hub.create(spec, { ...behind.sink, canceled: (id, _reason, rev) => canceled.push([id, rev]) });
  // b resumes from revision 3 (it saw up to 2 on another member).
  const b = hub.create({ ...spec, startRevision: 3 }, current.sink);
  src.commit('PUT', 'a1', 'in a snapshot'); // 2, a's next revision
  src.commit('PUT', 'a2', 'in a snapshot'); // 3
  // Compacted at 3: revision 2 is gone, 3 is kept (a watch may start at the compacted revision).
  src.compacted = 3;
  hub.resync();
  src.commit('PUT', 'a3'); // 4
  expect(canceled).toEqual([[a, 3]]);
  expect(behind.got).toEqual([]);
  expect(current.got).toEqual([`${b}:PUT:a2@3`, `${b}:PUT:a3@4`]);
});

test('a watch from a revision the member has not reached yet starts there, skipping what comes before', () => {
  // A client resuming on a member that lags behind the one it watched before.
  const src = new Source();
  src.commit('PUT', 'a1'); // revision 2
  const hub = new WatchHub(() => src);
  const { got, sink } = recorder();
  hub.create({ ...spec, startRevision: 5 }, sink);
  src.commit('PUT', 'a2'); // 3
  src.commit('PUT', 'a3'); // 4
  src.commit('PUT', 'a4'); // 5
  src.commit('PUT', 'a5'); // 6
  expect(got).toEqual(['1:PUT:a4@5', '1:PUT:a5@6']);
});

test('progress rounds tell quiet progress_notify watches, and only them, that they are current', () => {
  // etcd's rule: a watch that was sent events since the round before is not told this round.
  const src = new Source();
  const hub = new WatchHub(() => src);
  const { got, sink } = recorder();
  const notified = hub.create({ ...spec, progressNotify: true }, sink);
  const plain = hub.create(spec, sink);
  hub.notifyProgress(); // quiet since it was made
  src.commit('PUT', 'a1');
  hub.notifyProgress(); // it was sent an event: skipped
  src.commit('PUT', 'z'); // out of its range: still quiet
  hub.notifyProgress();
  hub.cancel(notified);
  hub.notifyProgress();
  expect(got).toEqual([
    `${notified}:progress`,
    `${notified}:PUT:a1@2`,
    `${plain}:PUT:a1@2`,
    `${notified}:progress`,
  ]);
});
