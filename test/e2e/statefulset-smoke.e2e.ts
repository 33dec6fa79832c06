// Smoke test of the e2e environment with a plain StatefulSet (no raftkv): 3 tiny HTTP pods
// behind a headless Service call each other by their stable DNS names; a deleted pod comes
// back with the same name, volume and data; scale to 5 and back to 3; teardown leaves no pod
// processes or network namespaces behind.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { waitFor } from '../support/wait.js';
import { apply, createNamespace, getJson, kubectl, localProvider, podGet } from './kube.js';
import { listPodNetns } from './runner/net.js';

const ns = `e2e-smoke-${randomBytes(3).toString('hex')}`;
const marker = `raftkv-e2e-marker-${ns}`;
const DATA = '/var/lib/raftkv-e2e-web';

// Runs as `node -e`: writes a random id to its volume on first start, serves it on /id, and on
// /peers?n=N fetches /id from web-0..web-(N-1) by their StatefulSet DNS names.
const server = `
// ${marker}
const http = require('node:http'), fs = require('node:fs'), os = require('node:os');
const file = '${DATA}/id';
if (!fs.existsSync(file)) fs.writeFileSync(file, os.hostname() + '-' + Math.random().toString(36).slice(2));
const id = fs.readFileSync(file, 'utf8');
const me = () => ({ host: os.hostname(), pod: process.env.POD_NAME, ip: process.env.POD_IP, id });
http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/id') return res.end(JSON.stringify(me()));
  if (url.pathname === '/peers') {
    const out = {};
    for (let i = 0; i < Number(url.searchParams.get('n')); i++) {
      const name = 'web-' + i + '.web.' + process.env.POD_NAMESPACE + '.svc.cluster.local';
      try {
        const r = await fetch('http://' + name + ':8080/id', { signal: AbortSignal.timeout(2000) });
        out[name] = await r.json();
      } catch (e) { out[name] = { error: String(e.cause || e) }; }
    }
    return res.end(JSON.stringify(out));
  }
  res.statusCode = 404; res.end();
}).listen(8080);
process.on('SIGTERM', () => process.exit(0));
`;

interface Ident {
  host: string;
  pod: string;
  ip: string;
  id: string;
  error?: string;
}
interface Pod {
  metadata: { uid: string; name: string };
  status: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number }[];
  };
}

const t0 = Date.now();
const step = (what: string): void => {
  process.stderr.write(`[smoke +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}\n`);
};

const isReady = (p: Pod | undefined): boolean =>
  p?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function readyReplicas(n: number): Promise<void> {
  await waitFor(
    `${n} ready replicas`,
    async () => {
      const sts = await getJson<{ status: { readyReplicas?: number; replicas?: number } }>([
        'statefulset',
        'web',
        '-n',
        ns,
      ]);
      return sts?.status.readyReplicas === n && sts.status.replicas === n ? true : undefined;
    },
    180_000,
    500,
  );
}

async function peers(from: string, n: number): Promise<Record<string, Ident>> {
  return JSON.parse(await podGet(ns, from, 8080, `/peers?n=${n}`)) as Record<string, Ident>;
}

async function expectMesh(n: number): Promise<Record<string, Ident>> {
  let last: Record<string, Ident> = {};
  for (let i = 0; i < n; i++) {
    // names of pods that just became ready may take a moment to reach every hosts file
    last = await waitFor(
      `web-${i} reaching ${n} peers by name`,
      async () => {
        const got = await peers(`web-${i}`, n);
        return Object.values(got).every((v) => !v.error) ? got : undefined;
      },
      30_000,
      500,
    );
    for (let j = 0; j < n; j++) {
      const v = last[`web-${j}.web.${ns}.svc.cluster.local`];
      expect(v?.host).toBe(`web-${j}`);
      expect(v?.pod).toBe(`web-${j}`);
    }
  }
  return last;
}

describe('e2e environment: StatefulSet smoke', () => {
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  });

  it('runs a StatefulSet whose pods find each other by name, keep data across deletion, scale 5 and back', async () => {
    const netnsBefore = new Set(localProvider ? listPodNetns() : []);
    await createNamespace(ns);
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: ns },
      spec: { clusterIP: 'None', selector: { app: 'web' }, ports: [{ name: 'http', port: 8080 }] },
    });
    await apply({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'web', namespace: ns },
      spec: {
        serviceName: 'web',
        replicas: 3,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 5,
            containers: [
              {
                name: 'web',
                image: 'node:20-bookworm-slim',
                command: ['node', '-e', server],
                ports: [{ name: 'http', containerPort: 8080 }],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                ],
                readinessProbe: { httpGet: { path: '/id', port: 'http' }, periodSeconds: 1 },
                volumeMounts: [{ name: 'data', mountPath: DATA }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } },
          },
        ],
      },
    });

    await readyReplicas(3);
    step('3 replicas ready');
    const before = await expectMesh(3);
    step('mesh of 3 by name');
    const web1 = (await getJson<Pod>(['pod', 'web-1', '-n', ns]))!;
    const web1Id = before[`web-1.web.${ns}.svc.cluster.local`]!.id;
    expect(before[`web-1.web.${ns}.svc.cluster.local`]!.ip).toBe(web1.status.podIP);

    // delete a pod: the StatefulSet controller recreates it with the same name, claim and data
    await kubectl(['delete', 'pod', 'web-1', '-n', ns, '--wait=false']);
    const again = await waitFor(
      'web-1 recreated and ready',
      async () => {
        const p = await getJson<Pod>(['pod', 'web-1', '-n', ns]);
        return p && p.metadata.uid !== web1.metadata.uid && isReady(p) ? p : undefined;
      },
      120_000,
      500,
    );
    step('web-1 recreated and ready');
    expect(again.status.containerStatuses?.[0]?.restartCount).toBe(0);
    const after = await expectMesh(3);
    expect(after[`web-1.web.${ns}.svc.cluster.local`]!.id).toBe(web1Id);
    expect(after[`web-0.web.${ns}.svc.cluster.local`]!.id).toBe(
      before[`web-0.web.${ns}.svc.cluster.local`]!.id,
    );

    step('web-1 kept its data; peers see it');
    // scale to 5 and back to 3
    await kubectl(['scale', 'statefulset', 'web', '-n', ns, '--replicas=5']);
    await readyReplicas(5);
    await expectMesh(5);
    step('5 replicas ready, mesh of 5');
    await kubectl(['scale', 'statefulset', 'web', '-n', ns, '--replicas=3']);
    await readyReplicas(3);
    await waitFor(
      'web-3 and web-4 gone',
      async () =>
        (await getJson(['pod', 'web-3', '-n', ns])) || (await getJson(['pod', 'web-4', '-n', ns]))
          ? undefined
          : true,
      60_000,
      500,
    );
    await expectMesh(3);

    step('back to 3');
    // teardown: namespace deletion stops every pod; nothing is left running on the host
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
    await waitFor(
      'namespace gone',
      async () => ((await getJson(['namespace', ns])) ? undefined : true),
      180_000,
      1000,
    );
    step('namespace deleted');
    if (localProvider) {
      const procs = (() => {
        try {
          return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim();
        } catch {
          return ''; // pgrep exits 1 when nothing matches
        }
      })();
      expect(procs).toBe('');
      // Only this test's pods count: an earlier suite's namespaces may still be tearing down.
      expect(listPodNetns().filter((n) => !netnsBefore.has(n))).toEqual([]);
    }
  });
});
