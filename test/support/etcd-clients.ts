// How etcd's users reach a member in the tests: Debian's etcdctl 3.4, and the JSON gateway with a
// token in the Authorization header.
import { spawnSync } from 'node:child_process';
import type { LocalMember } from '../../node/tools/local-cluster.js';

const run = (m: LocalMember, args: string[]) =>
  spawnSync('etcdctl', [`--endpoints=${m.clientURL}`, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });

/** etcdctl 3.4 against one member: what it prints, or the error line it ends with. */
export function etcdctl(m: LocalMember, ...args: string[]): string {
  const r = run(m, args);
  return r.status === 0 ? r.stdout.toString().trim() : r.stderr.toString().trim().split('\n').at(-1)!;
}

/** etcdctl 3.4 for a step that must work (a test's setup): what it prints; throws with its error otherwise. */
export function mustEtcdctl(m: LocalMember, ...args: string[]): string {
  const r = run(m, args);
  if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** A gateway call: its status and JSON body. */
export async function gateway(m: LocalMember, path: string, body: object, token?: string) {
  const res = await fetch(new URL(path, m.clientURL), {
    method: 'POST',
    body: JSON.stringify(body),
    headers: token ? { authorization: token } : {},
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** etcd's way to turn auth on: a root user with the root role (etcdctl grants it), then enable. */
export function enableAuth(m: LocalMember, rootPassword: string): void {
  for (const [args, out] of [
    [['user', 'add', `root:${rootPassword}`], 'User root created'],
    [['auth', 'enable'], 'Authentication Enabled'],
  ] as const) {
    const said = etcdctl(m, ...args);
    if (said !== out) throw new Error(`etcdctl ${args.join(' ')}: ${said}`);
  }
}
