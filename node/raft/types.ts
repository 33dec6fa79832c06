// The data the Raft core exchanges with its caller. Shapes follow etcd-io/raft's raftpb so that the
// ideas (and the tests people know) carry over; field names are TypeScript-ish.
//
// Terms and indexes are JavaScript numbers, exact up to Number.MAX_SAFE_INTEGER (2^53 - 1). The
// core refuses to go past that with a RaftRangeError instead of silently losing precision: at a
// million entries a second the index would take 285 years to get there.

export type NodeId = string;

/** No node: used for "no vote" and "no leader". */
export const NONE: NodeId = '';

export type EntryType = 'normal' | 'conf';

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** For 'normal': the application's command (empty for the leader's no-op). For 'conf': an encoded ConfChange. */
  data: Uint8Array;
}

export type ConfChangeType = 'addLearner' | 'promote' | 'remove';

/** One membership change. New members join as learners and become voters only through 'promote'. */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque to the core (the member stores peer URLs here). */
  context?: string;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/** What must be on disk before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface SnapshotMeta {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The application's state at meta.index, as the application encoded it. */
  data: Uint8Array;
}

export type MessageType =
  | 'app' // append entries (also the probe)
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'snap' // install snapshot
  | 'prop' // a follower forwarding proposals to the leader
  | 'readIndex' // a follower forwarding a read request to the leader
  | 'readIndexResp'
  | 'timeoutNow'; // leadership transfer: start an election now

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** app: term of the entry before `entries`; vote/preVote: candidate's last log term. */
  logTerm: number;
  /** app: index of the entry before `entries`; appResp: last matched index; vote: last log index;
   *  readIndexResp: the read index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** appResp with reject: the follower's hint for where the leader should retry. */
  rejectHint: number;
  /** appResp with reject: the term of the follower's entry at rejectHint (fast backtracking). */
  hintTerm: number;
  snapshot?: Snapshot;
  /** heartbeat / heartbeatResp / readIndex / readIndexResp: the read request's context. */
  context?: string;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  leader: NodeId;
  role: Role;
}

/** A read that may be served once the applied index reaches `index`. */
export interface ReadState {
  index: number;
  context: string;
}

/**
 * The batch the caller must handle, in this order: persist `snapshot`, `entries` and `hardState`
 * (one fsync when `mustSync`), send `messages`, apply `snapshot` then `committedEntries`, serve
 * `readStates` once applied, then call advance(ready).
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
  mustSync: boolean;
}

export class RaftRangeError extends Error {
  constructor(what: string) {
    super(`${what} would exceed Number.MAX_SAFE_INTEGER; raftkv bounds terms and indexes at 2^53-1`);
    this.name = 'RaftRangeError';
  }
}
