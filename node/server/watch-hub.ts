// Watches: each watcher first gets the history it asked for (from its start revision), then
// every committed event in its key range, in revision order, exactly once. Catching up and
// subscribing happen in one turn of the event loop, so no event falls between them.
import { inRange } from '../mvcc/key-range.js';
import { ERR, type Event } from '../mvcc/types.js';

export interface WatchSpec {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** 0 = from the next revision on. */
  startRevision: number;
  prevKv: boolean;
  noPut: boolean;
  noDelete: boolean;
  /** etcd's progress_notify: told the current revision when a progress round finds it quiet. */
  progressNotify: boolean;
}

export interface WatchSink {
  events(watchId: number, events: Event[]): void;
  canceled(watchId: number, reason: string, compactRevision: number): void;
  /** No events, only the current revision (in the response header): a progress notification. */
  progress(watchId: number): void;
}

export interface WatchSource {
  /** The changes to keys in [key, rangeEnd) from revision `from` on, in revision order. */
  eventsSince(from: number, key: Uint8Array, rangeEnd?: Uint8Array): Event[];
  onEvents(listener: (events: Event[]) => void): () => void;
  currentRevision(): number;
  compactedRevision(): number;
}

interface Watcher {
  spec: WatchSpec;
  sink: WatchSink;
  /** The last revision this watcher has been sent (or skipped). */
  last: number;
  /** Sent no events since the last progress round. */
  quiet: boolean;
}

export class WatchHub {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 1;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly source: () => WatchSource) {}

  /** Starts a watch; returns its id. Throws (MvccError 'compacted') when its start is compacted away. */
  create(spec: WatchSpec, sink: WatchSink, announce: (id: number) => void = () => {}): number {
    const src = this.source();
    this.unsubscribe ??= src.onEvents((events) => this.dispatch(events));
    const current = src.currentRevision();
    const backlog =
      spec.startRevision > 0 && spec.startRevision <= current ? history(src, spec, spec.startRevision) : [];
    const id = this.nextId++;
    // A start beyond the current revision (a member behind the one the client watched before)
    // skips the events before it, as etcd does.
    const w: Watcher = { spec, sink, last: Math.max(current, spec.startRevision - 1), quiet: true };
    this.watchers.set(id, w);
    announce(id); // the 'created' answer goes out before any event
    this.deliver(id, w, backlog);
    return id;
  }

  cancel(id: number): void {
    this.watchers.delete(id);
  }

  /**
   * One round of etcd's periodic progress notifications: each progress_notify watcher that was
   * sent no events since the round before is told the current revision. Every watcher here is
   * synced (history is delivered in create), so the revision is one it has seen all events up to.
   */
  notifyProgress(): void {
    for (const [id, w] of this.watchers) {
      if (!w.spec.progressNotify) continue;
      if (w.quiet) w.sink.progress(id);
      w.quiet = true;
    }
  }

  /**
   * The backend was replaced by a snapshot from the leader, whose history may hold revisions this
   * member never applied. As with etcd, each watcher goes on from where it was: it is sent what it
   * missed, or, when the leader compacted some of that away, canceled with the compacted revision
   * (its client watches again). Called before anything is applied on top of the snapshot.
   */
  resync(): void {
    const src = this.source();
    const compacted = src.compactedRevision();
    for (const [id, w] of this.watchers) {
      if (w.last + 1 < compacted) {
        this.watchers.delete(id);
        w.sink.canceled(id, ERR.compacted().message, compacted);
      } else this.deliver(id, w, history(src, w.spec, w.last + 1));
    }
  }

  private dispatch(events: Event[]): void {
    for (const [id, w] of this.watchers) {
      this.deliver(
        id,
        w,
        events.filter((e) => e.kv.mod_revision > w.last && inRange(e.kv.key, w.spec.key, w.spec.rangeEnd)),
      );
    }
  }

  private deliver(id: number, w: Watcher, events: Event[]): void {
    const out = events
      .filter((e) => !(e.type === 'PUT' && w.spec.noPut) && !(e.type === 'DELETE' && w.spec.noDelete))
      .map((e) => (w.spec.prevKv || !e.prev_kv ? e : { type: e.type, kv: e.kv }));
    const last = events.at(-1)?.kv.mod_revision;
    if (last !== undefined && last > w.last) w.last = last;
    if (out.length > 0) {
      w.quiet = false;
      w.sink.events(id, out);
    }
  }
}

/** The changes in a watch's range from revision `from` on. */
function history(src: WatchSource, spec: WatchSpec, from: number): Event[] {
  return src.eventsSince(from, spec.key, spec.rangeEnd);
}
