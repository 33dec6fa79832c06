// Provider-agnostic helpers for e2e tests: everything goes through kubectl and the API server
// (pods are reached with the API server's pod proxy), so the same tests run on the local
// control plane and on kind. KUBECONFIG and a kubectl on PATH come from test/e2e/e2e.mk.
import { execFile } from 'node:child_process';
import { waitFor } from '../support/wait.js';

export function kubectl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kubectl', args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export async function apply(obj: unknown): Promise<void> {
  await kubectl(['apply', '-f', '-'], JSON.stringify(obj));
}

export async function getJson<T = Record<string, unknown>>(args: string[]): Promise<T | undefined> {
  try {
    return JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as T;
  } catch (err) {
    if (/NotFound|not found/.test(String(err))) return undefined;
    throw err;
  }
}

/** Creates a namespace and waits for its default service account (pods need it to be admitted). */
export async function createNamespace(name: string): Promise<void> {
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  await waitFor(
    'default service account',
    () => getJson(['serviceaccount', 'default', '-n', name]),
    60_000,
    500,
  );
}

/** GET http://<pod>:<port><path> through the API server's pod proxy. */
export async function podGet(ns: string, pod: string, port: number, path: string): Promise<string> {
  return kubectl(['get', '--raw', `/api/v1/namespaces/${ns}/pods/${pod}:${port}/proxy${path}`]);
}

/** The local control plane (not kind): host-level checks (processes, netns) apply. */
export const localProvider = (process.env.RAFTKV_E2E_PROVIDER ?? 'local') === 'local';

/** POST a JSON body to http://<pod>:<port><path> through the API server's pod proxy. */
export async function podPost(
  ns: string,
  pod: string,
  port: number,
  path: string,
  body: unknown,
): Promise<string> {
  return kubectl(
    ['create', '--raw', `/api/v1/namespaces/${ns}/pods/${pod}:${port}/proxy${path}`, '-f', '-'],
    JSON.stringify(body),
  );
}
