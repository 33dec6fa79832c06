// Real Prometheus (Debian's, installed by `make prometheus`) scrapes a real 3-member cluster on
// loopback, loads the chart's alert rules, and answers the dashboard's member queries: the
// metrics exist under the names the dashboard and alerts use, with the values a healthy cluster has.
import { jest } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { KvClient } from '../../node/client/client.js';
import { LocalCluster, freePort } from '../../node/tools/local-cluster.js';
import { dashboardQueries } from '../../operator/monitoring/dashboard.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

let root: string;
let cluster: LocalCluster;
let prometheus: ChildProcess;
let api: string;

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(expr: string): Promise<Sample[]> {
  const r = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await r.json()) as { status: string; error?: string; data?: { result: Sample[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data!.result;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'raftkv-prom-'));
  cluster = new LocalCluster({ size: 3, dataRoot: join(root, 'members') });
  await cluster.plan();
  await cluster.startAll();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  // The labels Kubernetes service discovery would give each member's target.
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [resolve('charts/raftkv-operator/files/alerts.yaml')],
    scrape_configs: [
      {
        job_name: 'raftkv-members',
        static_configs: cluster.members.map((m, i) => ({
          targets: [new URL(m.clientURL).host],
          labels: { namespace: 'local', pod: `kv-${i}` },
        })),
      },
    ],
  };
  writeFileSync(join(root, 'prometheus.yml'), stringify(config));
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(root, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(root, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  await waitFor(
    'prometheus ready',
    async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined),
    60_000,
    200,
  );
});

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await cluster?.stopAll('SIGKILL');
  cluster?.releasePorts();
  rmSync(root, { recursive: true, force: true });
});

test('Prometheus scrapes every member and sees one leader, all with a leader', async () => {
  const c = new KvClient(cluster.members.map((m) => m.clientURL));
  for (let i = 0; i < 20; i++) await waitFor('a write', async () => c.put(`k${i}`, 'v'), 30_000, 100);
  await waitFor(
    'three members up with a leader',
    async () => {
      const up = await query('sum(up{job="raftkv-members"})');
      const hasLeader = await query('sum(etcd_server_has_leader)');
      const leaders = await query('sum(etcd_server_is_leader)');
      const committed = await query('min(etcd_server_proposals_committed_total)');
      const ok =
        up[0]?.value[1] === '3' &&
        hasLeader[0]?.value[1] === '3' &&
        leaders[0]?.value[1] === '1' &&
        Number(committed[0]?.value[1]) >= 20;
      return ok ? true : undefined;
    },
    60_000,
    500,
  );
});

test("the chart's alert rules load and none fires on a healthy cluster", async () => {
  const rules = await waitFor(
    'rules loaded',
    async () => {
      const r = (await (await fetch(`${api}/api/v1/rules`)).json()) as {
        data: { groups: { rules: { name: string; health: string; state?: string }[] }[] };
      };
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length > 0 ? all : undefined;
    },
    30_000,
    500,
  );
  expect(rules.length).toBeGreaterThanOrEqual(10);
  for (const r of rules) expect([r.name, r.health]).toEqual([r.name, expect.stringMatching(/ok|unknown/)]);
  const memberAlerts = rules.filter(
    (r) => r.name.startsWith('RaftkvMember') || r.name.startsWith('RaftkvHigh'),
  );
  for (const r of memberAlerts) expect([r.name, r.state]).toEqual([r.name, 'inactive']);
});

test("every dashboard query about members returns a series for each member's pod", async () => {
  const memberQueries = dashboardQueries()
    .filter((q) => q.includes('etcd_'))
    .map((q) => q.replaceAll('$namespace', 'local').replaceAll('$cluster', 'kv'));
  expect(memberQueries.length).toBeGreaterThanOrEqual(8);
  // Rates and quantiles need two scrapes after the writes; wait until every query has data.
  await waitFor(
    'dashboard queries answered',
    async () => {
      for (const q of memberQueries) if ((await query(q)).length === 0) return undefined;
      return true;
    },
    60_000,
    1000,
  );
  const perPod = await query(memberQueries.find((q) => q.startsWith('etcd_server_has_leader'))!);
  expect(perPod.map((s) => s.metric.pod).sort()).toEqual(['kv-0', 'kv-1', 'kv-2']);
});
