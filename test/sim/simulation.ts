// A whole cluster under simulated time: members tick, a seeded network delivers, and a seeded
// schedule of client requests and faults (partitions, crashes, restarts, membership changes,
// leadership transfers) runs against it. Safety is checked at every step; once the faults stop,
// liveness is checked: a leader appears and new proposals commit everywhere within a bound.
import { bootstrapSnapshot } from '../../node/raft/confchange.js';
import type { NodeId, ReadState } from '../../node/raft/types.js';
import { SafetyChecker, SafetyViolation } from './invariants.js';
import { CALM, SimNetwork, type NetworkFaults } from './network.js';
import { encodeCommand, SimNode, type Command } from './node.js';
import { Rng } from './rng.js';

export interface SimOptions {
  seed: number;
  members: number;
  /** Ticks of random faults and load before the network heals. */
  faultTicks?: number;
  /** Ticks the healed cluster gets to elect a leader and commit every new proposal. */
  livenessTicks?: number;
  /** Disable membership changes (the 1-member cluster has nobody to hand over to). */
  membershipChanges?: boolean;
  /**
   * The figure-8 profile: one entry per message, heavy faults, and most new leaders crash a
   * few ticks after winning, so old-term entries are often half replicated when a leader dies.
   */
  figure8?: boolean;
  trace?: (line: string) => void;
}

export interface SimResult {
  seed: number;
  members: number;
  ticks: number;
  events: number;
  committed: number;
  reads: number;
  elections: number;
  crashes: number;
  partitions: number;
  confChanges: number;
  /** Removals the strict reconfiguration check refused (a quorum of the rest was not heard from). */
  unhealthyRefusals: number;
  transfers: number;
}

const ELECTION_TICK = 10;
const HEARTBEAT_TICK = 1;

const STORMY: NetworkFaults = {
  dropRate: 0.05,
  duplicateRate: 0.03,
  maxDelay: 2,
  longDelayRate: 0.02,
  longDelay: 25,
  reorderRate: 0.1,
};

export class Simulation {
  private readonly rng: Rng;
  private readonly net: SimNetwork;
  private readonly checker = new SafetyChecker();
  private readonly nodes = new Map<NodeId, SimNode>();
  private now = 0;
  private nextCommand = 1;
  private nextMember: number;
  /** Proposals made during the liveness phase: all must commit. */
  private readonly mustCommit = new Set<number>();
  private readonly appliedCommands = new Set<number>();
  private readonly reads = new Map<string, { committedAtStart: number }>();
  private readonly stats: SimResult;
  private readonly trace: (line: string) => void;
  /** Small limits send one entry per append, which opens windows like the paper's figure 8. */
  private readonly maxSizePerMsg: number;
  /** Fault rates vary by seed, from occasional to a crash or partition every few timeouts. */
  private readonly intensity: number;
  private readonly doomRate: number;
  /** Half the seeds run leaders that defer commit notices (as the member does). */
  private readonly deferCommitNotice: boolean;
  /** Half the seeds refuse removals that would leave no quorum of voters heard from (as the member). */
  private readonly strictReconfigCheck: boolean;
  private faultPhase = true;
  /** New leaders scheduled to crash, by tick. */
  private readonly doomed = new Map<NodeId, number>();

  constructor(private readonly opts: SimOptions) {
    this.rng = new Rng(opts.seed);
    this.net = new SimNetwork(this.rng);
    this.maxSizePerMsg = opts.figure8 ? 1 : this.rng.pick([1, 200, 4096]);
    this.intensity = opts.figure8 ? 3 : this.rng.pick([1, 3, 8]);
    this.doomRate = opts.figure8 ? 0.4 : 0.2;
    this.deferCommitNotice = this.rng.chance(0.5);
    this.strictReconfigCheck = this.rng.chance(0.5);
    this.net.onSnapshotDelivery = (m, delivered) =>
      this.nodes.get(m.from)?.rn?.reportSnapshot(m.to, !delivered);
    this.trace = opts.trace ?? (() => {});
    this.stats = {
      seed: opts.seed,
      members: opts.members,
      ticks: 0,
      events: 0,
      committed: 0,
      reads: 0,
      elections: 0,
      crashes: 0,
      partitions: 0,
      confChanges: 0,
      unhealthyRefusals: 0,
      transfers: 0,
    };
    const ids = Array.from({ length: opts.members }, (_, i) => `n${i + 1}`);
    this.nextMember = opts.members + 1;
    const boot = bootstrapSnapshot(ids);
    for (const id of ids) {
      this.addNode(id, { hardState: { term: 1, vote: '', commit: 1 }, snapshot: boot, entries: [] });
    }
  }

  private addNode(id: NodeId, disk: SimNode['disk']): SimNode {
    const node = new SimNode(
      id,
      disk,
      {
        electionTick: ELECTION_TICK,
        heartbeatTick: HEARTBEAT_TICK,
        rand: () => this.rng.next(),
        maxSizePerMsg: this.maxSizePerMsg,
        deferCommitNotice: this.deferCommitNotice,
        strictReconfigCheck: this.strictReconfigCheck,
      },
      this.checker,
      {
        send: (m) => this.net.send(m, this.now),
        applied: (_id, cmd) => this.commandApplied(cmd),
        readServed: (nid, rs) => this.readServed(nid, rs),
        crashBeforePersist: (nid) => {
          if (!this.faultPhase || !this.rng.chance(0.002 * this.intensity)) return false;
          this.stats.crashes++;
          this.trace(`t=${this.now} ${nid} crashes between sending and persisting`);
          return true;
        },
        becameLeader: (nid, term) => {
          this.stats.elections++;
          this.trace(`t=${this.now} ${nid} leads term ${term}`);
          // A leader that dies moments after winning, with old entries half replicated, is the
          // paper's figure 8; make it common in the fault phase.
          if (this.faultPhase && this.rng.chance(this.doomRate))
            this.doomed.set(nid, this.now + this.rng.int(1, 4));
        },
      },
      this.rng.int(5, 40),
      this.rng.int(0, 5),
    );
    this.nodes.set(id, node);
    return node;
  }

  run(): SimResult {
    try {
      const faultTicks = this.opts.faultTicks ?? 300;
      this.net.faults = this.opts.members > 1 ? STORMY : CALM;
      for (let i = 0; i < faultTicks; i++) {
        this.injectFaults();
        this.clientLoad();
        this.step();
      }
      this.heal();
      this.checkLiveness(this.opts.livenessTicks ?? 30 * ELECTION_TICK);
      return this.stats;
    } catch (e) {
      if (e instanceof Error)
        e.message = `seed ${this.opts.seed} (${this.opts.members} members), tick ${this.now}: ${e.message}`;
      throw e;
    }
  }

  /** One tick: every member ticks, due messages are delivered, every member handles its Ready. */
  private step(): void {
    this.now++;
    this.stats.ticks++;
    for (const n of this.live()) n.rn!.tick();
    for (const m of this.net.due(this.now)) {
      const to = this.nodes.get(m.to);
      if (to?.rn) to.rn.step(m);
      if (m.type === 'snap') this.net.onSnapshotDelivery(m, to?.rn !== undefined);
      this.stats.events++;
    }
    for (const n of this.live()) {
      // A deferred commit notice goes out some ticks later, or rides on a later append.
      if (n.rn!.commitNoticeOwed() && this.rng.chance(0.3)) n.rn!.flushCommitNotices();
      n.process(this.now);
    }
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.live()) {
      const r = n.rn!.raft;
      if (r.role === 'leader' && (!best || r.term > best.rn!.raft.term)) best = n;
    }
    return best;
  }

  // ---- clients ------------------------------------------------------------------------------

  private propose(node: SimNode, mustCommit: boolean): boolean {
    const cmd: Command = {
      id: this.nextCommand++,
      key: `k${this.rng.int(1, 5)}`,
      value: `v${this.nextCommand}`,
    };
    const res = node.rn!.propose(encodeCommand(cmd));
    if (mustCommit && res.accepted) this.mustCommit.add(cmd.id);
    return res.accepted;
  }

  private clientLoad(): void {
    const live = this.live();
    if (live.length === 0) return;
    for (let i = this.rng.int(0, 3); i > 0; i--) this.propose(this.rng.pick(live), false);
    if (this.rng.chance(0.3)) {
      const n = this.rng.pick(live);
      const context = `r${this.now}-${n.id}-${this.rng.int(0, 1e9)}`;
      this.reads.set(context, { committedAtStart: this.checker.maxCommitted });
      n.rn!.readIndex(context);
    }
  }

  private commandApplied(cmd: Command): void {
    if (!this.appliedCommands.has(cmd.id)) {
      this.appliedCommands.add(cmd.id);
      this.stats.committed++;
    }
  }

  private readServed(id: NodeId, rs: ReadState): void {
    const read = this.reads.get(rs.context);
    if (!read) return; // answered twice (a duplicated message): the first answer counted
    this.reads.delete(rs.context);
    SafetyChecker.readFresh(id, rs.context, rs.index, read.committedAtStart);
    this.stats.reads++;
  }

  // ---- faults -------------------------------------------------------------------------------

  private injectFaults(): void {
    const r = this.rng;
    for (const [id, at] of this.doomed) {
      if (at > this.now) continue;
      this.doomed.delete(id);
      this.crash(this.nodes.get(id)!);
    }
    // Removed members keep running, as they would until someone stops them.
    const ids = [...this.nodes.keys()];
    if (this.opts.members > 1 && r.chance(0.01 * this.intensity)) {
      if (this.net.isCut() && r.chance(0.5)) {
        this.net.heal();
        this.trace(`t=${this.now} network heals`);
      } else {
        this.cutNetwork(ids);
      }
    }
    if (r.chance(0.01 * this.intensity)) {
      // Leaders crash more often than their share: that is where the subtle cases are.
      this.crash((r.chance(0.5) && this.leader()) || this.nodes.get(r.pick(ids))!);
    }
    if (r.chance(0.03 * this.intensity)) {
      const down = [...this.nodes.values()].filter((n) => !n.up);
      if (down.length > 0) {
        const n = r.pick(down);
        n.start();
        this.trace(`t=${this.now} ${n.id} restarts`);
      }
    }
    const leader = this.leader();
    if (!leader) return;
    if (r.chance(0.005)) {
      const to = r.pick(leader.rn!.raft.confState.voters);
      if (leader.rn!.transferLeadership(to).accepted) {
        this.stats.transfers++;
        this.trace(`t=${this.now} ${leader.id} transfers leadership to ${to}`);
      }
    }
    if ((this.opts.membershipChanges ?? true) && r.chance(0.01)) this.changeMembership(leader);
  }

  private cutNetwork(ids: NodeId[]): void {
    const r = this.rng;
    this.stats.partitions++;
    const shuffled = r.shuffle([...ids]);
    const kind = r.int(0, 2);
    if (kind === 0) {
      const at = r.int(1, shuffled.length - 1);
      this.net.partition([shuffled.slice(0, at), shuffled.slice(at)]);
      this.trace(`t=${this.now} partition ${shuffled.slice(0, at)} | ${shuffled.slice(at)}`);
    } else if (kind === 1) {
      const leader = this.leader()?.id ?? shuffled[0]!;
      this.net.partition([[leader], ids.filter((id) => id !== leader)]);
      this.trace(`t=${this.now} leader ${leader} isolated`);
    } else {
      const [a, b] = [shuffled[0]!, shuffled[1]!];
      this.net.cutLink(a, b);
      this.trace(`t=${this.now} one-way cut ${a} > ${b}`);
    }
  }

  private changeMembership(leader: SimNode): void {
    const rn = leader.rn!;
    const { voters, learners } = rn.raft.confState;
    const r = this.rng;
    let res;
    let what: string;
    if (learners.length > 0) {
      const id = r.pick(learners);
      res = rn.proposeConfChange({ type: 'promote', nodeId: id });
      what = `promote ${id}`;
    } else if (voters.length > this.opts.members || (voters.length > 1 && r.chance(0.4))) {
      const id = r.pick(voters);
      res = rn.proposeConfChange({ type: 'remove', nodeId: id });
      what = `remove ${id}`;
    } else {
      const id = `n${this.nextMember++}`;
      res = rn.proposeConfChange({ type: 'addLearner', nodeId: id });
      what = `add learner ${id}`;
      // The new member starts empty and learns everything, configuration included, from a snapshot.
      if (res.accepted) {
        const empty = {
          meta: { index: 0, term: 0, confState: { voters: [], learners: [] } },
          data: new Uint8Array(),
        };
        this.addNode(id, { hardState: { term: 0, vote: '', commit: 0 }, snapshot: empty, entries: [] });
      }
    }
    if (res.accepted) this.stats.confChanges++;
    else if (res.refusal === 'unhealthy') this.stats.unhealthyRefusals++;
    this.trace(
      `t=${this.now} ${leader.id}: ${what} ${res.accepted ? 'proposed' : `refused (${res.reason})`}`,
    );
  }

  private crash(victim: SimNode): void {
    if (!victim.up) return;
    victim.crash();
    this.stats.crashes++;
    this.trace(`t=${this.now} ${victim.id} crashes`);
  }

  private heal(): void {
    this.faultPhase = false;
    this.net.heal();
    this.net.faults = CALM;
    for (const n of this.nodes.values()) if (!n.up) n.start();
    this.trace(`t=${this.now} faults stop; every member restarted`);
  }

  /** After healing: a leader within a bound, then proposals that all commit on every voter. */
  private checkLiveness(bound: number): void {
    const deadline = this.now + bound;
    let proposed = 0;
    let proposedUnder = '';
    while (this.now < deadline) {
      this.step();
      const leader = this.leader();
      if (!leader || !leader.rn!.raft.log.matchTerm(leader.rn!.raft.log.committed, leader.rn!.raft.term))
        continue;
      const reign = `${leader.id}/${leader.rn!.raft.term}`;
      if (reign !== proposedUnder) {
        // Raft may drop proposals when leadership changes; the bound applies to a stable leader.
        this.mustCommit.clear();
        proposed = 0;
        proposedUnder = reign;
      }
      if (proposed < 5) {
        // A leader still finishing a leadership transfer refuses proposals for a moment.
        while (proposed < 5 && this.propose(leader, true)) proposed++;
        continue;
      }
      const pending = [...this.mustCommit].filter((id) => !this.appliedCommands.has(id));
      const voters = leader.rn!.raft.confState.voters.map((id) => this.nodes.get(id)!);
      const converged = voters.every((n) => n.up && n.applied >= leader.applied && leader.applied > 0);
      if (pending.length === 0 && converged) {
        this.checkSameState(voters);
        return;
      }
    }
    const leader = this.leader();
    throw new SafetyViolation(
      `liveness: ${bound} ticks after healing, leader=${leader?.id ?? 'none'}, ` +
        `uncommitted proposals=${[...this.mustCommit].filter((id) => !this.appliedCommands.has(id)).length}; ` +
        this.describe(),
    );
  }

  private describe(): string {
    return [...this.nodes.values()]
      .map((n) => {
        if (!n.up) return `${n.id}: down`;
        const r = n.rn!.raft;
        const prs = [...r.prs].map(([id, p]) => `${id}:${p.state}/${p.match}/${p.next}`).join(' ');
        return `${n.id}: ${r.role} t${r.term} lead=${r.lead} commit=${r.log.committed} applied=${n.applied} last=${r.log.lastIndex()} ${prs}`;
      })
      .join('; ');
  }

  private checkSameState(members: SimNode[]): void {
    const first = members[0]!;
    const expect = JSON.stringify([...first.kv].sort());
    for (const n of members) {
      if (n.applied === first.applied && JSON.stringify([...n.kv].sort()) !== expect) {
        throw new SafetyViolation(
          `${n.id} and ${first.id} applied up to ${n.applied} but hold different data`,
        );
      }
    }
  }
}
