// Runs a cluster of real member processes on loopback: what `make run` starts, and what the
// integration tests drive. Each member is `node dist/node/main.js` with etcd-style flags.
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled, this file sits next to main.js; run from source (jest), the build's copy is used.
const HERE = fileURLToPath(import.meta.url);
const MAIN = HERE.includes('/dist/')
  ? resolve(HERE, '../../main.js')
  : resolve(HERE, '../../../dist/node/main.js');

export interface LocalMember {
  name: string;
  clientURL: string;
  /** The peer URL the cluster knows the member by. */
  peerURL: string;
  /** Where the member listens for peers: its peerURL, unless a proxy stands in front of it. */
  peerListenURL: string;
  dataDir: string;
  proc?: ChildProcess;
  log: string[];
}

export interface LocalClusterOptions {
  size: number;
  dataRoot: string;
  /** Fixed base ports (2379/2380 style) or 0 for free ports. */
  basePort?: number;
  extraArgs?: string[];
  /**
   * Member i listens for peers on 127.0.1.(i+1) (and dials from there) while its peerURL stays on
   * 127.0.0.1, free for a proxy that forwards to the listener (the fault tests' controllable links).
   */
  peerProxy?: boolean;
  /** Extra environment for a member's process. */
  env?: (m: LocalMember) => Record<string, string>;
  /** Where member logs go: collected in memory, or also echoed. */
  echo?: boolean;
  /**
   * The program each member runs. raftkv takes etcd's flags, so the same cluster can be made of
   * etcd processes (the benchmark's reference): ['etcd'].
   */
  command?: string[];
}

/**
 * Ports below the kernel's ephemeral range: a port from that range (what listen(0) hands out) can
 * be taken as the source port of any outbound connection between being picked and being bound,
 * or while its member is down between a kill and a restart, and the member then fails with
 * EADDRINUSE. Ports below the range are only ever taken by a bind.
 */
function portRange(): [number, number] {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: keep the IANA default's lower bound.
  }
  return [Math.max(1024, low - 20000), low];
}

const handedOut = new Set<number>();

/** Whether something could bind the port on 127.0.0.1 now. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });
}

/** A port nothing listens on now, outside the ephemeral range, not handed out before by this process. */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  for (let tries = 0; tries < 1000; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${low}-${high - 1}`);
}

export class LocalCluster {
  readonly members: LocalMember[] = [];
  /**
   * The same for the same data root, so a cluster planned again on its data (a second `make run`)
   * has the same member IDs (they derive from peer URL and token); distinct for distinct roots.
   */
  private readonly token: string;

  constructor(private readonly o: LocalClusterOptions) {
    this.token = `local-${createHash('sha256').update(resolve(o.dataRoot)).digest('hex').slice(0, 12)}`;
  }

  async plan(): Promise<void> {
    for (let i = 0; i < this.o.size; i++) this.members.push(await this.newMember(`m${i + 1}`, i));
  }

  private async newMember(name: string, i: number): Promise<LocalMember> {
    const base = this.o.basePort;
    // etcd's local layout: 2379/2380, 22379/22380, 32379/32380, ...
    const offset = i === 0 ? 0 : (i + 1) * 10000;
    const client = base ? base + offset : await freePort();
    const peerPort = base ? base + 1 + offset : await freePort();
    const peerURL = `http://127.0.0.1:${peerPort}`;
    return {
      name,
      clientURL: `http://127.0.0.1:${client}`,
      peerURL,
      peerListenURL: this.o.peerProxy ? `http://127.0.1.${i + 1}:${await freePort()}` : peerURL,
      dataDir: join(this.o.dataRoot, name),
      log: [],
    };
  }

  initialCluster(members = this.members): string {
    return members.map((m) => `${m.name}=${m.peerURL}`).join(',');
  }

  async start(
    m: LocalMember,
    state: 'new' | 'existing' = 'new',
    cluster = this.initialCluster(),
  ): Promise<void> {
    await mkdir(m.dataDir, { recursive: true });
    const [program, ...prefix] = this.o.command ?? [process.execPath, MAIN];
    const args = [
      ...prefix,
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientURL}`,
      `--advertise-client-urls=${m.clientURL}`,
      `--listen-peer-urls=${m.peerListenURL}`,
      `--initial-advertise-peer-urls=${m.peerURL}`,
      `--initial-cluster=${cluster}`,
      `--initial-cluster-state=${state}`,
      `--initial-cluster-token=${this.token}`,
      ...(this.o.extraArgs ?? []),
    ];
    const proc = spawn(program!, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.o.env?.(m) },
    });
    m.proc = proc;
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      m.log.push(text);
      if (m.log.length > 2000) m.log.splice(0, 1000);
      if (this.o.echo) process.stderr.write(text);
    };
    proc.stdout!.on('data', collect);
    proc.stderr!.on('data', collect);
  }

  async startAll(): Promise<void> {
    await Promise.all(this.members.map((m) => this.start(m)));
  }

  /** Plans and starts a new member that will join with --initial-cluster-state existing. */
  async addMember(name: string): Promise<LocalMember> {
    const m = await this.newMember(name, this.members.length);
    this.members.push(m);
    return m;
  }

  /** Stops a member (SIGKILL) and forgets it: after its removal from the cluster's membership. */
  async forget(m: LocalMember): Promise<void> {
    await this.stop(m, 'SIGKILL');
    this.members.splice(this.members.indexOf(m), 1);
  }

  /** Stops a member with a signal and waits for the process to exit. */
  async stop(m: LocalMember, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const proc = m.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null;
    const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
    proc.kill(signal);
    const code = await exited;
    m.proc = undefined;
    return code;
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all(this.members.map((m) => this.stop(m, signal)));
  }
}
