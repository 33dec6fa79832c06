// A keyed work queue, as controllers need one: a key waiting is queued once however many events
// name it; a key being worked on is never handed out twice, and an add during the work queues
// it once more afterwards; failures come back with per-key exponential backoff; requeue-after
// keeps the earliest time asked for. Time comes through a Clock so tests run in simulated time.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Added while active: queue again when done. */
  private readonly again = new Set<string>();
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  private readonly takers: Array<(key: string | undefined) => void> = [];
  private closed = false;

  constructor(
    private readonly clock: Clock = realClock,
    private readonly backoff: Backoff = { baseMs: 500, maxMs: 300_000 },
  ) {}

  add(key: string): void {
    if (this.closed) return;
    if (this.active.has(key)) {
      this.again.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.cancelDelay(key);
    const taker = this.takers.shift();
    if (taker) {
      this.active.add(key);
      taker(key);
      return;
    }
    this.queued.add(key);
    this.ready.push(key);
  }

  /** Adds the key after `ms`; an earlier pending schedule for it wins. */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    this.cancelDelay(key);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Adds the key after its backoff, which doubles with each failure until forget(). */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const ms = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** n);
    this.addAfter(key, ms);
    return ms;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to work on; undefined once the queue is shut down. Call done(key) after. */
  get(): Promise<string | undefined> {
    const key = this.ready.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.active.add(key);
      return Promise.resolve(key);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  done(key: string): void {
    this.active.delete(key);
    if (this.again.delete(key)) this.add(key);
    if (this.closed && this.active.size === 0) this.drained?.();
  }

  /** Keys waiting now (not the delayed ones): the queue-depth metric. */
  depth(): number {
    return this.ready.length;
  }

  private drained: (() => void) | undefined;

  /** Stops handing out keys; resolves once the keys being worked on are done. */
  shutDown(): Promise<void> {
    this.closed = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const t of this.takers.splice(0)) t(undefined);
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  private cancelDelay(key: string): void {
    const d = this.delayed.get(key);
    if (d) {
      this.clock.clearTimeout(d.handle);
      this.delayed.delete(key);
    }
  }
}
