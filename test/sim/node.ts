// One simulated member: a RawNode plus what a real member keeps on disk (hard state, log,
// snapshot) and in memory (the key-value state machine). A crash drops the RawNode and the
// state machine; a restart rebuilds both from the disk, exactly like a process restart.
import { RawNode } from '../../node/raft/rawnode.js';
import type { RaftConfig } from '../../node/raft/raft.js';
import type { Entry, HardState, Message, NodeId, ReadState, Snapshot } from '../../node/raft/types.js';
import { SafetyChecker } from './invariants.js';

export interface Command {
  id: number;
  key: string;
  value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(c: Command): Uint8Array {
  return encoder.encode(JSON.stringify(c));
}

interface StateMachine {
  applied: number;
  kv: Map<string, string>;
}

function encodeState(sm: StateMachine): Uint8Array {
  return encoder.encode(JSON.stringify({ applied: sm.applied, kv: [...sm.kv] }));
}

function decodeState(data: Uint8Array): StateMachine {
  if (data.byteLength === 0) return { applied: 0, kv: new Map() };
  const o = JSON.parse(decoder.decode(data)) as { applied: number; kv: [string, string][] };
  return { applied: o.applied, kv: new Map(o.kv) };
}

export interface Disk {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

/** What the simulation wants to hear about as a member works. */
export interface NodeHooks {
  send(m: Message): void;
  applied(id: NodeId, cmd: Command, index: number): void;
  readServed(id: NodeId, rs: ReadState): void;
  becameLeader(id: NodeId, term: number): void;
  /** Whether to crash a leader after it sent a Ready's messages and before it persisted them. */
  crashBeforePersist(id: NodeId): boolean;
}

export class SimNode {
  rn: RawNode | undefined;
  private sm: StateMachine = { applied: 0, kv: new Map() };
  private readonly waitingReads: ReadState[] = [];
  private durableCommit = 0;
  private memoryCommit = 0;

  constructor(
    readonly id: NodeId,
    readonly disk: Disk,
    private readonly config: Omit<RaftConfig, 'id'>,
    private readonly checker: SafetyChecker,
    private readonly hooks: NodeHooks,
    private readonly snapshotEvery: number,
    private readonly keepEntries: number,
  ) {
    this.start();
  }

  get up(): boolean {
    return this.rn !== undefined;
  }

  start(): void {
    const { hardState, snapshot, entries } = this.disk;
    this.sm = decodeState(snapshot.data);
    this.rn = new RawNode(
      { ...this.config, id: this.id },
      {
        hardState: { ...hardState },
        snapshot,
        entries: entries.filter((e) => e.index > snapshot.meta.index),
      },
    );
    this.memoryCommit = hardState.commit;
    this.waitingReads.length = 0;
  }

  crash(): void {
    this.rn = undefined;
  }

  get kv(): ReadonlyMap<string, string> {
    return this.sm.kv;
  }

  get applied(): number {
    return this.sm.applied;
  }

  /** Handles every Ready the node has, as a member's main loop would. */
  process(now: number): void {
    const rn = this.rn;
    if (!rn) return;
    for (let guard = 0; rn.hasReady(); guard++) {
      if (guard > 1000) throw new Error(`${this.id}: Ready loop does not settle`);
      this.handleReady(rn, now);
      if (this.rn !== rn) return; // crashed in the middle of the Ready
    }
    const commit = rn.status().commit;
    SafetyChecker.commitMonotonic(this.id, 'in-memory', this.memoryCommit, commit);
    this.memoryCommit = commit;
  }

  private handleReady(rn: RawNode, _now: number): void {
    const rd = rn.ready();
    const log = rn.raft.log;
    if (rd.softState?.role === 'leader') {
      this.checker.leaderElected(this.id, rn.raft.term);
      this.checker.leaderLogComplete(this.id, rn.raft.term, (i) => log.term(i), log.firstIndex());
      this.hooks.becameLeader(this.id, rn.raft.term);
    }
    // A leader sends before it persists, as the member does, unless its term or vote is new.
    const termOrVoteChanged =
      rd.hardState !== undefined &&
      (rd.hardState.term !== this.disk.hardState.term || rd.hardState.vote !== this.disk.hardState.vote);
    const sendEarly = rn.raft.role === 'leader' && !termOrVoteChanged;
    if (sendEarly) {
      for (const m of rd.messages) this.hooks.send(m);
      if (this.hooks.crashBeforePersist(this.id)) {
        this.crash();
        return;
      }
    }
    // 1. Persist: snapshot, entries, hard state.
    if (rd.snapshot) {
      this.disk.snapshot = rd.snapshot;
      this.disk.entries = [];
      this.sm = decodeState(rd.snapshot.data);
      this.sm.applied = rd.snapshot.meta.index;
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      this.disk.entries = this.disk.entries.filter((e) => e.index < first).concat(rd.entries);
      for (const e of rd.entries) this.checker.entryPersisted(this.id, e, log.term(e.index - 1));
    }
    if (rd.hardState) {
      SafetyChecker.commitMonotonic(this.id, 'durable', this.durableCommit, rd.hardState.commit);
      this.durableCommit = rd.hardState.commit;
      this.disk.hardState = rd.hardState;
      this.checker.commitObserved(this.id, rd.hardState.commit, (i) => log.term(i), log.firstIndex());
    }
    // 2. Send (a follower only now: its answers promise what it persisted).
    if (!sendEarly) for (const m of rd.messages) this.hooks.send(m);
    // 3. Apply.
    for (const e of rd.committedEntries) this.apply(e);
    this.waitingReads.push(...rd.readStates);
    this.serveReads();
    rn.advance();
    this.maybeSnapshot(rn);
  }

  private apply(e: Entry): void {
    if (e.index <= this.sm.applied) return;
    this.checker.entryApplied(this.id, e);
    this.sm.applied = e.index;
    // Configuration entries took effect when appended; a real member updates its peer list here.
    if (e.type === 'normal' && e.data.byteLength > 0) {
      const cmd = JSON.parse(decoder.decode(e.data)) as Command;
      this.sm.kv.set(cmd.key, cmd.value);
      this.hooks.applied(this.id, cmd, e.index);
    }
  }

  private serveReads(): void {
    for (let i = 0; i < this.waitingReads.length;) {
      const rs = this.waitingReads[i]!;
      if (rs.index <= this.sm.applied) {
        this.hooks.readServed(this.id, rs);
        this.waitingReads.splice(i, 1);
      } else i++;
    }
  }

  private maybeSnapshot(rn: RawNode): void {
    const snapIndex = this.disk.snapshot.meta.index;
    if (this.sm.applied - snapIndex < this.snapshotEvery || rn.raft.log.persisted < this.sm.applied) return;
    rn.compact(this.sm.applied, encodeState(this.sm), this.keepEntries);
    this.disk.snapshot = rn.raft.snapshot;
    this.disk.entries = this.disk.entries.filter((e) => e.index > this.sm.applied);
  }
}
