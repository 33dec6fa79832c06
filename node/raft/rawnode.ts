// The interface the member (and the simulator) drives: inputs go to the Raft state machine, and
// its output comes back as Ready batches, each acknowledged with advance() once handled. Exactly
// one Ready is outstanding at a time, which is what lets the caller write one batch with one
// fsync while new proposals pile up for the next batch.
import { Raft, type ProposeResult, type RaftConfig, type RaftInitialState } from './raft.js';
import type { ConfChange, ConfState, HardState, Message, NodeId, Ready, SoftState } from './types.js';

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  leader: NodeId;
  role: SoftState['role'];
  commit: number;
  applied: number;
  lastIndex: number;
  confState: ConfState;
  /** Leader only: each member's acknowledged index. */
  matches: Map<NodeId, number>;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: { ready: Ready; hardState: HardState; applyTo: number } | undefined;

  constructor(config: RaftConfig, state: RaftInitialState) {
    this.raft = new Raft(config, state);
    this.prevSoft = this.softState();
    this.prevHard = this.raft.hardState();
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }

  tick(): void {
    this.raft.tick();
  }

  step(m: Message): void {
    this.raft.step(m);
  }

  campaign(): void {
    this.raft.campaignNow();
  }

  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(data);
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(cc);
  }

  readIndex(context: string): ProposeResult {
    return this.raft.readIndex(context);
  }

  transferLeadership(to: NodeId): ProposeResult {
    return this.raft.transferLeadership(to);
  }

  /** See Raft.compact: call with a snapshot of the applied state once it is durable. */
  compact(index: number, data: Uint8Array, keepEntries = 0): void {
    this.raft.compact(index, data, keepEntries);
  }

  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, failed: boolean): void {
    this.raft.reportSnapshot(id, failed);
  }

  /** See RaftConfig.deferCommitNotice. */
  commitNoticeOwed(): boolean {
    return this.raft.commitNoticeOwed();
  }

  flushCommitNotices(): void {
    this.raft.flushCommitNotices();
  }

  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    const soft = this.softState();
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.pendingSnapshot !== undefined ||
      r.log.handed < r.log.lastIndex() ||
      Math.min(r.log.committed, r.log.lastIndex()) > r.log.applied ||
      !sameHardState(r.hardState(), this.prevHard) ||
      soft.leader !== this.prevSoft.leader ||
      soft.role !== this.prevSoft.role ||
      r.hasOwedSends()
    );
  }

  ready(): Ready {
    if (this.outstanding) throw new Error('advance() the previous Ready before taking another');
    const r = this.raft;
    const log = r.log;
    r.flushAppends();
    r.flushReadRound();

    const snapshot = log.pendingSnapshot;
    log.pendingSnapshot = undefined;
    if (snapshot) log.applied = Math.max(log.applied, snapshot.meta.index);
    const entries = log.unhandedEntries();
    log.handed = log.lastIndex();
    // Every committed entry is durable once this batch is, so it may be applied after the fsync.
    const committedEntries = log.committedToApply(r.config.maxApplyBytes);
    const applyTo = committedEntries.at(-1)?.index ?? log.applied;
    log.applied = applyTo;

    const hardState = r.hardState();
    const soft = this.softState();
    const ready: Ready = {
      entries,
      committedEntries,
      messages: r.msgs,
      readStates: r.readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        hardState.term !== this.prevHard.term ||
        hardState.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (snapshot) ready.snapshot = snapshot;
    if (!sameHardState(hardState, this.prevHard)) ready.hardState = hardState;
    if (soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role) {
      ready.softState = soft;
      this.prevSoft = soft;
    }
    this.outstanding = { ready, hardState, applyTo };
    return ready;
  }

  /** The last Ready was persisted, sent and applied. */
  advance(): void {
    const out = this.outstanding;
    if (!out) throw new Error('advance() without an outstanding Ready');
    this.outstanding = undefined;
    const log = this.raft.log;
    const { ready } = out;
    if (ready.snapshot) log.persisted = Math.max(log.persisted, ready.snapshot.meta.index);
    const last = ready.entries.at(-1);
    // Entries rewritten since the Ready was taken lowered `handed`; what is below it is durable.
    if (last) log.persisted = Math.max(log.persisted, Math.min(last.index, log.handed));
    this.prevHard = out.hardState;
    this.raft.onPersisted(log.persisted);
    this.raft.onApplied(out.applyTo);
  }

  status(): Status {
    const r = this.raft;
    const matches = new Map<NodeId, number>();
    for (const [id, pr] of r.prs) matches.set(id, pr.match);
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      leader: r.lead,
      role: r.role,
      commit: r.log.committed,
      applied: r.appliedConfirmed,
      lastIndex: r.log.lastIndex(),
      confState: r.confState,
      matches,
    };
  }
}
