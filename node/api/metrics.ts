// Prometheus metrics with etcd's names wherever the meaning is the same, so dashboards and
// alerts written for etcd work unchanged.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Status } from '../raft/rawnode.js';
import type { PeerStats } from '../transport/transport.js';
import type { KvBackend, MemberMetrics } from '../server/ports.js';
import { GrpcMetrics } from './grpc-metrics.js';

const DISK_BUCKETS = [
  0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
];

/** What the peer traffic counters are read from at each scrape (the transport). */
export interface PeerCounts {
  peerIds(): string[];
  peerStats(id: string): PeerStats | undefined;
  /** The connection to the peer is up and the peer accepted it. */
  reachable(id: string): boolean;
}

export class PromMetrics implements MemberMetrics {
  readonly registry = new Registry();
  readonly grpc = new GrpcMetrics(this.registry);
  private readonly hasLeader = new Gauge({
    name: 'etcd_server_has_leader',
    help: 'Whether a leader exists (1) or not (0).',
    registers: [this.registry],
  });
  private readonly isLeader = new Gauge({
    name: 'etcd_server_is_leader',
    help: 'Whether this member is the leader.',
    registers: [this.registry],
  });
  private readonly leaderChanges = new Counter({
    name: 'etcd_server_leader_changes_seen_total',
    help: 'Leader changes seen.',
    registers: [this.registry],
  });
  private readonly committed = new Gauge({
    name: 'etcd_server_proposals_committed_total',
    help: 'Consensus proposals committed (the commit index).',
    registers: [this.registry],
  });
  private readonly appliedTotal = new Gauge({
    name: 'etcd_server_proposals_applied_total',
    help: 'Consensus proposals applied.',
    registers: [this.registry],
  });
  private readonly pending = new Gauge({
    name: 'etcd_server_proposals_pending',
    help: 'Proposals waiting to commit.',
    registers: [this.registry],
  });
  private readonly failed = new Counter({
    name: 'etcd_server_proposals_failed_total',
    help: 'Failed proposals.',
    registers: [this.registry],
  });
  private readonly fsync = new Histogram({
    name: 'etcd_disk_wal_fsync_duration_seconds',
    help: 'WAL fsync latency.',
    buckets: DISK_BUCKETS,
    registers: [this.registry],
  });
  private readonly backendCommitHist = new Histogram({
    name: 'etcd_disk_backend_commit_duration_seconds',
    help: 'Backend commit latency.',
    buckets: DISK_BUCKETS,
    registers: [this.registry],
  });
  readonly peerRtt = new Histogram({
    name: 'etcd_network_peer_round_trip_time_seconds',
    help: 'Peer round-trip time.',
    labelNames: ['To'],
    buckets: [
      0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128, 0.0256, 0.0512, 0.1024, 0.2048, 0.4096,
      0.8192,
    ],
    registers: [this.registry],
  });
  private readonly dbSize = new Gauge({
    name: 'etcd_mvcc_db_total_size_in_bytes',
    help: 'Backend database size.',
    registers: [this.registry],
  });
  readonly quota = new Gauge({
    name: 'etcd_server_quota_backend_bytes',
    help: 'Backend quota.',
    registers: [this.registry],
  });
  private readonly term = new Gauge({
    name: 'etcd_server_term',
    help: 'Raft term.',
    registers: [this.registry],
  });
  private readonly learner = new Gauge({
    name: 'etcd_server_is_learner',
    help: 'Whether this member is a learner.',
    registers: [this.registry],
  });

  constructor(private readonly memberId: string) {
    collectDefaultMetrics({ register: this.registry });
  }

  /** etcd's peer traffic counters, by peer ID, taken from the transport's own counts at each scrape. */
  countPeers(peers: PeerCounts): void {
    const fromPeers = (name: string, help: string, label: 'To' | 'From', field: keyof PeerStats) =>
      new Counter({
        name,
        help,
        labelNames: [label],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const id of peers.peerIds()) this.labels(id).inc(peers.peerStats(id)?.[field] ?? 0);
        },
      });
    fromPeers(
      'etcd_network_peer_sent_bytes_total',
      'The total number of bytes sent to peers.',
      'To',
      'bytesSent',
    );
    fromPeers(
      'etcd_network_peer_received_bytes_total',
      'The total number of bytes received from peers.',
      'From',
      'bytesReceived',
    );
    fromPeers(
      'etcd_network_peer_sent_failures_total',
      'The total number of send failures to peers (messages dropped before reaching the socket).',
      'To',
      'messagesDropped',
    );
    const local = this.memberId;
    new Gauge({
      name: 'etcd_network_active_peers',
      help: 'The current number of active peer connections.',
      labelNames: ['Local', 'Remote'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const id of peers.peerIds()) this.set({ Local: local, Remote: id }, peers.reachable(id) ? 1 : 0);
      },
    });
  }

  walFsync(seconds: number): void {
    this.fsync.observe(seconds);
  }

  backendCommit(seconds: number): void {
    this.backendCommitHist.observe(seconds);
  }

  proposalPending(n: number): void {
    this.pending.set(n);
  }

  proposalFailed(): void {
    this.failed.inc();
  }

  leaderChanged(hasLeader: boolean): void {
    if (hasLeader) this.leaderChanges.inc();
  }

  raft(s: Status, backend: KvBackend): void {
    this.hasLeader.set(s.leader ? 1 : 0);
    this.isLeader.set(s.leader === this.memberId ? 1 : 0);
    this.committed.set(s.commit);
    this.appliedTotal.set(backend.appliedIndex().index);
    this.term.set(s.term);
    this.learner.set(s.confState.learners.includes(this.memberId) ? 1 : 0);
    this.dbSize.set(backend.dbSize());
  }
}
