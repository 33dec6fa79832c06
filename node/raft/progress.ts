// What the leader knows about each follower's log, and how fast it may send to it.
// States follow etcd-io/raft: probe (one append per heartbeat until the follower's position is
// known), replicate (stream appends optimistically, bounded by the inflight window) and snapshot
// (paused until the snapshot is reported as delivered or failed).

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A window of appends sent but not yet acknowledged, bounded in count and bytes. */
export class Inflights {
  private readonly items: { index: number; bytes: number }[] = [];
  private bytes = 0;

  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {}

  add(index: number, bytes: number): void {
    this.items.push({ index, bytes });
    this.bytes += bytes;
  }

  /** Frees every append whose last index is at or below `index`. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.items.length && this.items[n]!.index <= index) {
      this.bytes -= this.items[n]!.bytes;
      n++;
    }
    this.items.splice(0, n);
  }

  full(): boolean {
    return this.items.length >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  count(): number {
    return this.items.length;
  }

  reset(): void {
    this.items.length = 0;
    this.bytes = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** The leader's tick count when this member was last heard from (RaftConfig.strictReconfigCheck). */
  heardAt = -Infinity;
  /** `match` when the previous heartbeat was answered: unchanged while behind means stalled. */
  matchAtLastHeartbeat = -1;
  /** In probe state: an append is out and we wait for its answer or the next heartbeat. */
  probeSent = false;
  /** The highest commit index sent to this member (an append's is bounded by its last entry). */
  commitSent = 0;
  /** The last index of the proposals this member forwarded: it answers their clients once applied. */
  forwarded = 0;
  readonly inflights: Inflights;

  constructor(
    next: number,
    public isLearner: boolean,
    maxInflightMsgs: number,
    maxInflightBytes: number,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot's entries.
    const floor =
      this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.resetState('probe');
    this.next = floor;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** The follower acknowledged entries up to n. Returns whether match moved forward. */
  maybeUpdate(n: number): boolean {
    const updated = this.match < n;
    if (updated) {
      this.match = n;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * The follower rejected an append at `rejected`; `hint` is where it suggests the logs may
   * match. Returns false when the rejection is stale (answers an older append).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records an append that carried entries up to lastIndex (or none: an empty probe). */
  sentEntries(lastIndex: number, count: number, bytes: number): void {
    if (this.state === 'replicate' && count > 0) {
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex, bytes);
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
