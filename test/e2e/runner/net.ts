// Pod networking for the pod runner: one network namespace per pod, a veth pair into the bridge
// raftkv-br0 (10.244.0.1/24), and a per-namespace hosts file (/etc/netns/<ns>/hosts, which
// `ip netns exec` bind-mounts over /etc/hosts) so that StatefulSet names resolve.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

export const BRIDGE = 'raftkv-br0';
export const BRIDGE_IP = '10.244.0.1';
export const POD_PREFIX_LEN = 24;
export const NETNS_PREFIX = 'rkv-';

function ip(args: string[], ignoreErrors = false): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (ignoreErrors) return '';
    const e = err as { stderr?: string };
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.trim() ?? String(err)}`);
  }
}

export function ensureBridge(): void {
  if (ip(['link', 'show', BRIDGE], true) === '') {
    ip(['link', 'add', BRIDGE, 'type', 'bridge']);
    ip(['addr', 'add', `${BRIDGE_IP}/${POD_PREFIX_LEN}`, 'dev', BRIDGE]);
  }
  ip(['link', 'set', BRIDGE, 'up']);
}

export function removeBridge(): void {
  ip(['link', 'del', BRIDGE], true);
}

/** Names of network namespaces this runner made (left over ones too). */
export function listPodNetns(): string[] {
  return ip(['netns', 'list'], true)
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

export function netnsName(uid: string): string {
  return NETNS_PREFIX + createHash('sha1').update(uid).digest('hex').slice(0, 10);
}

function vethName(netns: string): string {
  return 'v' + netns.slice(NETNS_PREFIX.length); // <= 15 chars
}

/** Creates the namespace with eth0 = address/24, default route via the bridge. */
export function createPodNetwork(netns: string, address: string): void {
  deletePodNetwork(netns);
  const veth = vethName(netns);
  mkdirSync(`/etc/netns/${netns}`, { recursive: true });
  writeFileSync(`/etc/netns/${netns}/hosts`, `127.0.0.1 localhost\n`);
  writeFileSync(
    `/etc/netns/${netns}/resolv.conf`,
    `# raftkv e2e pod: names come from /etc/hosts\noptions ndots:1\n`,
  );
  ip(['netns', 'add', netns]);
  ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  ip(['link', 'set', veth, 'master', BRIDGE, 'up']);
  ip(['-n', netns, 'link', 'set', 'lo', 'up']);
  ip(['-n', netns, 'addr', 'add', `${address}/${POD_PREFIX_LEN}`, 'dev', 'eth0']);
  ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
  ip(['-n', netns, 'route', 'add', 'default', 'via', BRIDGE_IP]);
}

export function deletePodNetwork(netns: string): void {
  ip(['link', 'del', vethName(netns)], true);
  ip(['netns', 'del', netns], true);
  rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
}

/** Cuts (or restores) a pod's link to the bridge, for fault tests. */
export function setPodLink(netns: string, up: boolean): void {
  ip(['link', 'set', vethName(netns), up ? 'up' : 'down']);
}

/** Rewrites the hosts file in place: `ip netns exec` bind-mounts the inode, so no rename. */
export function writeHosts(netns: string, content: string): void {
  try {
    writeFileSync(`/etc/netns/${netns}/hosts`, content);
  } catch {
    // namespace already gone
  }
}

/**
 * Hands out pod addresses 10.244.0.2 .. 10.244.0.254 round-robin, so a freed address is not
 * reused at once: other pods (and the host) may still hold its old MAC in their neighbour
 * caches for up to a minute, and a new pod at that address would be unreachable meanwhile.
 */
export class IpPool {
  private readonly used = new Set<number>();
  private next = 2;
  allocate(): string {
    for (let n = 0; n < 253; n++) {
      const i = this.next;
      this.next = i >= 254 ? 2 : i + 1;
      if (!this.used.has(i)) {
        this.used.add(i);
        return `10.244.0.${i}`;
      }
    }
    throw new Error('pod address pool 10.244.0.0/24 exhausted');
  }
  release(address: string): void {
    this.used.delete(Number(address.split('.')[3]));
    ip(['neigh', 'flush', 'to', address, 'dev', BRIDGE], true);
  }
}
