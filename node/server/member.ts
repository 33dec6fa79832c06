// The member: drives the Raft core with real time, a real disk and real sockets. One loop takes
// each Ready in turn: persist (one fsync), send, apply to the key-value backend (whose batch
// transaction is committed to disk every 100 ms), answer the clients whose requests were applied,
// then advance.
// Everything here is effects; the decisions are in node/raft.
import { EventEmitter } from 'node:events';
import type { Logger } from 'winston';
import { AUTH_ERR, tokenStands } from '../auth/state.js';
import { TokenTable } from '../auth/tokens.js';
import { bootstrapSnapshot, decodeConfChange } from '../raft/confchange.js';
import { RawNode } from '../raft/rawnode.js';
import type { ProposeResult, RaftInitialState, Refusal } from '../raft/raft.js';
import {
  NONE,
  type ConfChange,
  type Entry,
  type HardState,
  type Message,
  type Ready,
  type Snapshot,
} from '../raft/types.js';
import type { MemberConfig } from './config.js';
import {
  decodeConfContext,
  decodeEnvelope,
  encodeConfContext,
  encodeEnvelope,
  type Envelope,
} from './envelope.js';
import { memberId } from './ids.js';
import { MemberTable, type MemberInfo } from './members.js';
import type { KvBackend, LogStore, MemberMetrics, PeerTransport, WriteOutcome } from './ports.js';
import { publishStep } from './publish.js';
import { ReadBatcher } from './read-batcher.js';
import { decodeMembers, encodeMembers, snapshotPayload, splitSnapshotPayload } from './snapshot-payload.js';
import { Waiters } from './waiters.js';
import { WatchHub } from './watch-hub.js';

/**
 * How long an idle leader keeps a new commit index from followers that wait on nothing, hoping to
 * send it with the next append. Serializable reads and watches on those followers see a write up
 * to this much later; a follower's linearizable reads get the index with their heartbeat round.
 */
const COMMIT_NOTICE_MS = 2;

export class MemberError extends Error {
  constructor(
    message: string,
    readonly code: 'unavailable' | 'invalid' | 'notFound' | 'failedPrecondition' | 'resourceExhausted',
  ) {
    super(message);
    this.name = 'MemberError';
  }
}

/**
 * etcd's error for each refusal of the Raft core, word for word: etcd's client libraries turn an
 * error into a typed one (ErrNoLeader, ErrTooManyRequests, ...) by its message. Where etcd has no
 * error of its own (undefined here) the core's reason is the message.
 */
const ETCD_REFUSALS: Record<Refusal, [string | undefined, MemberError['code']]> = {
  noLeader: ['no leader', 'unavailable'],
  notLeader: ['not leader', 'failedPrecondition'],
  removed: ['server stopped', 'unavailable'],
  transferring: [undefined, 'unavailable'],
  overloaded: ['too many requests', 'resourceExhausted'],
  confChangePending: [undefined, 'failedPrecondition'],
  memberExists: ['member ID already exist', 'failedPrecondition'],
  memberNotFound: ['member not found', 'notFound'],
  notLearner: ['can only promote a learner member', 'failedPrecondition'],
  learnerBehind: ['can only promote a learner member which is in sync with leader', 'failedPrecondition'],
  lastVoter: [undefined, 'failedPrecondition'],
  unhealthy: ['unhealthy cluster', 'unavailable'],
  badTransferee: ['bad leader transferee', 'failedPrecondition'],
};

function refusalError(res: Extract<ProposeResult, { accepted: false }>): MemberError {
  const [message, code] = ETCD_REFUSALS[res.refusal];
  return new MemberError(`etcdserver: ${message ?? res.reason}`, code);
}

export interface MemberParts {
  /** This member's ID, kept in its data dir from its first start (member-file.ts). */
  id: string;
  config: MemberConfig;
  logger: Logger;
  wal: LogStore;
  walState: { hardState: HardState; snapshotMeta?: Snapshot['meta']; entries: Entry[] };
  backend: KvBackend;
  transport: PeerTransport;
  members: MemberTable;
  saveMembers: (table: MemberTable) => Promise<void>;
  metrics: MemberMetrics;
}

/** Every founding member builds the same bootstrap state from --initial-cluster. */
export function founders(config: MemberConfig): MemberInfo[] {
  return [...config.initialCluster].map(([name, peerURLs]) => ({
    id: memberId(peerURLs[0]!, config.initialClusterToken),
    name,
    peerURLs,
    clientURLs: [],
  }));
}

export class Member extends EventEmitter {
  readonly id: string;
  /** Auth tokens granted through the log (etcd's simple tokens). */
  readonly tokens: TokenTable;
  private readonly rn: RawNode;
  private backend: KvBackend;
  private readonly waiters: Waiters<WriteOutcome>;
  private readonly reads: ReadBatcher;
  private hardState: HardState;
  private snapshotIndex: number;
  /** The last log index the WAL holds durably. */
  private persistedIndex: number;
  private wakeUp: (() => void) | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private progressTicker: NodeJS.Timeout | undefined;
  /** Entries this follower passed to a leader that went away before they were sent (onSoftState). */
  private unsentProposals: Entry[] = [];
  /** Leader: sends the commit notices still owed (see noticeCommitSoon). */
  private commitNotice: NodeJS.Timeout | undefined;
  private loopDone: Promise<void> | undefined;
  private stopping = false;
  private failed = false;
  private seq = 0;
  private readonly bootNonce = Math.random().toString(36).slice(2, 8);
  private leader = NONE;
  private publishProposedAt = -Infinity;
  private metricsAt = 0;
  /** Watches over this member's backend. */
  readonly watches = new WatchHub(() => this.backend);
  /** Members added as voters: they join as learners and are promoted once caught up. */
  private readonly autoPromote = new Set<string>();
  /**
   * Started with an empty data dir to join a running cluster. Until the leader's first snapshot
   * arrives it casts no votes: if it had been a voter before and lost its disk, a vote now could
   * contradict one it cast before (two leaders in one term). The leader, which remembers how far
   * this member's log went, exposes such a member with its first heartbeat (see stepOrStop).
   */
  private joining: boolean;
  /**
   * A joiner takes no entries or snapshot before the leader's first heartbeat: that heartbeat is
   * what shows whether the leader remembers entries this member no longer has. Without the wait,
   * a snapshot could arrive first and a voter that lost its disk would rejoin unnoticed.
   */
  private heardLeader = false;
  /** When the current leader last replicated to this member (performance.now()). */
  private leaderHeardAt = -Infinity;
  /** Work the Raft loop runs before its next Ready, with no apply in flight (defragment). */
  private readonly betweenReadies: Array<() => Promise<void>> = [];
  /** Defragmentations under way: committed entries are held back meanwhile. */
  private defrags = 0;
  /** Committed entries not yet applied, in order: the loop goes on while the backend defragments. */
  private heldBack: Entry[][] = [];
  /** Staging a received snapshot and installing one take turns: no install of a half-built image. */
  private snapshotWork: Promise<unknown> = Promise.resolve();

  constructor(private readonly p: MemberParts) {
    super();
    const cfg = p.config;
    this.id = p.id;
    this.backend = p.backend;
    this.tokens = new TokenTable(cfg.authTokenTtlMs);
    const initial = this.initialRaftState();
    this.hardState = initial.hardState;
    this.snapshotIndex = initial.snapshot.meta.index;
    this.persistedIndex = initial.entries.at(-1)?.index ?? initial.snapshot.meta.index;
    // Nothing from the cluster yet (start() makes the empty starting point durable, so a restart
    // before the leader's snapshot or first entry still finds index 0 and no entries): it must not
    // vote, or a voter that lost its disk could help elect a leader without its acknowledged writes.
    const { snapshotMeta, entries } = p.walState;
    this.joining =
      cfg.initialClusterState === 'existing' && (snapshotMeta?.index ?? 0) === 0 && entries.length === 0;
    this.rn = new RawNode(
      {
        id: this.id,
        heartbeatTick: 1,
        electionTick: Math.round(cfg.electionTimeoutMs / cfg.heartbeatIntervalMs),
        rand: Math.random,
        maxSizePerMsg: 1024 * 1024,
        maxInflightMsgs: 256,
        maxUncommittedBytes: 1 << 30,
        deferCommitNotice: true,
        strictReconfigCheck: cfg.strictReconfigCheck,
        preVote: cfg.preVote,
      },
      initial,
    );
    this.refuseIfRemoved();
    const timeout = 5000 + 2 * cfg.electionTimeoutMs;
    this.waiters = new Waiters(timeout);
    this.reads = new ReadBatcher(
      `${this.id}-${this.bootNonce}`,
      (ctx) => {
        const res = this.rn.readIndex(ctx);
        this.wake();
        return res.accepted ? undefined : refusalError(res);
      },
      () => this.backend.appliedIndex().index,
      timeout,
    );
  }

  /** The Raft state to start from: a new cluster, a member joining one, or a restart. */
  private initialRaftState(): RaftInitialState {
    const { walState, config } = this.p;
    const applied = this.backend.appliedIndex().index;
    if (walState.snapshotMeta) {
      const meta = walState.snapshotMeta;
      if (applied < meta.index) {
        throw new Error(
          `backend is at index ${applied} but the WAL's snapshot is at ${meta.index}: the data directory is damaged`,
        );
      }
      const hardState = walState.hardState;
      return {
        hardState,
        snapshot: { meta, data: new Uint8Array() },
        entries: walState.entries,
        applied: Math.min(applied, hardState.commit),
      };
    }
    if (config.initialClusterState === 'new') {
      const boot = bootstrapSnapshot(founders(config).map((m) => m.id));
      return { hardState: { term: 1, vote: NONE, commit: 1 }, snapshot: boot, entries: [] };
    }
    // Joining: an empty member learns the configuration and the data from the leader's snapshot.
    const empty = {
      meta: { index: 0, term: 0, confState: { voters: [], learners: [] } },
      data: new Uint8Array(),
    };
    return { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: empty, entries: [] };
  }

  /** A member removed from the cluster must not come back with its old data. */
  private refuseIfRemoved(): void {
    const cs = this.rn.raft.confState;
    const known = cs.voters.length + cs.learners.length > 0;
    if (known && !cs.voters.includes(this.id) && !cs.learners.includes(this.id)) {
      throw new Error(
        `member ${this.p.config.name} (${this.id}) was removed from the cluster; its data in ` +
          `${this.p.config.dataDir} must not rejoin. Delete the data directory and add it again as a new member.`,
      );
    }
  }

  async start(): Promise<void> {
    const { wal, walState, transport, config } = this.p;
    if (!walState.snapshotMeta) {
      // Make the starting point durable before anything else happens: first the backend at a new
      // cluster's first index (its state is the empty one), so that a member killed before its
      // first backend commit does not restart to a WAL snapshot ahead of its backend.
      const { meta } = this.rn.raft.snapshot;
      if (meta.index > 0) {
        this.backend.applyBatch([{ index: meta.index, term: meta.term, request: null }]);
        await this.backend.flushed();
      }
      await wal.saveSnapshot(meta);
      await wal.save(this.hardState, []);
    }
    transport.onMessages((msgs) => {
      for (const m of msgs) {
        if (this.joining && (m.type === 'vote' || m.type === 'preVote')) continue;
        if (this.joining && !this.heardLeader && (m.type === 'app' || m.type === 'snap')) continue;
        if (!this.stepOrStop(m)) return;
        if (m.type === 'heartbeat') this.heardLeader = true;
        if ((m.type === 'heartbeat' || m.type === 'app') && m.from === this.rn.raft.lead) {
          this.leaderHeardAt = performance.now();
        }
      }
      this.wake();
    });
    transport.onSnapshot(async (_from, m, chunks) => {
      // Refused, the leader retries after its next heartbeat (the sender reports the failure).
      if (this.joining && !this.heardLeader) throw new Error("waiting for the leader's first heartbeat");
      const meta = m.snapshot!.meta;
      // The image is built on disk as it streams in; the core then gets the message with only the
      // member table, and the image is swapped in when the core installs the snapshot.
      const members = await this.snapshotTurn(async () => {
        const { members, db } = await splitSnapshotPayload(chunks);
        const staged = await this.backend.stageSnapshot(db);
        if (staged.index < meta.index) {
          throw new Error(`the snapshot's image is at index ${staged.index}, behind its index ${meta.index}`);
        }
        return members;
      });
      if (!this.stepOrStop({ ...m, snapshot: { meta, data: encodeMembers(members) } })) return;
      this.wake();
    });
    this.syncPeers();
    this.ticker = setInterval(() => this.tick(), config.heartbeatIntervalMs);
    this.progressTicker = setInterval(
      () => this.watches.notifyProgress(),
      config.watchProgressNotifyIntervalMs,
    );
    this.loopDone = this.loop();
  }

  private tick(): void {
    this.rn.tick();
    this.reads.tick();
    this.maybePublish();
    this.maybePromote();
    this.wake();
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const work = this.betweenReadies.shift();
      if (work) {
        await work();
        continue;
      }
      if (!this.rn.hasReady()) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        continue;
      }
      const rd = this.rn.ready();
      try {
        await this.handleReady(rd);
      } catch (e) {
        // A failed fsync or a broken backend: stop rather than risk acknowledging lost data.
        this.fail('fatal error in the raft loop', e);
        return;
      }
      this.rn.advance();
      this.reads.onApplied();
      this.noticeCommitSoon();
      await this.maybeSnapshot();
    }
  }

  /**
   * A leader tells followers a new commit index with its next append, which under load follows
   * within a fraction of a millisecond; an idle one tells them after COMMIT_NOTICE_MS instead of
   * at once with an append of its own (and the answer to it). Followers whose clients wait on the
   * commit are told at once by the core (RaftConfig.deferCommitNotice).
   */
  private noticeCommitSoon(): void {
    if (this.stopping || this.commitNotice || !this.rn.commitNoticeOwed()) return;
    this.commitNotice = setTimeout(() => {
      this.commitNotice = undefined;
      this.rn.flushCommitNotices();
      this.wake();
    }, COMMIT_NOTICE_MS);
  }

  /** Stops the member on an error it cannot serve through (main.ts exits on 'fatal'). */
  fail(what: string, e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.stopping = true;
    this.p.logger.error(`${what}; stopping`, { error: String(e), term: this.hardState.term });
    this.emit('fatal', e);
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { metrics } = this.p;
    if (rd.softState) this.onSoftState(rd.softState.leader, rd.softState.role);
    if (rd.snapshot) await this.installSnapshot(rd.snapshot);
    // A leader's messages never depend on its own unsynced entries (it counts itself only once
    // they are durable), so it replicates while it writes, as Raft allows. Not so for a new term
    // or vote (a single voter wins its election within one Ready): those are durable first.
    const termOrVoteChanged =
      rd.hardState !== undefined &&
      (rd.hardState.term !== this.hardState.term || rd.hardState.vote !== this.hardState.vote);
    const sendEarly = this.rn.raft.role === 'leader' && !termOrVoteChanged;
    if (sendEarly) this.send(rd.messages);
    if (rd.hardState) this.hardState = rd.hardState;
    const saving = rd.mustSync || rd.entries.length > 0 ? this.save(rd) : undefined;
    // A commit index that moved on its own is written unsynced, before anything applied by it is
    // seen: a process killed now restarts at least where it was (a power cut may lose it, as
    // with etcd), instead of serving reads older than those it already served.
    if (!saving && rd.hardState) await this.p.wal.save(this.hardState, [], 'none');
    // Entries persisted by an earlier Ready may be applied while this one's fsync runs (the
    // backend's commit and the WAL's fdatasync then overlap); the rest wait for it.
    const lastCommitted = rd.committedEntries.at(-1)?.index ?? 0;
    const early = !rd.snapshot && lastCommitted <= this.persistedIndex;
    if (early && rd.committedEntries.length > 0) await this.apply(rd.committedEntries);
    await saving;
    if (!sendEarly) this.send(rd.messages);
    if (!early && rd.committedEntries.length > 0) await this.apply(rd.committedEntries);
    for (const rs of rd.readStates) this.reads.onReadState(rs.context, rs.index);
    // Gauges are read at scrape time; refreshing them on every Ready would cost more than it tells.
    const now = performance.now();
    if (rd.softState || now - this.metricsAt >= 100) {
      this.metricsAt = now;
      metrics.raft(this.rn.status(), this.backend);
    }
  }

  private async save(rd: Ready): Promise<void> {
    // With at most one client request open here (the one this save may be for), nothing else waits
    // for this thread, so the fdatasync runs on it. With more, the thread's time is worth more
    // than the hand-off to the thread pool: 64-client puts ran 27% slower with every one inline.
    const open = this.waiters.size + this.reads.size;
    await this.p.wal.save(this.hardState, rd.entries, open <= 1 ? 'inline' : 'thread-pool');
    const last = rd.entries.at(-1);
    if (last) this.persistedIndex = last.index;
  }

  private send(msgs: Message[]): void {
    if (msgs.length === 0) return;
    const plain: Message[] = [];
    for (const m of msgs) {
      if (m.type === 'snap') void this.sendSnapshot(m);
      else plain.push(m);
    }
    this.p.transport.send(plain);
  }

  private async sendSnapshot(m: Message): Promise<void> {
    let bytes = 0;
    async function* counted(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const c of chunks) {
        bytes += c.byteLength;
        yield c;
      }
    }
    try {
      await this.p.transport.sendSnapshot(m.to, m, counted(snapshotPayload(this.p.members, this.backend)));
      this.rn.reportSnapshot(m.to, false);
      this.p.logger.info('snapshot sent', { to: m.to, index: m.snapshot!.meta.index, bytes });
    } catch (e) {
      this.rn.reportSnapshot(m.to, true);
      this.p.logger.warn('snapshot send failed', { to: m.to, error: String(e) });
    }
    this.wake();
  }

  private snapshotTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.snapshotWork.then(work);
    this.snapshotWork = run.catch(() => undefined);
    return run;
  }

  private async installSnapshot(snap: Snapshot): Promise<void> {
    const { logger, wal } = this.p;
    logger.info('installing snapshot from leader', { index: snap.meta.index, term: snap.meta.term });
    this.joining = false;
    const members = decodeMembers(snap.data);
    await this.snapshotTurn(() => this.backend.installStagedSnapshot(snap.meta.index));
    this.watches.resync();
    for (const m of members) this.p.members.upsert(m);
    await this.p.saveMembers(this.p.members);
    // The WAL may only point past entries once the backend holding them is on disk.
    await this.backend.flushed();
    await wal.saveSnapshot(snap.meta);
    this.snapshotIndex = snap.meta.index;
    this.persistedIndex = snap.meta.index;
    this.syncPeers();
  }

  /**
   * The core refuses a message that contradicts this member's durable state (e.g. "commit 26 is
   * past the last index 0": the leader knows this member had entries its disk no longer has).
   * Serving on would mean serving from lost data, so the member stops, as etcd does.
   */
  private stepOrStop(m: Message): boolean {
    try {
      this.rn.step(m);
      return true;
    } catch (e) {
      const lost = this.joining
        ? ' It started with an empty data dir: its data was lost; remove it from the cluster and add it back as a new member.'
        : '';
      this.p.logger.error(`message from ${m.from} contradicts this member's log; stopping.${lost}`, {
        error: String(e),
        type: m.type,
        term: this.hardState.term,
      });
      this.stopping = true;
      this.emit('fatal', e);
      return false;
    }
  }

  private onSoftState(leader: string, role: string): void {
    if (leader === this.leader) return;
    this.p.metrics.leaderChanged(leader !== NONE);
    this.p.logger.info('leader changed', { leader, role, term: this.rn.raft.term });
    // Proposals passed to a leader that is gone and still queued for it (its connection was
    // down) never reached it: they go to the next leader instead of timing out (etcd's do).
    if (this.leader !== NONE && this.leader !== this.id) {
      for (const m of this.p.transport.takeUnsent(this.leader, 'prop'))
        this.unsentProposals.push(...m.entries);
    }
    this.leader = leader;
    if (leader !== NONE) this.proposeAgain();
  }

  /** Proposes the entries taken back from a lost leader again, those whose clients still wait. */
  private proposeAgain(): void {
    const entries = this.unsentProposals;
    this.unsentProposals = [];
    for (const e of entries) {
      const env = decodeEnvelope(e.data);
      if (env.kind === 'publish' || this.waiters.has(env.id)) this.rn.propose(e.data);
    }
  }

  private async apply(entries: Entry[]): Promise<void> {
    if (this.holdingBack) {
      this.heldBack.push(entries);
      return;
    }
    const batch: Array<{ index: number; term: number; request: Uint8Array | null }> = [];
    const ids: Array<string | undefined> = [];
    const grants: Array<[number, Extract<Envelope, { kind: 'authenticate' }>]> = [];
    for (const e of entries) {
      let request: Uint8Array | null = null;
      let id: string | undefined;
      if (e.type === 'conf') await this.applyConfChange(decodeConfChange(e.data));
      else if (e.data.byteLength > 0) {
        const env = decodeEnvelope(e.data);
        id = env.id;
        if (env.kind === 'kv') request = env.request;
        else if (env.kind === 'publish') this.applyPublish(env);
        else if (env.kind === 'authenticate') grants.push([batch.length, env]);
        else this.applyMemberUpdate(env);
      }
      batch.push({ index: e.index, term: e.term, request });
      ids.push(id);
    }
    // The clients are answered at once: the entries are durable in the WAL already, and reads see
    // the batch before the backend commits it.
    const results: unknown[] = this.backend.applyBatch(batch);
    // Tokens go by the auth store after the batch; a token is checked against it again at each use.
    for (const [i, env] of grants) results[i] = this.grantToken(env, batch[i]!.index);
    this.reads.onApplied();
    results.forEach((r, i) => {
      const id = ids[i];
      if (id !== undefined) this.waiters.resolve(id, r);
    });
  }

  /** An applied Authenticate: the token, if auth is on and the user's password is still the one checked. */
  private grantToken(env: Extract<Envelope, { kind: 'authenticate' }>, index: number): unknown {
    const auth = this.backend.auth();
    if (!auth.enabled) return AUTH_ERR.authNotEnabled();
    if (!tokenStands(auth, env)) return AUTH_ERR.authFailed();
    const token = `${env.tokenPrefix}.${index}`;
    this.tokens.add(token, { user: env.user, hash: env.hash });
    return { token };
  }

  private applyPublish(env: Extract<Envelope, { kind: 'publish' }>): void {
    this.p.members.upsert({ id: env.member.id, name: env.member.name, clientURLs: env.member.clientURLs });
    void this.p.saveMembers(this.p.members);
  }

  /** A member removed since the update was proposed stays removed: the update changes nothing then. */
  private applyMemberUpdate(env: Extract<Envelope, { kind: 'memberUpdate' }>): void {
    if (!this.p.members.get(env.member.id)) return;
    this.p.members.upsert({ id: env.member.id, peerURLs: env.member.peerURLs });
    void this.p.saveMembers(this.p.members);
    this.syncPeers();
    this.p.logger.info('member peer URLs updated', {
      member: env.member.id,
      peerURLs: env.member.peerURLs,
      term: this.rn.raft.term,
    });
  }

  private async applyConfChange(cc: ConfChange): Promise<void> {
    const ctx = decodeConfContext(cc.context);
    if (cc.type === 'addLearner' && ctx) {
      this.p.members.readmit(cc.nodeId);
      this.p.members.upsert({ id: cc.nodeId, name: ctx.name, peerURLs: ctx.peerURLs });
    }
    if (cc.type === 'remove') this.p.members.remove(cc.nodeId);
    await this.p.saveMembers(this.p.members);
    this.syncPeers();
    this.p.logger.info('membership change applied', {
      change: cc.type,
      member: cc.nodeId,
      term: this.rn.raft.term,
    });
    // A joiner replays history: a removal of this member followed by its re-addition is no exit.
    if (cc.type === 'remove' && cc.nodeId === this.id && !this.inConfiguration())
      this.emit('removed', 'applied');
  }

  private syncPeers(): void {
    const peers = new Map<string, string>();
    for (const m of this.p.members.all())
      if (m.id !== this.id && m.peerURLs[0]) peers.set(m.id, m.peerURLs[0]);
    this.p.transport.setPeers(peers);
  }

  /** This member's name and client URLs are in the applied member table (it is ready only then). */
  private published(): boolean {
    const me = this.p.members.get(this.id);
    return (
      me?.name === this.p.config.name && me.clientURLs.join() === this.p.config.advertiseClientUrls.join()
    );
  }

  /** Tells the cluster where clients reach this member, as publish.ts schedules it. */
  private maybePublish(): void {
    const now = performance.now();
    const step = publishStep({
      listed: this.published(),
      hasLeader: this.leader !== NONE,
      now,
      proposedAt: this.publishProposedAt,
      retryMs: this.p.config.electionTimeoutMs,
    });
    if (step !== 'propose') return;
    const env: Envelope = {
      kind: 'publish',
      id: this.nextRequestId(),
      member: { id: this.id, name: this.p.config.name, clientURLs: this.p.config.advertiseClientUrls },
    };
    if (this.rn.propose(encodeEnvelope(env)).accepted) this.publishProposedAt = now;
  }

  private maybePromote(): void {
    if (!this.isLeader()) return;
    for (const id of this.autoPromote) {
      if (!this.rn.raft.confState.learners.includes(id)) this.autoPromote.delete(id);
      else if (this.rn.proposeConfChange({ type: 'promote', nodeId: id }).accepted) {
        this.p.logger.info('promoting caught-up learner', { member: id, term: this.rn.raft.term });
      }
    }
  }

  private async maybeSnapshot(): Promise<void> {
    // Raft counts held-back entries as applied; the backend does not hold them yet.
    if (this.holdingBack) return;
    const { config, wal } = this.p;
    const applied = this.rn.raft.appliedConfirmed;
    if (applied - this.snapshotIndex < config.snapshotCount) return;
    // Snapshots are cut from the backend, so it must hold `applied` first; and the log may only be
    // trimmed past what the backend holds on disk.
    await this.backend.flushed();
    // Messages are stepped while this waits: a snapshot from the leader may have replaced the log
    // with a newer starting point, and then there is nothing to cut here.
    if (this.rn.raft.log.term(applied) === undefined) return;
    this.rn.compact(applied, new Uint8Array(), config.snapshotCatchUpEntries);
    await wal.saveSnapshot(this.rn.raft.snapshot.meta);
    await wal.releaseTo(applied - config.snapshotCatchUpEntries);
    this.snapshotIndex = applied;
    this.p.logger.info('snapshot taken', { index: applied, term: this.rn.raft.term });
  }

  // ---- what the API calls ---------------------------------------------------------------------

  private nextRequestId(): string {
    return `${this.id}-${this.bootNonce}-${++this.seq}`;
  }

  /** Proposes an encoded backend write and resolves with its result once applied here. */
  write(request: Uint8Array): Promise<WriteOutcome> {
    return this.proposeAndWait({ kind: 'kv', id: this.nextRequestId(), request });
  }

  /**
   * etcd's member update: new peer URLs for a member, through the log (no change of who votes),
   * then every member dials it there. Refused for an unknown member or URLs another one has.
   */
  async updateMember(id: string, peerURLs: string[]): Promise<void> {
    if (!this.p.members.get(id)) throw new MemberError('etcdserver: member not found', 'notFound');
    this.refuseTakenPeerURLs(peerURLs, id);
    await this.proposeAndWait({ kind: 'memberUpdate', id: this.nextRequestId(), member: { id, peerURLs } });
  }

  /**
   * etcd's Authenticate once the caller has checked the password against `hash`: a token through
   * the log, so that every member accepts it. Resolves to the token.
   */
  async authenticate(user: string, hash: string): Promise<string> {
    const out = await this.proposeAndWait({
      kind: 'authenticate',
      id: this.nextRequestId(),
      user,
      tokenPrefix: TokenTable.prefix(),
      hash,
    });
    if (out instanceof Error) throw out;
    return (out as { token: string }).token;
  }

  private async proposeAndWait(env: Envelope): Promise<WriteOutcome> {
    const { id } = env;
    const result = this.waiters.wait(id);
    const res = this.rn.propose(encodeEnvelope(env));
    this.wake();
    if (!res.accepted) {
      this.waiters.reject(id, refusalError(res));
      this.p.metrics.proposalFailed();
    }
    this.p.metrics.proposalPending(this.waiters.size);
    try {
      return await result;
    } catch (e) {
      this.p.metrics.proposalFailed();
      throw e;
    } finally {
      this.p.metrics.proposalPending(this.waiters.size);
    }
  }

  /**
   * etcd's defragment, for this member only. It starts between two Readies, when nothing is being
   * applied; from then until the backend has swapped in its rewritten file, committed entries are
   * held back (etcd's applies wait too) while the loop goes on: the WAL, replication and a
   * leader's heartbeats, as with etcd. The held-back entries are applied, in order, before any
   * later ones.
   */
  defragment(): Promise<{ before: number; after: number }> {
    return new Promise((resolve, reject) => {
      this.betweenReadies.push(async () => {
        this.defrags++;
        this.backend
          .defragment()
          .then(resolve, reject)
          .finally(() => {
            this.defrags--;
            this.betweenReadies.push(() => this.applyHeldBack());
            this.wake();
          });
      });
      this.wake();
    });
  }

  /** While a defragmentation runs, and until what it held back is applied: later entries wait too. */
  private get holdingBack(): boolean {
    return this.defrags > 0 || this.heldBack.length > 0;
  }

  private async applyHeldBack(): Promise<void> {
    if (this.defrags > 0) return; // the last one to finish applies them
    const held = this.heldBack;
    this.heldBack = [];
    try {
      for (const entries of held) {
        // A snapshot installed meanwhile may already cover them (and its member table too).
        const fresh = entries.filter((e) => e.index > this.backend.appliedIndex().index);
        if (fresh.length > 0) await this.apply(fresh);
      }
    } catch (e) {
      this.fail('applying the entries held back during a defragmentation failed', e);
    }
  }

  /** Resolves when a linearizable read may be served from the local backend. */
  async linearizableBarrier(): Promise<void> {
    await this.reads.wait();
  }

  get kv(): KvBackend {
    return this.backend;
  }

  reportUnreachable(peer: string): void {
    this.rn.reportUnreachable(peer);
  }

  term(): number {
    return this.rn.raft.term;
  }

  isLeader(): boolean {
    return this.rn.raft.role === 'leader';
  }

  leaderId(): string {
    return this.rn.raft.lead;
  }

  memberTable(): MemberTable {
    return this.p.members;
  }

  status() {
    const s = this.rn.status();
    const cs = s.confState;
    return {
      id: this.id,
      name: this.p.config.name,
      leader: s.leader,
      term: s.term,
      commit: s.commit,
      applied: this.backend.appliedIndex().index,
      lastIndex: s.lastIndex,
      isLearner: cs.learners.includes(this.id),
      voters: cs.voters,
      learners: cs.learners,
      matches: s.matches,
      dbSize: this.backend.dbSize(),
      published: this.published(),
    };
  }

  /** Membership changes go through the leader; callers on a follower get failedPrecondition. */
  async changeMembership(cc: ConfChange, info?: { name: string; peerURLs: string[] }): Promise<void> {
    if (info) cc.context = encodeConfContext(info);
    const before = this.rn.raft.log.lastIndex();
    const res = this.rn.proposeConfChange(cc);
    this.wake();
    if (!res.accepted) throw refusalError(res);
    await this.waitApplied(before + 1);
  }

  /**
   * Whether this member leads, or a leader has replicated to it since `t` (performance.now()): then
   * it is a member, whatever a peer with a stale view of the membership says (a member replaying
   * an old removal of this ID, before the log re-adds it, refuses it as removed).
   */
  leaderReplicatedSince(t: number): boolean {
    return this.rn.raft.role === 'leader' || this.leaderHeardAt >= t;
  }

  /** In the latest configuration this member knows (configurations count from when they are appended). */
  inConfiguration(): boolean {
    const cs = this.rn.raft.confState;
    return cs.voters.includes(this.id) || cs.learners.includes(this.id);
  }

  /** Adds a member as a learner; a voter-to-be is promoted automatically once it caught up. */
  async addMember(id: string, peerURLs: string[], isLearner: boolean): Promise<void> {
    this.refuseTakenPeerURLs(peerURLs);
    await this.changeMembership({ type: 'addLearner', nodeId: id }, { name: '', peerURLs });
    if (!isLearner) this.autoPromote.add(id);
  }

  /** etcd's refusal of peer URLs that a member other than `self` has. */
  private refuseTakenPeerURLs(peerURLs: string[], self?: string): void {
    const taken = peerURLs.some((u) => (this.p.members.byPeerURL(u)?.id ?? self) !== self);
    if (taken) throw new MemberError('etcdserver: Peer URLs already exists', 'failedPrecondition');
  }

  /** Waits until this member applied `index` (used for membership changes). */
  private async waitApplied(index: number): Promise<void> {
    const deadline = Date.now() + 5000 + 2 * this.p.config.electionTimeoutMs;
    while (this.backend.appliedIndex().index < index) {
      if (Date.now() > deadline) throw new MemberError('etcdserver: request timed out', 'unavailable');
      await new Promise((r) => setTimeout(r, this.p.config.heartbeatIntervalMs));
    }
  }

  async transferLeadership(target: string): Promise<void> {
    const res = this.rn.transferLeadership(target);
    this.wake();
    if (!res.accepted) throw refusalError(res);
    const deadline = Date.now() + 2 * this.p.config.electionTimeoutMs;
    while (this.rn.raft.lead !== target) {
      if (Date.now() > deadline)
        throw new MemberError('etcdserver: request timed out, leader transfer took too long', 'unavailable');
      await new Promise((r) => setTimeout(r, this.p.config.heartbeatIntervalMs));
    }
  }

  /**
   * Graceful stop: a leader hands leadership to the most caught-up voter it is connected to first.
   * With none (the others stopped or cut off) it stops at once, as etcd does, instead of waiting
   * out a transfer that cannot happen.
   */
  async stop(): Promise<void> {
    if (this.isLeader()) {
      const voters = this.rn.raft.confState.voters.filter((id) => id !== this.id);
      const target = [...this.rn.status().matches]
        .filter(([id]) => voters.includes(id) && this.p.transport.reachable(id))
        .sort((a, b) => b[1] - a[1])[0]?.[0];
      if (!target && voters.length > 0) {
        this.p.logger.info('no reachable voter to hand leadership to; stopping', { term: this.rn.raft.term });
      }
      if (target) {
        try {
          await this.transferLeadership(target);
          this.p.logger.info('leadership transferred before stopping', {
            to: target,
            term: this.rn.raft.term,
          });
        } catch (e) {
          this.p.logger.warn('leadership transfer before stopping failed', { error: String(e) });
        }
      }
    }
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.progressTicker) clearInterval(this.progressTicker);
    clearTimeout(this.commitNotice);
    this.wake();
    await this.loopDone;
    const stopped = new MemberError('etcdserver: server stopped', 'unavailable');
    this.waiters.rejectAll(stopped);
    this.reads.failAll(stopped);
    await this.p.transport.close();
    await this.p.wal.close();
    await this.backend.close();
  }
}
