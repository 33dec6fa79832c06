// Pod runner basics beyond the StatefulSet smoke test: in-cluster API access with the projected
// service-account token, terminal phases, restarts per restartPolicy.
import { randomBytes } from 'node:crypto';
import { waitFor } from '../support/wait.js';
import { apply, createNamespace, getJson, kubectl } from './kube.js';

const ns = `e2e-pods-${randomBytes(3).toString('hex')}`;

// Calls the API server the way in-cluster clients do: KUBERNETES_SERVICE_HOST/PORT, the
// service-account token and CA from /var/run/secrets/kubernetes.io/serviceaccount.
const inCluster = `
const https = require('node:https'), fs = require('node:fs');
const d = '/var/run/secrets/kubernetes.io/serviceaccount';
const ns = fs.readFileSync(d + '/namespace', 'utf8');
https.get({
  host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT,
  path: '/api/v1/namespaces/' + ns + '/serviceaccounts/default',
  ca: fs.readFileSync(d + '/ca.crt'),
  headers: { Authorization: 'Bearer ' + fs.readFileSync(d + '/token', 'utf8') },
}, (r) => {
  let b = '';
  r.on('data', (c) => (b += c));
  r.on('end', () => { console.log(r.statusCode, b.slice(0, 200)); process.exit(r.statusCode === 403 || r.statusCode === 200 ? 0 : 1); });
}).on('error', (e) => { console.error(e); process.exit(2); });
`;

interface Pod {
  status: {
    phase?: string;
    containerStatuses?: { restartCount: number; state?: { terminated?: { exitCode: number } } }[];
  };
}

async function phase(name: string, want: string): Promise<Pod> {
  return waitFor(
    `${name} ${want}`,
    async () => {
      const p = await getJson<Pod>(['pod', name, '-n', ns]);
      return p?.status.phase === want ? p : undefined;
    },
    60_000,
    500,
  );
}

const pod = (name: string, restartPolicy: string, script: string, automount = false): unknown => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns },
  spec: {
    restartPolicy,
    automountServiceAccountToken: automount,
    terminationGracePeriodSeconds: 2,
    containers: [{ name: 'main', image: 'node:20-bookworm-slim', command: ['node', '-e', script] }],
  },
});

describe('e2e environment: pod basics', () => {
  beforeAll(async () => {
    await createNamespace(ns);
  });
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s']).catch(() => undefined);
  });

  it('gives pods in-cluster API access (authenticated TLS with the projected token)', async () => {
    // 403 (authenticated, no RBAC grant) or 200 both prove the token and CA work; 401 would not
    await apply(pod('api', 'Never', inCluster, true));
    const p = await phase('api', 'Succeeded');
    expect(p.status.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
  });

  it('reports Failed for a failing Never pod and restarts an OnFailure pod until it succeeds', async () => {
    await apply(pod('fails', 'Never', 'process.exit(3)'));
    const failed = await phase('fails', 'Failed');
    expect(failed.status.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(3);

    // fails on its first run (no marker file yet in its emptyDir-less /tmp path), then succeeds
    const marker = `/tmp/raftkv-e2e-${ns}-retry`;
    await apply(
      pod(
        'retry',
        'OnFailure',
        `const fs = require('node:fs'); if (fs.existsSync('${marker}')) { fs.unlinkSync('${marker}'); process.exit(0); } fs.writeFileSync('${marker}', 'x'); process.exit(1);`,
      ),
    );
    const done = await phase('retry', 'Succeeded');
    expect(done.status.containerStatuses?.[0]?.restartCount).toBe(1);
  });
});

describe('e2e environment: fault injection (local pod runner only)', () => {
  const ns2 = `e2e-faults-${randomBytes(3).toString('hex')}`;
  const server = `require('node:http').createServer((q, s) => s.end('ok')).listen(8080);`;
  const get = (timeout = '3s'): Promise<string> =>
    kubectl(['get', '--raw', `/api/v1/namespaces/${ns2}/pods/f:8080/proxy/`, `--request-timeout=${timeout}`]);
  const fault = (value: string): Promise<string> =>
    kubectl(['annotate', 'pod', 'f', '-n', ns2, '--overwrite', `raftkv.e2e/fault=${value}`]);

  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns2, '--wait=true', '--timeout=120s']).catch(() => undefined);
  });

  it('pauses, cuts off and kills a pod on request (annotation raftkv.e2e/fault)', async () => {
    await createNamespace(ns2);
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'f', namespace: ns2 },
      spec: {
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 2,
        containers: [{ name: 'main', image: 'node:20-bookworm-slim', command: ['node', '-e', server] }],
      },
    });
    await waitFor('f serving', () => get(), 60_000, 300);

    // Paused and cut-off pods stop answering, and answer again once the fault is lifted.
    for (const [f, what] of [
      ['pause', 'unresponsive'],
      ['cut', 'cut off'],
    ] as const) {
      await fault(f);
      await waitFor(
        `f ${what}`,
        () =>
          get('1s').then(
            () => undefined,
            () => true,
          ),
        10_000,
        200,
      );
      await fault('none');
      await waitFor(`f serving after ${f}`, () => get(), 10_000, 200);
    }

    await fault('kill');
    await waitFor(
      'f restarted after kill',
      async () => {
        const p = await getJson<Pod>(['pod', 'f', '-n', ns2]);
        return (p?.status.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? p : undefined;
      },
      30_000,
      300,
    );
    await waitFor('f serving after kill', () => get(), 30_000, 300);
  });
});
