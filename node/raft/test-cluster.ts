// A synchronous in-memory cluster for the core's unit tests: messages are delivered in rounds,
// a filter can drop any of them, and every Ready is handled at once (persist = keep in memory).
import { Rng } from '../../test/sim/rng.js';
import { bootstrapSnapshot } from './confchange.js';
import { RawNode } from './rawnode.js';
import type { RaftConfig, RaftInitialState } from './raft.js';
import type { Entry, Message, NodeId, ReadState } from './types.js';

export type Filter = (m: Message) => boolean;

export function seededRand(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

export function initialState(voters: NodeId[], entries: Entry[] = [], term = 1, vote = ''): RaftInitialState {
  return { hardState: { term, vote, commit: 1 }, snapshot: bootstrapSnapshot(voters), entries };
}

export function entry(index: number, term: number, text = ''): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

export class TestCluster {
  readonly nodes = new Map<NodeId, RawNode>();
  readonly applied = new Map<NodeId, Entry[]>();
  readonly reads = new Map<NodeId, ReadState[]>();
  /** Messages that were sent but not yet delivered. */
  inbox: Message[] = [];
  drop: Filter = () => false;

  constructor(
    ids: NodeId[],
    config: Partial<RaftConfig> = {},
    states: Partial<Record<NodeId, RaftInitialState>> = {},
  ) {
    ids.forEach((id, i) =>
      this.add(id, states[id] ?? initialState(ids), { rand: seededRand(i + 1), ...config }),
    );
  }

  add(id: NodeId, state: RaftInitialState, config: Partial<RaftConfig> = {}): RawNode {
    const rn = new RawNode({ id, electionTick: 10, heartbeatTick: 1, rand: seededRand(7), ...config }, state);
    this.nodes.set(id, rn);
    this.applied.set(id, []);
    this.reads.set(id, []);
    return rn;
  }

  node(id: NodeId): RawNode {
    return this.nodes.get(id)!;
  }

  /** Handles every pending Ready (messages go to the inbox). */
  flushReadies(): void {
    for (const [id, rn] of this.nodes) {
      while (rn.hasReady()) {
        const rd = rn.ready();
        this.inbox.push(...rd.messages);
        this.applied
          .get(id)!
          .push(...rd.committedEntries.filter((e) => e.type === 'normal' && e.data.byteLength > 0));
        this.reads.get(id)!.push(...rd.readStates);
        rn.advance();
      }
    }
  }

  /** Delivers messages round by round until nothing is left to say. */
  stabilize(maxRounds = 100): void {
    for (let round = 0; round < maxRounds; round++) {
      this.flushReadies();
      if (this.inbox.length === 0) return;
      const batch = this.inbox;
      this.inbox = [];
      for (const m of batch) if (!this.drop(m)) this.nodes.get(m.to)?.step(m);
    }
    throw new Error('cluster did not settle');
  }

  tick(ids: NodeId[] = [...this.nodes.keys()], times = 1): void {
    for (let i = 0; i < times; i++) for (const id of ids) this.node(id).tick();
  }

  /** Makes `id` campaign and lets the election finish. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  leaders(): NodeId[] {
    return [...this.nodes].filter(([, rn]) => rn.raft.role === 'leader').map(([id]) => id);
  }

  propose(id: NodeId, text: string): void {
    const res = this.node(id).propose(new TextEncoder().encode(text));
    if (!res.accepted) throw new Error(`proposal refused: ${res.reason}`);
  }

  appliedTexts(id: NodeId): string[] {
    return this.applied.get(id)!.map((e) => new TextDecoder().decode(e.data));
  }
}

/** Cuts `id` off from everyone (both directions). */
export function isolate(id: NodeId): Filter {
  return (m) => m.from === id || m.to === id;
}
