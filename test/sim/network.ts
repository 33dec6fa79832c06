// The simulated network: every message gets a delivery time, and may be dropped, duplicated or
// delayed (which reorders it). Links can be cut in one direction or both.
import type { Message, NodeId } from '../../node/raft/types.js';
import type { Rng } from './rng.js';

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  /** Messages normally arrive within 0..maxDelay ticks; a few take up to longDelay. */
  maxDelay: number;
  longDelayRate: number;
  longDelay: number;
}

export const CALM: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  maxDelay: 1,
  longDelayRate: 0,
  longDelay: 0,
};

interface InFlight {
  at: number;
  seq: number;
  msg: Message;
}

export class SimNetwork {
  faults: NetworkFaults = CALM;
  private inFlight: InFlight[] = [];
  private seq = 0;
  /** Directed links that are cut: `${from}>${to}`. */
  private readonly cut = new Set<string>();
  sent = 0;
  delivered = 0;

  /**
   * A real transport streams snapshots on their own connection and tells the leader whether
   * the stream got through; this is that report.
   */
  onSnapshotDelivery: (msg: Message, delivered: boolean) => void = () => {};

  constructor(private readonly rng: Rng) {}

  send(msg: Message, now: number): void {
    this.sent++;
    const f = this.faults;
    if (this.rng.chance(f.dropRate)) {
      if (msg.type === 'snap') this.onSnapshotDelivery(msg, false);
      return;
    }
    const copies = this.rng.chance(f.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.chance(f.longDelayRate)
        ? this.rng.int(0, f.longDelay)
        : this.rng.int(0, f.maxDelay);
      this.inFlight.push({ at: now + delay, seq: this.seq++, msg });
    }
  }

  /** Messages due by `now` on links that are up, in a random order (that is the reordering). */
  due(now: number): Message[] {
    const ready: Message[] = [];
    const later: InFlight[] = [];
    for (const f of this.inFlight) {
      if (f.at > now) later.push(f);
      else if (!this.cut.has(`${f.msg.from}>${f.msg.to}`)) ready.push(f.msg);
      else if (f.msg.type === 'snap') this.onSnapshotDelivery(f.msg, false);
    }
    this.inFlight = later;
    this.delivered += ready.length;
    return this.rng.shuffle(ready);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Splits the members into groups that cannot reach each other. */
  partition(groups: NodeId[][]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cutLink(x, y);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  isCut(): boolean {
    return this.cut.size > 0;
  }
}
