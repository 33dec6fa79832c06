// The simulated network: every message gets a delivery time, and may be dropped, duplicated or
// delayed. Each link is first-in first-out like the TCP connection a real transport uses, except
// for the messages picked for reordering (a reconnect, a retransmission). Links can be cut in one
// direction or both.
import type { Message, NodeId } from '../../node/raft/types.js';
import type { Rng } from './rng.js';

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  /** Messages normally arrive within 0..maxDelay ticks; a few take up to longDelay. */
  maxDelay: number;
  longDelayRate: number;
  longDelay: number;
  /** Share of messages that may overtake or fall behind others on their link. */
  reorderRate: number;
}

export const CALM: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  maxDelay: 1,
  longDelayRate: 0,
  longDelay: 0,
  reorderRate: 0,
};

interface InFlight {
  at: number;
  msg: Message;
}

export class SimNetwork {
  faults: NetworkFaults = CALM;
  private inFlight: InFlight[] = [];
  /** Per link: the delivery time of the last in-order message, to keep the link FIFO. */
  private readonly linkClock = new Map<string, number>();
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
    const link = `${msg.from}>${msg.to}`;
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.chance(f.longDelayRate)
        ? this.rng.int(0, f.longDelay)
        : this.rng.int(0, f.maxDelay);
      let at = now + delay;
      if (!this.rng.chance(f.reorderRate)) {
        at = Math.max(at, this.linkClock.get(link) ?? 0);
        this.linkClock.set(link, at);
      }
      this.inFlight.push({ at, msg });
    }
  }

  /** Messages due by `now` on links that are up: in send order per link, links interleaved at random. */
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
    return this.interleave(ready);
  }

  private interleave(msgs: Message[]): Message[] {
    const byLink = new Map<string, Message[]>();
    for (const m of msgs) {
      const link = `${m.from}>${m.to}`;
      const q = byLink.get(link);
      if (q) q.push(m);
      else byLink.set(link, [m]);
    }
    const queues = [...byLink.values()];
    const out: Message[] = [];
    while (queues.length > 0) {
      const i = this.rng.int(0, queues.length - 1);
      out.push(queues[i]!.shift()!);
      if (queues[i]!.length === 0) queues.splice(i, 1);
    }
    return out;
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
