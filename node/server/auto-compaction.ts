// etcd's automatic history compaction (--auto-compaction-mode, --auto-compaction-retention), run by
// the leader only, as a compaction through the log like a client's:
// - periodic: keep `retention` of history. The revision is sampled every tenth of the compaction
//   interval (the retention, at most an hour); the first compaction comes one retention after the
//   member starts, then one every interval, each at the revision sampled a retention before.
// - revision: every 5 minutes, compact to `retention` revisions behind the current one.
// The schedules are pure (time and revisions come in, the revision to compact comes out); the
// runner below is the edge that reads clocks and proposes.
import type { Logger } from 'winston';
import { encodeRequest } from '../mvcc/codec.js';
import { MvccError } from '../mvcc/types.js';
import type { WriteOutcome } from './ports.js';

const HOUR_MS = 3_600_000;
const REVISION_MODE_EVERY_MS = 5 * 60_000;

export type AutoCompaction =
  { mode: 'periodic'; retentionMs: number } | { mode: 'revision'; retention: number };

export interface Schedule {
  /** How often `tick` is to be called. */
  readonly everyMs: number;
  /** At each tick: the revision to compact to now, if any. */
  tick(nowMs: number, revision: number, leading: boolean): number | undefined;
  /** The compaction `tick` asked for went through (or the store was compacted that far already). */
  done(nowMs: number, revision: number): void;
}

export class PeriodicSchedule implements Schedule {
  readonly everyMs: number;
  private readonly intervalMs: number;
  private readonly samples: number;
  private revisions: number[];
  private lastDoneMs: number;
  /** The retention before the first compaction, the interval after it. */
  private waitMs: number;

  constructor(
    private readonly retentionMs: number,
    startMs: number,
    startRevision: number,
  ) {
    this.intervalMs = Math.min(retentionMs, HOUR_MS);
    this.everyMs = this.intervalMs / 10;
    this.samples = Math.floor(retentionMs / this.everyMs) + 1;
    this.revisions = [startRevision];
    this.lastDoneMs = startMs;
    this.waitMs = retentionMs;
  }

  tick(nowMs: number, revision: number, leading: boolean): number | undefined {
    // The oldest sample, taken a retention ago once the window is full.
    const oldest = this.revisions[0]!;
    this.revisions.push(revision);
    if (this.revisions.length > this.samples) this.revisions = this.revisions.slice(1);
    if (!leading || nowMs - this.lastDoneMs < this.waitMs) return undefined;
    this.waitMs = this.intervalMs;
    return oldest;
  }

  done(nowMs: number): void {
    this.lastDoneMs = nowMs;
  }
}

export class RevisionSchedule implements Schedule {
  readonly everyMs = REVISION_MODE_EVERY_MS;
  private last = 0;

  constructor(private readonly retention: number) {}

  tick(_nowMs: number, revision: number, leading: boolean): number | undefined {
    const target = revision - this.retention;
    return leading && target > 0 && target !== this.last ? target : undefined;
  }

  done(_nowMs: number, revision: number): void {
    this.last = revision;
  }
}

function scheduleFor(c: AutoCompaction, nowMs: number, revision: number): Schedule {
  return c.mode === 'periodic'
    ? new PeriodicSchedule(c.retentionMs, nowMs, revision)
    : new RevisionSchedule(c.retention);
}

/** What the runner needs from the member. */
export interface CompactionHost {
  isLeader(): boolean;
  revision(): number;
  write(request: Uint8Array): Promise<WriteOutcome>;
}

/** Runs a schedule on the member's clock and proposes what it asks for. */
export class AutoCompactor {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly schedule: Schedule;

  constructor(
    config: AutoCompaction,
    private readonly host: CompactionHost,
    private readonly logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.schedule = scheduleFor(config, now(), host.revision());
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.schedule.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    // Every tick is a sample; while the last compaction is still in the log, it asks for no other.
    const leading = this.host.isLeader() && !this.running;
    const revision = this.schedule.tick(this.now(), this.host.revision(), leading);
    if (revision === undefined) return;
    this.running = true;
    try {
      const out = await this.host.write(encodeRequest({ compaction: { revision, physical: false } }));
      if (out instanceof MvccError && out.code !== 'compacted') throw out;
      this.schedule.done(this.now(), revision);
      this.logger.info('completed auto compaction', { revision });
    } catch (e) {
      this.logger.warn('auto compaction failed; retrying at the next tick', { revision, error: String(e) });
    } finally {
      this.running = false;
    }
  }
}
