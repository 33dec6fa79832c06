// The leader's queue of ReadIndex requests waiting for a heartbeat round to confirm that it is
// still the leader (thesis §6.4). A quorum acknowledging a request's heartbeat also confirms
// every request queued before it, so one round serves all reads that were waiting.
import type { NodeId } from './types.js';

export interface PendingRead {
  context: string;
  /** Who asked: the leader itself or a follower that forwarded the read. */
  from: NodeId;
  /** The commit index when the request arrived: the read may be served once this is applied. */
  index: number;
  acks: Set<NodeId>;
}

export class ReadOnlyQueue {
  private queue: PendingRead[] = [];
  private unsent: string | undefined;

  add(context: string, from: NodeId, index: number, acks: NodeId[]): void {
    this.queue.push({ context, from, index, acks: new Set(acks) });
    this.unsent = context;
  }

  /** The context of the newest request not yet sent out with a heartbeat, once. */
  takeUnsentContext(): string | undefined {
    const c = this.unsent;
    this.unsent = undefined;
    return c;
  }

  hasUnsent(): boolean {
    return this.unsent !== undefined;
  }

  /** The newest request's context, for periodic heartbeats (a lost round gets retried). */
  lastContext(): string | undefined {
    return this.queue.at(-1)?.context;
  }

  /** Records an acknowledgement; returns the requests it releases, oldest first. */
  ack(context: string, from: NodeId, quorum: number): PendingRead[] {
    const i = this.queue.findIndex((r) => r.context === context);
    if (i < 0) return [];
    const r = this.queue[i]!;
    r.acks.add(from);
    if (r.acks.size < quorum) return [];
    return this.queue.splice(0, i + 1);
  }

  clear(): void {
    this.queue = [];
    this.unsent = undefined;
  }
}
