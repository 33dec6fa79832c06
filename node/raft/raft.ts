// The Raft state machine (Ongaro & Ousterhout, "In Search of an Understandable Consensus
// Algorithm", extended version; and Ongaro's thesis for pre-vote, check-quorum, ReadIndex,
// leadership transfer and single-server membership changes). Pure and deterministic: no I/O, no
// timers, no clock; randomness comes from the injected `rand`. RawNode (rawnode.ts) turns its
// output into Ready batches.
import { decodeConfChange, encodeConfChange } from './confchange.js';
import { entrySize, RaftLog } from './log.js';
import { Progress } from './progress.js';
import { committedIndex, quorumSize, voteResult } from './quorum.js';
import { ReadOnlyQueue } from './read-only.js';
import {
  NONE,
  RaftRangeError,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
} from './types.js';

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing from a leader before a follower starts an election (randomized up to 2×). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be well below electionTick. */
  heartbeatTick: number;
  /** Uniform in [0, 1); seeded in tests so runs replay exactly. */
  rand: () => number;
  checkQuorum?: boolean;
  preVote?: boolean;
  /** Upper bound on the entry bytes in one append message (at least one entry is always sent). */
  maxSizePerMsg?: number;
  /** Appends in flight to one follower before the leader waits for acknowledgements. */
  maxInflightMsgs?: number;
  maxInflightBytes?: number;
  /** Proposals are refused once this many bytes are appended but not committed (0 = no limit). */
  maxUncommittedBytes?: number;
  /** Bytes of committed entries handed to the application per Ready. */
  maxApplyBytes?: number;
  /** A learner may be promoted once its log is within this many entries of the commit index. */
  learnerCatchUpLag?: number;
  /**
   * etcd's --strict-reconfig-check: a voter may be removed only while the voters left that were
   * heard from within an election timeout are a quorum of them, so a removal never takes away the
   * quorum of a cluster with members down. Removing a member that is down is always allowed.
   */
  strictReconfigCheck?: boolean;
  /**
   * Leader: a commit that advances is not sent at once in an empty append of its own. It rides on
   * the next append or heartbeat, or goes out when the caller calls flushCommitNotices() (see
   * commitNoticeOwed()). A follower whose forwarded proposals were just committed is still told at
   * once: it answers their clients. Under steady load this halves the messages per write.
   */
  deferCommitNotice?: boolean;
}

export interface RaftInitialState {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
  /** Entries up to here are already applied by the application (defaults to the snapshot index). */
  applied?: number;
}

/** Why the core refused a proposal or request; the member answers each with etcd's error for it. */
export type Refusal =
  | 'noLeader'
  | 'notLeader'
  | 'removed'
  | 'transferring'
  | 'overloaded'
  | 'confChangePending'
  | 'memberExists'
  | 'memberNotFound'
  | 'notLearner'
  | 'learnerBehind'
  | 'lastVoter'
  | 'unhealthy'
  | 'badTransferee';

export type ProposeResult = { accepted: true } | { accepted: false; refusal: Refusal; reason: string };

const refuse = (refusal: Refusal, reason: string): ProposeResult => ({ accepted: false, refusal, reason });

const MAX = Number.MAX_SAFE_INTEGER;
const TRANSFER = 'transfer';

/** A message with every optional field at its zero value. */
export function emptyMessage(type: MessageType, from: NodeId, to: NodeId, term: number): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    hintTerm: 0,
  };
}

export class Raft {
  readonly id: NodeId;
  term: number;
  vote: NodeId;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  /** The newest snapshot: what a follower that fell behind the log is sent. */
  snapshot: Snapshot;
  /** Leader only: one Progress per member, the leader included. */
  readonly prs = new Map<NodeId, Progress>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** Leader only: the member leadership is being transferred to. */
  leadTransferee: NodeId = NONE;
  /** Highest index the application has confirmed applied (conf changes included). */
  appliedConfirmed: number;

  private readonly cfg: Required<RaftConfig>;
  /** Ticks since this node started: when followers were last heard from is kept in these. */
  private ticks = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private votes = new Map<NodeId, boolean>();
  private uncommittedBytes = 0;
  private readonly readOnly = new ReadOnlyQueue();
  /** Read requests that arrived before this leader committed an entry of its term. */
  private readsBeforeCommit: Message[] = [];
  /** Leader: appends and heartbeats are produced when the Ready is taken, so proposals batch. */
  private appendsDue = false;
  private commitAdvanced = false;
  private confVersionSeen: number;

  constructor(config: RaftConfig, state: RaftInitialState) {
    this.cfg = {
      checkQuorum: true,
      preVote: true,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      maxInflightBytes: 0,
      maxUncommittedBytes: 0,
      maxApplyBytes: 64 * 1024 * 1024,
      learnerCatchUpLag: 1000,
      strictReconfigCheck: false,
      deferCommitNotice: false,
      ...config,
    };
    if (this.cfg.heartbeatTick <= 0 || this.cfg.electionTick <= this.cfg.heartbeatTick) {
      throw new Error('electionTick must be greater than heartbeatTick, and both positive');
    }
    this.id = config.id;
    this.log = new RaftLog(state.snapshot, state.entries, state.hardState.commit);
    this.snapshot = state.snapshot;
    this.term = state.hardState.term;
    this.vote = state.hardState.vote;
    const applied = state.applied ?? state.snapshot.meta.index;
    if (applied > this.log.committed)
      throw new Error(`applied ${applied} is past commit ${this.log.committed}`);
    this.log.applied = Math.max(this.log.applied, applied);
    this.appliedConfirmed = this.log.applied;
    this.confVersionSeen = this.log.confVersion;
    this.becomeFollower(this.term, NONE);
  }

  get config(): Readonly<Required<RaftConfig>> {
    return this.cfg;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** The configuration in effect: the latest in the log, committed or not (thesis §4.1). */
  get confState(): ConfState {
    return this.log.confState();
  }

  isVoter(id: NodeId = this.id): boolean {
    return this.confState.voters.includes(id);
  }

  private members(): NodeId[] {
    return [...this.confState.voters, ...this.confState.learners];
  }

  // ---- role transitions -------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.cfg.electionTick + Math.floor(this.cfg.rand() * this.cfg.electionTick);
    this.votes = new Map();
    this.leadTransferee = NONE;
    this.readOnly.clear();
    this.readsBeforeCommit = [];
    this.uncommittedBytes = 0;
    this.appendsDue = false;
    this.commitAdvanced = false;
    this.prs.clear();
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // Pre-vote does not touch term or vote: a member that cannot win never disturbs the others.
    this.votes = new Map();
    this.role = 'preCandidate';
    this.lead = NONE;
  }

  private becomeCandidate(): void {
    if (this.term >= MAX) throw new RaftRangeError('term');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    this.confVersionSeen = this.log.confVersion;
    const last = this.log.lastIndex();
    for (const id of this.members()) {
      const pr = new Progress(
        last + 1,
        !this.isVoter(id),
        this.cfg.maxInflightMsgs,
        this.cfg.maxInflightBytes,
      );
      if (id === this.id) {
        pr.match = this.log.persisted;
        pr.becomeReplicate();
        pr.recentActive = true;
      }
      this.prs.set(id, pr);
    }
    // The no-op commits what earlier terms left (§5.4.2), and no membership change is accepted
    // before it is (the single-server change bug, Ongaro's raft-dev post of 2015).
    this.appendEntries([{ term: this.term, index: 0, type: 'normal', data: new Uint8Array() }]);
  }

  // ---- ticks ------------------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.canCampaign() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.cfg.preVote ? 'preVote' : 'vote', false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      this.leadTransferee = NONE; // a transfer that has not happened within an election timeout failed
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.readOnly.lastContext());
      if (!this.prs.has(this.id)) this.handOverAfterRemoval();
    }
  }

  /**
   * A leader that applied its own removal keeps leading (it refuses new proposals) until a
   * remaining voter has its whole log, then asks that voter to take over. Stepping down at once
   * could strand the others: they may not yet know that the change is committed, and a member
   * that has not applied its own promotion does not know it may stand for election.
   */
  private handOverAfterRemoval(): void {
    if (this.log.committed < this.log.lastConfIndex()) return;
    for (const id of this.confState.voters) {
      if (this.prs.get(id)?.match === this.log.lastIndex()) {
        this.send(emptyMessage('timeoutNow', this.id, id, this.term));
        return;
      }
    }
  }

  /** Check-quorum: a majority of voters was heard from during the last election timeout. */
  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.confState.voters) {
      const pr = this.prs.get(id);
      if (id === this.id || pr?.recentActive) active++;
      if (pr && id !== this.id) pr.recentActive = false;
    }
    return active >= quorumSize(this.confState.voters.length);
  }

  /** The voters other than `id` that were heard from within an election timeout are a quorum of them. */
  private activeQuorumWithout(id: NodeId): boolean {
    const rest = this.confState.voters.filter((v) => v !== id);
    const heard = (v: NodeId) => this.ticks - (this.prs.get(v)?.heardAt ?? -Infinity) < this.cfg.electionTick;
    const active = rest.filter((v) => v === this.id || heard(v)).length;
    return active >= quorumSize(rest.length);
  }

  // ---- elections --------------------------------------------------------------------------

  private campaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    if (kind === 'preVote') this.becomePreCandidate();
    else this.becomeCandidate();
    const term = kind === 'preVote' ? this.term + 1 : this.term;
    if (term > MAX) throw new RaftRangeError('term');
    this.votes.set(this.id, true);
    if (this.tallyVotes(kind === 'preVote' ? 'preVoteResp' : 'voteResp')) return;
    for (const id of this.confState.voters) {
      if (id === this.id) continue;
      const m = emptyMessage(kind, this.id, id, term);
      m.index = this.log.lastIndex();
      m.logTerm = this.log.lastTerm();
      if (transfer) m.context = TRANSFER;
      this.send(m);
    }
  }

  /** Counts votes; returns true when the election was decided (won or lost). */
  private tallyVotes(type: 'preVoteResp' | 'voteResp'): boolean {
    const result = voteResult(this.confState.voters, this.votes);
    if (result === 'won') {
      if (type === 'preVoteResp') this.campaign('vote', false);
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, NONE);
    }
    return result !== 'pending';
  }

  /** Starts an election now (a test or an operator asking this member to stand). */
  campaignNow(): void {
    if (this.role !== 'leader' && this.canCampaign())
      this.campaign(this.cfg.preVote ? 'preVote' : 'vote', false);
  }

  // ---- messages ---------------------------------------------------------------------------

  private send(m: Message): void {
    this.msgs.push(m);
  }

  step(m: Message): void {
    if (m.term === 0) {
      // Term 0 marks requests a follower forwards to its leader (proposals, reads).
      if (m.type === 'prop' || m.type === 'readIndex') this.stepByRole(m);
      return;
    }
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Check-quorum lease: while we hear from a leader, ignore would-be disruptors.
        const inLease =
          this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTick;
        if (inLease && m.context !== TRANSFER) return;
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) {
        // Pre-votes are for a future term; they do not move ours.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === 'app' || m.type === 'heartbeat') {
        // Tell a stale leader about the newer term so it steps down (it may be cut off from
        // everything but us, and with pre-vote nobody else would ever raise its term).
        this.send(emptyMessage('appResp', this.id, m.from, this.term));
      } else if (m.type === 'preVote') {
        const r = emptyMessage('preVoteResp', this.id, m.from, this.term);
        r.reject = true;
        this.send(r);
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') this.handleVoteRequest(m);
    else this.stepByRole(m);
  }

  private stepByRole(m: Message): void {
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'preVote' && m.term > this.term);
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A granted pre-vote answers in the future term so the candidate can count it.
      this.send(emptyMessage(respType, this.id, m.from, m.term));
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      const r = emptyMessage(respType, this.id, m.from, this.term);
      r.reject = true;
      this.send(r);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'prop':
      case 'readIndex':
        // Forwarded to the leader as a request (term 0); without a leader it is dropped.
        if (this.lead !== NONE) this.send({ ...m, to: this.lead, term: 0 });
        break;
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        break;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.log.commitTo(m.commit);
        this.send({ ...emptyMessage('heartbeatResp', this.id, m.from, this.term), context: m.context });
        break;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case 'timeoutNow':
        // Leadership transfer: skip pre-vote and the lease, the old leader asked for this.
        if (this.canCampaign()) this.campaign('vote', true);
        break;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context ?? '' });
        break;
      default:
        break;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        // A leader of our term exists; a pre-candidate only sees this with a term at least ours.
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        break;
      case 'voteResp':
      case 'preVoteResp': {
        const expected = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
        if (m.type !== expected || !this.isVoter(m.from)) return;
        this.votes.set(m.from, !m.reject);
        this.tallyVotes(expected);
        break;
      }
      default:
        break;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'prop': {
        const forwarder = this.prs.get(m.from);
        if (this.proposeEntries(m.entries).accepted && forwarder) forwarder.forwarded = this.log.lastIndex();
        return;
      }
      case 'readIndex':
        this.handleReadIndex(m);
        return;
      default:
        break;
    }
    const pr = this.prs.get(m.from);
    if (!pr) return;
    pr.heardAt = this.ticks;
    switch (m.type) {
      case 'appResp':
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        break;
      case 'heartbeatResp':
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.match < this.log.lastIndex()) {
          // Nothing acknowledged for a whole heartbeat round while behind: the last appends
          // were lost (a later one would have shown the gap), so probe again from `match`.
          if (pr.state === 'replicate' && pr.match === pr.matchAtLastHeartbeat) pr.becomeProbe();
          this.sendAppend(m.from, pr, true);
        }
        pr.matchAtLastHeartbeat = pr.match;
        if (m.context !== undefined) this.ackRead(m.context, m.from);
        break;
      default:
        break;
    }
  }

  // ---- replication: follower side -----------------------------------------------------------

  private handleAppend(m: Message): void {
    const resp = emptyMessage('appResp', this.id, m.from, this.term);
    if (m.index < this.log.committed) {
      resp.index = this.log.committed;
    } else {
      const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
      if (lastNew !== undefined) {
        resp.index = lastNew;
      } else {
        // Fast backtracking (§5.3 optimisation): skip every entry of a term the leader cannot share.
        const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
        resp.index = m.index;
        resp.reject = true;
        resp.rejectHint = hint.index;
        resp.hintTerm = hint.term;
      }
    }
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot!;
    const resp = emptyMessage('appResp', this.id, m.from, this.term);
    if (snap.meta.index <= this.log.committed) {
      resp.index = this.log.committed;
    } else if (this.log.matchTerm(snap.meta.index, snap.meta.term)) {
      // We already have the snapshot's last entry: just learn that it is committed.
      this.log.commitTo(snap.meta.index);
      resp.index = this.log.lastIndex();
    } else {
      this.log.restore(snap);
      this.snapshot = snap;
      resp.index = this.log.lastIndex();
    }
    this.send(resp);
  }

  // ---- replication: leader side -------------------------------------------------------------

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      // The follower's hint names an index and term; our log tells how far back that term goes.
      const hint =
        m.hintTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.hintTerm).index : m.rejectHint;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.appendsDue = true;
      }
      return;
    }
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
    this.maybeCommit();
    this.appendsDue = true;
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send(emptyMessage('timeoutNow', this.id, m.from, this.term));
    }
  }

  /** Sends one append (or the snapshot) to `to`; returns false when nothing more can go now. */
  private sendAppend(to: NodeId, pr: Progress, allowEmpty: boolean): boolean {
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || pr.next < this.log.firstIndex()) {
      if (!pr.recentActive) return false; // don't stream a snapshot to a member we can't hear
      const snap = this.snapshot;
      const m = emptyMessage('snap', this.id, to, this.term);
      m.snapshot = snap;
      this.send(m);
      pr.becomeSnapshot(snap.meta.index);
      return false;
    }
    const ents = this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxSizePerMsg);
    if (ents.length === 0 && !allowEmpty) return false;
    const m = emptyMessage('app', this.id, to, this.term);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = this.log.committed;
    this.send(m);
    pr.commitSent = Math.max(pr.commitSent, Math.min(m.commit, prevIndex + ents.length));
    pr.sentEntries(
      prevIndex + ents.length,
      ents.length,
      ents.reduce((n, e) => n + entrySize(e), 0),
    );
    return ents.length > 0;
  }

  /** Leader: appends or a read round are owed and will be produced with the next Ready. */
  hasOwedSends(): boolean {
    return this.role === 'leader' && (this.appendsDue || this.commitAdvanced || this.readOnly.hasUnsent());
  }

  /** Leader: the appends owed to followers, produced once per Ready so proposals share messages. */
  flushAppends(): void {
    if (this.role !== 'leader' || (!this.appendsDue && !this.commitAdvanced)) return;
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      let allowEmpty =
        this.commitAdvanced &&
        (!this.cfg.deferCommitNotice || Math.min(pr.forwarded, this.log.committed) > pr.commitSent);
      while (this.sendAppend(id, pr, allowEmpty) && pr.state === 'replicate') allowEmpty = false;
    }
    this.appendsDue = false;
    this.commitAdvanced = false;
  }

  /** Leader, deferring commit notices: some follower that can be sent one was not told the commit. */
  commitNoticeOwed(): boolean {
    if (this.role !== 'leader' || !this.cfg.deferCommitNotice) return false;
    for (const [id, pr] of this.prs) if (id !== this.id && this.owesCommitNotice(pr)) return true;
    return false;
  }

  /** Leader: tells each follower that was not told the commit (an append, empty when nothing is new). */
  flushCommitNotices(): void {
    if (this.role !== 'leader') return;
    for (const [id, pr] of this.prs)
      if (id !== this.id && this.owesCommitNotice(pr)) this.sendAppend(id, pr, true);
  }

  /** An append can tell `pr` a higher commit than it was told (it commits no further than its log). */
  private owesCommitNotice(pr: Progress): boolean {
    return !pr.isPaused() && Math.min(this.log.committed, pr.next - 1) > pr.commitSent;
  }

  private broadcastHeartbeat(context: string | undefined): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      const m = emptyMessage('heartbeat', this.id, id, this.term);
      // Never tell a follower to commit past what it is known to have.
      m.commit = Math.min(pr.match, this.log.committed);
      if (context !== undefined) m.context = context;
      this.send(m);
      pr.commitSent = Math.max(pr.commitSent, m.commit);
    }
  }

  /** Raft §5.3/§5.4.2: commit the highest index on a majority, but only if it is of this term. */
  private maybeCommit(): void {
    const mci = committedIndex(this.confState.voters, (id) => this.prs.get(id)?.match ?? 0);
    if (mci <= this.log.committed || this.log.term(mci) !== this.term) return;
    const wasCommittedInTerm = this.committedInTerm();
    const before = this.log.committed;
    this.log.commitTo(mci);
    this.uncommittedBytes = Math.max(
      0,
      this.uncommittedBytes - this.log.slice(before + 1, mci + 1).reduce((n, e) => n + entrySize(e), 0),
    );
    this.commitAdvanced = true;
    if (!wasCommittedInTerm) {
      const waiting = this.readsBeforeCommit;
      this.readsBeforeCommit = [];
      for (const m of waiting) this.handleReadIndex(m);
    }
  }

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /** The application persisted the log up to `index` (leader: this counts as our own ack). */
  onPersisted(index: number): void {
    if (this.role !== 'leader') return;
    const self = this.prs.get(this.id);
    if (self?.maybeUpdate(index)) this.maybeCommit();
  }

  // ---- proposals ----------------------------------------------------------------------------

  private appendEntries(ents: Entry[]): void {
    let index = this.log.lastIndex();
    const stamped = ents.map((e) => ({ ...e, term: this.term, index: ++index }));
    this.log.append(stamped);
    this.uncommittedBytes += stamped.reduce((n, e) => n + entrySize(e), 0);
    this.appendsDue = true;
    // A single voter commits as soon as its own log is durable (onPersisted).
  }

  private proposeEntries(ents: Entry[]): ProposeResult {
    if (!this.prs.has(this.id)) return refuse('removed', 'this member was removed from the cluster');
    if (this.leadTransferee !== NONE) return refuse('transferring', 'leadership transfer in progress');
    const bytes = ents.reduce((n, e) => n + entrySize(e), 0);
    if (this.cfg.maxUncommittedBytes > 0 && this.uncommittedBytes > 0) {
      if (this.uncommittedBytes + bytes > this.cfg.maxUncommittedBytes) {
        return refuse('overloaded', 'too many uncommitted proposals');
      }
    }
    for (const e of ents) {
      if (e.type !== 'conf') continue;
      const refused = this.checkConfChange(decodeConfChange(e.data));
      if (refused) return refused;
    }
    this.appendEntries(ents);
    this.syncConfig();
    return { accepted: true };
  }

  /** Why a membership change may not be proposed now, or undefined when it may. */
  private checkConfChange(cc: ConfChange): ProposeResult | undefined {
    if (this.log.lastConfIndex() > this.log.committed || !this.committedInTerm()) {
      return refuse('confChangePending', 'a membership change is already in progress');
    }
    const isVoter = this.isVoter(cc.nodeId);
    const isLearner = this.confState.learners.includes(cc.nodeId);
    const unknown =
      isVoter || isLearner ? undefined : refuse('memberNotFound', `member ${cc.nodeId} does not exist`);
    switch (cc.type) {
      case 'addLearner':
        return unknown ? undefined : refuse('memberExists', `member ${cc.nodeId} already exists`);
      case 'promote': {
        if (unknown) return unknown;
        if (!isLearner) return refuse('notLearner', `member ${cc.nodeId} is not a learner`);
        const pr = this.prs.get(cc.nodeId);
        const caughtUp =
          pr !== undefined &&
          pr.state === 'replicate' &&
          pr.match > 0 &&
          pr.match + this.cfg.learnerCatchUpLag >= this.log.committed;
        return caughtUp
          ? undefined
          : refuse('learnerBehind', `learner ${cc.nodeId} has not caught up with the leader yet`);
      }
      case 'remove':
        if (unknown) return unknown;
        if (isVoter && this.confState.voters.length === 1)
          return refuse('lastVoter', 'cannot remove the last voter');
        if (isVoter && this.cfg.strictReconfigCheck && !this.activeQuorumWithout(cc.nodeId)) {
          return refuse(
            'unhealthy',
            `without ${cc.nodeId}, the voters heard from lately would not be a quorum`,
          );
        }
        return undefined;
    }
  }

  /** Proposes application data (leader appends; a follower forwards to the leader). */
  propose(data: Uint8Array): ProposeResult {
    return this.proposeEntry({ term: 0, index: 0, type: 'normal', data });
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.proposeEntry({ term: 0, index: 0, type: 'conf', data: encodeConfChange(cc) });
  }

  private proposeEntry(e: Entry): ProposeResult {
    if (this.role === 'leader') return this.proposeEntries([e]);
    if (this.lead === NONE) return refuse('noLeader', 'no leader');
    if (e.type === 'conf') return refuse('notLeader', 'not the leader');
    const m = emptyMessage('prop', this.id, this.lead, 0);
    m.entries = [e];
    this.send(m);
    return { accepted: true };
  }

  // ---- linearizable reads (ReadIndex, thesis §6.4) ------------------------------------------

  /** Asks for a read index; the answer arrives as a ReadState with the same context. */
  readIndex(context: string): ProposeResult {
    const m = emptyMessage('readIndex', this.id, this.id, 0);
    m.context = context;
    if (this.role === 'leader') {
      this.handleReadIndex(m);
      return { accepted: true };
    }
    if (this.lead === NONE) return refuse('noLeader', 'no leader');
    this.send({ ...m, to: this.lead });
    return { accepted: true };
  }

  private handleReadIndex(m: Message): void {
    const context = m.context ?? '';
    if (!this.committedInTerm()) {
      // A new leader does not know the commit index until it commits an entry of its own term.
      this.readsBeforeCommit.push(m);
      return;
    }
    if (this.confState.voters.length === 1 && this.isVoter()) {
      this.answerRead(m.from, this.log.committed, context);
      return;
    }
    this.readOnly.add(context, m.from, this.log.committed, this.isVoter() ? [this.id] : []);
  }

  /** Leader: the heartbeat round for reads queued since the last Ready; one round serves them all. */
  flushReadRound(): void {
    if (this.role !== 'leader') return;
    const ctx = this.readOnly.takeUnsentContext();
    if (ctx !== undefined) this.broadcastHeartbeat(ctx);
  }

  private ackRead(context: string, from: NodeId): void {
    if (!this.isVoter(from)) return;
    const quorum = quorumSize(this.confState.voters.length);
    for (const r of this.readOnly.ack(context, from, quorum)) this.answerRead(r.from, r.index, r.context);
  }

  private answerRead(from: NodeId, index: number, context: string): void {
    if (from === this.id) {
      this.readStates.push({ index, context });
    } else {
      const r = emptyMessage('readIndexResp', this.id, from, this.term);
      r.index = index;
      r.context = context;
      this.send(r);
    }
  }

  // ---- membership -----------------------------------------------------------------------------

  /**
   * A member may stand for election if it is a voter, or if the latest change in its log removes
   * it and is not known committed: such a member may hold the only copy of that change, and
   * must be able to get it committed (it then hands leadership over).
   */
  private canCampaign(): boolean {
    if (this.isVoter()) return true;
    const lastConf = this.log.lastConfIndex();
    return lastConf > this.log.committed && this.log.confStateAt(lastConf - 1).voters.includes(this.id);
  }

  /** Follows configuration changes in the log: the leader tracks exactly the current members. */
  private syncConfig(): void {
    if (this.log.confVersion === this.confVersionSeen) return;
    this.confVersionSeen = this.log.confVersion;
    if (this.role !== 'leader') return;
    const members = this.members();
    for (const id of [...this.prs.keys()]) if (!members.includes(id)) this.prs.delete(id);
    for (const id of members) {
      const existing = this.prs.get(id);
      if (existing) existing.isLearner = !this.isVoter(id);
      else {
        const pr = new Progress(
          this.log.lastIndex() + 1,
          !this.isVoter(id),
          this.cfg.maxInflightMsgs,
          this.cfg.maxInflightBytes,
        );
        pr.recentActive = true; // give a new member a chance to answer before it counts as gone
        this.prs.set(id, pr);
      }
    }
    if (this.leadTransferee !== NONE && !this.isVoter(this.leadTransferee)) this.leadTransferee = NONE;
    this.maybeCommit(); // a smaller quorum may already hold more entries
    this.appendsDue = true;
  }

  /** The application finished applying up to `index` (called by RawNode.advance). */
  onApplied(index: number): void {
    this.appliedConfirmed = Math.max(this.appliedConfirmed, index);
  }

  // ---- leadership transfer (thesis §3.10) ------------------------------------------------------

  transferLeadership(to: NodeId): ProposeResult {
    if (this.role !== 'leader') return refuse('notLeader', 'not the leader');
    if (to === this.id) return { accepted: true };
    if (!this.isVoter(to)) return refuse('badTransferee', `member ${to} is not a voter`);
    const pr = this.prs.get(to)!;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.send(emptyMessage('timeoutNow', this.id, to, this.term));
    else this.appendsDue = true;
    return { accepted: true };
  }

  // ---- snapshots and flow control ---------------------------------------------------------------

  /**
   * The application took a snapshot of its state at `index` (applied and persisted). It becomes
   * what slow followers are sent; the log keeps `keepEntries` before it so that followers only a
   * little behind still catch up from the log.
   */
  compact(index: number, data: Uint8Array, keepEntries = 0): Snapshot {
    const term = this.log.term(index);
    if (term === undefined) throw new Error(`cannot snapshot at ${index}: not in the log`);
    if (index > this.appliedConfirmed)
      throw new Error(`cannot snapshot at ${index}: applied ${this.appliedConfirmed}`);
    this.snapshot = { meta: { index, term, confState: this.log.confStateAt(index) }, data };
    const base = index - keepEntries;
    if (base >= this.log.firstIndex()) {
      // Only the base's index and term matter to the log; its data lives in this.snapshot.
      this.log.compact({
        meta: { index: base, term: this.log.term(base)!, confState: this.log.confStateAt(base) },
        data: new Uint8Array(),
      });
    }
    return this.snapshot;
  }

  /** The transport lost its connection to `id`: probe it, and count it as down until it is heard again. */
  reportUnreachable(id: NodeId): void {
    const pr = this.prs.get(id);
    if (this.role !== 'leader' || !pr) return;
    if (pr.state === 'replicate') pr.becomeProbe();
    pr.heardAt = -Infinity;
  }

  reportSnapshot(id: NodeId, failed: boolean): void {
    const pr = this.prs.get(id);
    if (this.role !== 'leader' || pr?.state !== 'snapshot') return;
    if (failed) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer before probing again: it may still be installing.
    pr.probeSent = true;
  }

  get electionTimeoutTicks(): number {
    return this.randomizedElectionTimeout;
  }
}
