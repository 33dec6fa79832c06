// The operator's Prometheus metrics (names fixed: the dashboards and alerts in deploy/monitoring
// use them): per cluster membership and quorum health, plus reconcile and queue figures.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Decision } from '../reconcile/model.js';
import type { ClusterMetrics } from './reconciler.js';

const CLUSTER = ['namespace', 'cluster'] as const;

export class OperatorMetrics implements ClusterMetrics {
  readonly registry = new Registry();
  private readonly perCluster = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: CLUSTER, registers: [this.registry] });
  private readonly members = new Gauge({
    name: 'raftkv_cluster_members',
    help: 'Members by state (voter, learner, healthy, unhealthy)',
    labelNames: [...CLUSTER, 'state'],
    registers: [this.registry],
  });
  private readonly voters = this.perCluster('raftkv_cluster_voters', 'Voting members');
  private readonly quorumSize = this.perCluster('raftkv_cluster_quorum_size', 'Voters needed for a majority');
  private readonly quorumHealthy = this.perCluster(
    'raftkv_cluster_quorum_healthy',
    '1 if a healthy majority of voters exists',
  );
  private readonly tolerance = this.perCluster(
    'raftkv_cluster_failure_tolerance',
    'How many more voters may fail without losing quorum',
  );
  private readonly leaderPresent = this.perCluster(
    'raftkv_cluster_leader_present',
    '1 if the members report a leader',
  );
  private readonly perClusterCount = (name: string, help: string) =>
    new Counter({ name, help, labelNames: CLUSTER, registers: [this.registry] });
  private readonly leaderChanges = this.perClusterCount(
    'raftkv_cluster_leader_changes_total',
    'Changes of the observed leader',
  );
  readonly reconcileDuration = new Histogram({
    name: 'raftkv_reconcile_duration_seconds',
    help: 'Time per reconcile',
    labelNames: CLUSTER,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly reconcileErrors = this.perClusterCount('raftkv_reconcile_errors_total', 'Reconciles that failed');
  readonly queueDepth = new Gauge({
    name: 'raftkv_workqueue_depth',
    help: 'Keys waiting in the work queue',
    registers: [this.registry],
  });
  private readonly leaders = new Map<string, string | undefined>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  setCluster(namespace: string, cluster: string, decision: Decision, leaderId: string | undefined): void {
    const l = { namespace, cluster };
    const q = decision.assessment.quorum;
    this.voters.set(l, q.voters);
    this.quorumSize.set(l, q.size);
    this.quorumHealthy.set(l, q.voters > 0 && q.healthy >= q.size ? 1 : 0);
    this.tolerance.set(l, q.failureTolerance);
    this.leaderPresent.set(l, leaderId ? 1 : 0);
    const key = `${namespace}/${cluster}`;
    if (this.leaders.has(key) && this.leaders.get(key) !== leaderId && leaderId) this.leaderChanges.inc(l);
    this.leaders.set(key, leaderId);
    const s = decision.assessment.memberStates;
    for (const state of ['voter', 'learner', 'healthy', 'unhealthy'] as const)
      this.members.set({ ...l, state }, s[state]);
  }

  forgetCluster(namespace: string, cluster: string): void {
    const l = { namespace, cluster };
    for (const m of [this.voters, this.quorumSize, this.quorumHealthy, this.tolerance, this.leaderPresent])
      m.remove(l);
    for (const state of ['voter', 'learner', 'healthy', 'unhealthy']) this.members.remove({ ...l, state });
    this.leaderChanges.remove(l);
    this.leaders.delete(`${namespace}/${cluster}`);
  }
}
