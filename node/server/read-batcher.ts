// Linearizable reads, batched: every read that arrives while no ReadIndex round is in flight
// joins the next round, and one round (one quorum heartbeat) answers all of them once the
// member has applied up to the round's read index. This is what makes linearizable reads cheap
// under load.
import { RequestTimeoutError } from './waiters.js';

interface Round {
  context: string;
  waiters: Array<{ resolve: () => void; reject: (e: Error) => void }>;
  index?: number;
  startedAt: number;
}

export class ReadBatcher {
  private waiting: Round['waiters'] = [];
  private round: Round | undefined;
  private seq = 0;

  constructor(
    private readonly prefix: string,
    /** Starts a ReadIndex round; returns the error for its reads when it cannot (no leader). */
    private readonly requestIndex: (context: string) => Error | undefined,
    private readonly appliedIndex: () => number,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves once everything committed before the call is applied on this member. */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  onReadState(context: string, index: number): void {
    if (this.round?.context !== context) return;
    this.round.index = index;
    this.onApplied();
  }

  onApplied(): void {
    const r = this.round;
    if (r?.index === undefined || this.appliedIndex() < r.index) return;
    this.round = undefined;
    for (const w of r.waiters) w.resolve();
    this.kick();
  }

  /** Called on every tick: expires a round that got no answer (a lost heartbeat, a new leader). */
  tick(): void {
    if (this.round && this.now() - this.round.startedAt > this.timeoutMs) {
      this.fail(this.round.waiters, new RequestTimeoutError());
      this.round = undefined;
    }
    this.kick();
  }

  /** Reads waiting, in a round or for the next. */
  get size(): number {
    return this.waiting.length + (this.round?.waiters.length ?? 0);
  }

  failAll(err: Error): void {
    if (this.round) this.fail(this.round.waiters, err);
    this.fail(this.waiting, err);
    this.round = undefined;
    this.waiting = [];
  }

  private kick(): void {
    if (this.round || this.waiting.length === 0) return;
    const round: Round = {
      context: `${this.prefix}-${++this.seq}`,
      waiters: this.waiting,
      startedAt: this.now(),
    };
    this.waiting = [];
    const refused = this.requestIndex(round.context);
    if (refused) {
      this.fail(round.waiters, refused);
      return;
    }
    this.round = round;
  }

  private fail(waiters: Round['waiters'], err: Error): void {
    for (const w of waiters) w.reject(err);
  }
}
