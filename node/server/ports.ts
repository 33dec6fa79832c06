// What the member needs from its storage, backend and network, as small interfaces: main.ts
// plugs in the real WAL, the lmdb-backed MVCC store and the TCP transport.
import type { AuthData } from '../auth/state.js';
import type { HashKV } from '../mvcc/hash.js';
import type { Lease } from '../mvcc/leases.js';
import type { RangeRequest, RangeResponse } from '../mvcc/types.js';
import type { Status } from '../raft/rawnode.js';
import type { Entry, HardState, Message, SnapshotMeta } from '../raft/types.js';
import type { SyncMode } from '../storage/wal.js';
import type { WatchSource } from './watch-hub.js';

export interface LogStore {
  /** Appends entries and the hard state with one fsync, made as `sync` says (default: on the thread pool). */
  save(hardState: HardState | undefined, entries: Entry[], sync?: SyncMode): Promise<void>;
  saveSnapshot(meta: SnapshotMeta): Promise<void>;
  /** Drops log segments that only hold entries at or below `index`. */
  releaseTo(index: number): Promise<void>;
  close(): Promise<void>;
}

/** The per-request outcome of applying a write: the backend's result or its error. */
export type WriteOutcome = unknown;

export interface KvBackend extends WatchSource {
  /**
   * Applies encoded write requests (null = no-op) with the applied index, skipping indexes already
   * applied; reads, watches and `appliedIndex()` see them on return. They reach the disk with a
   * later commit (flushed() forces one). Throws if the backend can take no more writes.
   */
  applyBatch(items: Array<{ index: number; term: number; request: Uint8Array | null }>): WriteOutcome[];
  appliedIndex(): { index: number; term: number };
  range(req: RangeRequest): RangeResponse;
  currentRevision(): number;
  alarms(): string[];
  /** etcd's HashKV up to `revision` (0: the current one). */
  hashKV(revision: number): HashKV;
  /** The auth store as applied so far (users, roles, whether auth is on). Do not change it. */
  auth(): AuthData;
  /** Every lease, in ID order. */
  leases(): Lease[];
  lease(id: number): Lease | undefined;
  /** The live keys a lease holds (empty for none or no such lease). */
  leaseKeys(id: number): Uint8Array[];
  exportSnapshot(): AsyncIterable<Uint8Array>;
  /** The same state as an etcd snapshot file (bbolt), for `etcdctl snapshot save`. */
  exportBackup(): AsyncIterable<Uint8Array>;
  /** Builds a snapshot's image beside the live state (which keeps serving); returns its applied index. */
  stageSnapshot(chunks: AsyncIterable<Uint8Array>): Promise<{ index: number; term: number }>;
  /** Swaps in the staged image; a no-op when nothing is staged and the state is already at `minIndex`. */
  installStagedSnapshot(minIndex: number): Promise<void>;
  /** Commits what is applied and resolves once it is on disk (the WAL is trimmed only after it). */
  flushed(): Promise<void>;
  dbSize(): number;
  /** Rewrites the backend file compactly; the caller hands over no batch until it resolves. */
  defragment(): Promise<{ before: number; after: number }>;
  /** While the backend is closed for a swap (defragment), resolves when it is open again. */
  whenOpen(): Promise<void> | undefined;
  /** Commits what is applied, then closes. */
  close(): Promise<void>;
}

export interface PeerTransport {
  onMessages(handler: (msgs: Message[]) => void): void;
  /** A snapshot arrives as its message and a stream of payload chunks; a rejection fails the send. */
  onSnapshot(handler: (from: string, msg: Message, chunks: AsyncIterable<Uint8Array>) => Promise<void>): void;
  /** member id → peer URL */
  setPeers(peers: Map<string, string>): void;
  send(msgs: Message[]): void;
  /** Messages of one type still queued for a peer, taken back: certainly never delivered to it. */
  takeUnsent(peer: string, type: Message['type']): Message[];
  /** Whether the connection to the peer is up and was accepted by it. */
  reachable(peer: string): boolean;
  /** Streams `chunks` as the payload of the snapshot message `msg`; resolves once the peer took it. */
  sendSnapshot(to: string, msg: Message, chunks: AsyncIterable<Uint8Array>): Promise<void>;
  close(): Promise<void>;
}

export interface MemberMetrics {
  backendCommit(seconds: number): void;
  proposalPending(n: number): void;
  proposalFailed(): void;
  leaderChanged(hasLeader: boolean): void;
  raft(status: Status, backend: KvBackend): void;
}
