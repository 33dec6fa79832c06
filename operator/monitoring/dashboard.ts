// The Grafana dashboard for raftkv clusters, as data: `make manifests` writes it to the chart
// (charts/raftkv-operator/files/dashboard.json). Top row: the operator's view of one cluster
// (quorum, tolerance, members); below: the members' own etcd-named metrics per pod, their client and
// peer traffic, and the operator's reconciles.

interface Panel {
  title: string;
  type: 'stat' | 'timeseries';
  /** PromQL with Grafana's $namespace and $cluster variables. */
  exprs: { expr: string; legend: string }[];
  unit?: string;
  description?: string;
}

const CLUSTER = 'namespace="$namespace", cluster="$cluster"';
/** Members are pods named <cluster>-<ordinal> in the cluster's namespace. */
const MEMBERS = 'namespace="$namespace", pod=~"$cluster-[0-9]+"';
const q = (expr: string, legend = '') => ({ expr, legend });
const p99 = (metric: string) =>
  q(`histogram_quantile(0.99, sum by (pod, le) (rate(${metric}_bucket{${MEMBERS}}[5m])))`, '{{pod}}');

const rows: { title: string; panels: Panel[] }[] = [
  {
    title: 'Quorum (operator)',
    panels: [
      {
        title: 'Quorum healthy',
        type: 'stat',
        exprs: [q(`raftkv_cluster_quorum_healthy{${CLUSTER}}`)],
        description: '1 while a healthy majority of voters exists',
      },
      {
        title: 'Failure tolerance',
        type: 'stat',
        exprs: [q(`raftkv_cluster_failure_tolerance{${CLUSTER}}`)],
        description: 'How many more voters may fail before quorum is lost',
      },
      {
        title: 'Voters / quorum size',
        type: 'stat',
        exprs: [
          q(`raftkv_cluster_voters{${CLUSTER}}`, 'voters'),
          q(`raftkv_cluster_quorum_size{${CLUSTER}}`, 'quorum'),
        ],
      },
      {
        title: 'Members by state',
        type: 'timeseries',
        exprs: [q(`raftkv_cluster_members{${CLUSTER}}`, '{{state}}')],
      },
      {
        title: 'Leader present / leader changes',
        type: 'timeseries',
        exprs: [
          q(`raftkv_cluster_leader_present{${CLUSTER}}`, 'leader present'),
          q(`increase(raftkv_cluster_leader_changes_total{${CLUSTER}}[15m])`, 'changes in 15m'),
        ],
      },
    ],
  },
  {
    title: 'Members',
    panels: [
      {
        title: 'Has leader',
        type: 'timeseries',
        exprs: [q(`etcd_server_has_leader{${MEMBERS}}`, '{{pod}}')],
      },
      { title: 'Is leader', type: 'timeseries', exprs: [q(`etcd_server_is_leader{${MEMBERS}}`, '{{pod}}')] },
      {
        title: 'Proposals committed / applied per second',
        type: 'timeseries',
        unit: 'ops',
        exprs: [
          q(`sum(rate(etcd_server_proposals_committed_total{${MEMBERS}}[1m]))`, 'committed'),
          q(`sum(rate(etcd_server_proposals_applied_total{${MEMBERS}}[1m]))`, 'applied'),
          q(`sum(rate(etcd_server_proposals_failed_total{${MEMBERS}}[1m]))`, 'failed'),
        ],
      },
      {
        title: 'Proposals pending',
        type: 'timeseries',
        exprs: [q(`etcd_server_proposals_pending{${MEMBERS}}`, '{{pod}}')],
      },
      {
        title: 'WAL fsync p99',
        type: 'timeseries',
        unit: 's',
        exprs: [p99('etcd_disk_wal_fsync_duration_seconds')],
      },
      {
        title: 'Backend commit p99',
        type: 'timeseries',
        unit: 's',
        exprs: [p99('etcd_disk_backend_commit_duration_seconds')],
      },
      {
        title: 'Peer round trip p99',
        type: 'timeseries',
        unit: 's',
        exprs: [p99('etcd_network_peer_round_trip_time_seconds')],
      },
      {
        title: 'DB size / quota',
        type: 'timeseries',
        unit: 'bytes',
        exprs: [
          q(`etcd_mvcc_db_total_size_in_bytes{${MEMBERS}}`, '{{pod}}'),
          q(`max(etcd_server_quota_backend_bytes{${MEMBERS}})`, 'quota'),
        ],
      },
    ],
  },
  {
    title: 'Traffic',
    panels: [
      {
        title: 'Client traffic in / out (gRPC)',
        type: 'timeseries',
        unit: 'Bps',
        exprs: [
          q(`rate(etcd_network_client_grpc_received_bytes_total{${MEMBERS}}[1m])`, '{{pod}} in'),
          q(`rate(etcd_network_client_grpc_sent_bytes_total{${MEMBERS}}[1m])`, '{{pod}} out'),
        ],
      },
      {
        title: 'Peer traffic in / out',
        type: 'timeseries',
        unit: 'Bps',
        exprs: [
          q(`sum by (pod) (rate(etcd_network_peer_received_bytes_total{${MEMBERS}}[1m]))`, '{{pod}} in'),
          q(`sum by (pod) (rate(etcd_network_peer_sent_bytes_total{${MEMBERS}}[1m]))`, '{{pod}} out'),
        ],
      },
      {
        title: 'gRPC calls handled by code',
        type: 'timeseries',
        unit: 'reqps',
        exprs: [q(`sum by (grpc_code) (rate(grpc_server_handled_total{${MEMBERS}}[1m]))`, '{{grpc_code}}')],
      },
    ],
  },
  {
    title: 'Operator',
    panels: [
      {
        title: 'Reconcile p99',
        type: 'timeseries',
        unit: 's',
        exprs: [
          q(
            `histogram_quantile(0.99, sum by (le) (rate(raftkv_reconcile_duration_seconds_bucket{${CLUSTER}}[5m])))`,
            'p99',
          ),
        ],
      },
      {
        title: 'Reconcile errors / queue depth',
        type: 'timeseries',
        exprs: [
          q(`increase(raftkv_reconcile_errors_total{${CLUSTER}}[5m])`, 'errors in 5m'),
          q('max(raftkv_workqueue_depth)', 'queue depth'),
        ],
      },
    ],
  },
];

const variable = (name: string, query: string) => ({
  name,
  type: 'query',
  datasource: { type: 'prometheus', uid: '${datasource}' },
  query: { query, refId: name },
  refresh: 2,
  sort: 1,
});

/** Grafana dashboard JSON (schema 39): four panels a row, 6 units wide, 8 high. */
export function dashboard(): Record<string, unknown> {
  let id = 0;
  let y = 0;
  const panels: unknown[] = [];
  for (const row of rows) {
    panels.push({
      id: ++id,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { x: 0, y: y++, w: 24, h: 1 },
    });
    row.panels.forEach((p, i) => {
      panels.push({
        id: ++id,
        type: p.type,
        title: p.title,
        description: p.description ?? '',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { x: (i % 4) * 6, y: y + Math.floor(i / 4) * 8, w: 6, h: 8 },
        fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
        targets: p.exprs.map((e, j) => ({
          refId: String.fromCharCode(65 + j),
          expr: e.expr,
          legendFormat: e.legend,
          datasource: { type: 'prometheus', uid: '${datasource}' },
        })),
      });
    });
    y += Math.ceil(row.panels.length / 4) * 8;
  }
  return {
    uid: 'raftkv-cluster',
    title: 'raftkv cluster',
    tags: ['raftkv', 'etcd'],
    schemaVersion: 39,
    refresh: '30s',
    time: { from: 'now-3h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus' },
        variable('namespace', 'label_values(raftkv_cluster_voters, namespace)'),
        variable('cluster', 'label_values(raftkv_cluster_voters{namespace="$namespace"}, cluster)'),
      ],
    },
    panels,
  };
}

/** Every PromQL expression of the dashboard (tests check each parses and finds series). */
export const dashboardQueries = (): string[] =>
  rows.flatMap((r) => r.panels.flatMap((p) => p.exprs.map((e) => e.expr)));
