// Watchers for fault runs: each watches the whole key space on one member from revision 1 and,
// whenever its stream breaks (the member was killed, replaced or cancelled the watch after
// installing a snapshot), resumes on the same member from the revision after the last event it
// got, as an etcd client does. At the end every watcher must have seen exactly the committed
// history: every revision once, in order, with the key, type and value that a full watch from
// revision 1 reports.
import { KvClient, type WatchEvent } from '../../node/client/client.js';
import { delay } from '../support/wait.js';

export interface SeenEvent {
  revision: number;
  type: WatchEvent['type'];
  key: string;
  value: string;
}

const describe = (e: SeenEvent | undefined) =>
  e ? `${e.type} ${e.key}${e.type === 'PUT' ? `='${e.value}'` : ''} @${e.revision}` : 'nothing';

export class ResumingWatcher {
  readonly events: SeenEvent[] = [];
  /** Events that repeated or went back in revision. */
  readonly outOfOrder: string[] = [];
  /** Times the stream broke and the watch was resumed. */
  resumes = 0;
  private readonly stop = new AbortController();
  private done: Promise<void> | undefined;

  constructor(
    readonly label: string,
    private readonly endpoint: string,
    private readonly prefix: string,
  ) {}

  get last(): number {
    return this.events.at(-1)?.revision ?? 0;
  }

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const kv = new KvClient([this.endpoint]);
    while (!this.stop.signal.aborted) {
      try {
        const stream = kv.watch(this.prefix, {
          prefix: true,
          startRevision: this.last + 1,
          signal: this.stop.signal,
        });
        for await (const batch of stream) this.record(batch);
      } catch {
        // The member went away or cancelled the watch: resume below.
      }
      if (this.stop.signal.aborted) break;
      this.resumes++;
      await delay(50);
    }
  }

  private record(batch: WatchEvent[]): void {
    for (const e of batch) {
      const seen: SeenEvent = {
        revision: e.kv.modRevision,
        type: e.type,
        key: e.kv.key,
        value: e.type === 'DELETE' ? '' : e.kv.value,
      };
      if (seen.revision <= this.last) {
        this.outOfOrder.push(`${this.label}: ${describe(seen)} after ${describe(this.events.at(-1))}`);
        continue;
      }
      this.events.push(seen);
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.done;
  }
}

/**
 * A watch of `prefix` from revision 1 through `endpoint`, closed once it reached `revision`: the
 * reference history (its events, and any it got out of order).
 */
export async function fullHistory(
  endpoint: string,
  prefix: string,
  revision: number,
  deadlineMs = 30_000,
): Promise<ResumingWatcher> {
  const w = new ResumingWatcher('reference', endpoint, prefix);
  w.start();
  const deadline = Date.now() + deadlineMs;
  while (w.last < revision) {
    if (Date.now() > deadline)
      throw new Error(`the reference watch reached only revision ${w.last} of ${revision}`);
    await delay(20);
  }
  await w.close();
  return w;
}

/**
 * The differences between a watcher's events and the reference history, up to `revision`
 * (at most `max` lines): a missing revision, an extra one, or one reported differently.
 */
export function compareWithHistory(
  w: ResumingWatcher,
  reference: SeenEvent[],
  revision: number,
  max = 10,
): string[] {
  const problems = [...w.outOfOrder];
  const got = w.events.filter((e) => e.revision <= revision);
  const byRevision = new Map(got.map((e) => [e.revision, e]));
  for (const want of reference) {
    if (problems.length >= max) break;
    const e = byRevision.get(want.revision);
    if (!e) problems.push(`${w.label}: missed ${describe(want)}`);
    else if (describe(e) !== describe(want))
      problems.push(`${w.label}: saw ${describe(e)}, history has ${describe(want)}`);
    byRevision.delete(want.revision);
  }
  for (const e of byRevision.values()) {
    if (problems.length >= max) break;
    problems.push(`${w.label}: saw ${describe(e)}, which the history does not have`);
  }
  return problems;
}

/** Revisions from `first` to `last` with no event or more than one (single-key writes: one each). */
export function historyGaps(reference: SeenEvent[], first: number, last: number): string[] {
  const count = new Map<number, number>();
  for (const e of reference) count.set(e.revision, (count.get(e.revision) ?? 0) + 1);
  const gaps: string[] = [];
  for (let r = first; r <= last && gaps.length < 10; r++) {
    const n = count.get(r) ?? 0;
    if (n !== 1) gaps.push(`revision ${r} has ${n} events in the history`);
  }
  return gaps;
}
