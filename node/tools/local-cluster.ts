// Runs a cluster of real member processes on loopback: what `make run` starts, and what the
// integration tests drive. Each member is `node dist/node/main.js` with etcd-style flags.
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled, this file sits next to main.js; run from source (jest), the build's copy is used.
const HERE = fileURLToPath(import.meta.url);
/** The compiled member program, dist/node/main.js. */
export const MAIN = HERE.includes('/dist/')
  ? resolve(HERE, '../../main.js')
  : resolve(HERE, '../../../dist/node/main.js');

export interface LocalMember {
  name: string;
  clientURL: string;
  /** The peer URL the cluster knows the member by. */
  peerURL: string;
  /** Where the member listens for peers: its peerURL, unless a proxy stands in front of it. */
  peerListenURL: string;
  /** Health and metrics alone, over plain HTTP (--listen-metrics-urls), when the cluster has them. */
  metricsURL?: string;
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
  /** 'https' for client and peer URLs both (the TLS flags then go in extraArgs). Default 'http'. */
  scheme?: 'http' | 'https';
  /** Give each member a --listen-metrics-urls port on plain HTTP. */
  metricsPorts?: boolean;
  /**
   * Each member in a process group of its own, so a terminal's Ctrl-C reaches only this process,
   * which then stops the members in turn (make run). They outlive a SIGKILL of this process.
   */
  ownProcessGroups?: boolean;
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

/**
 * Ports handed out are claimed as files here, so that processes side by side (jest's workers, a
 * bench beside a test run) never pick the same port, not even while the member that has it is
 * down between a stop and a restart (where a bind check alone would find it free).
 */
const CLAIMS = join(tmpdir(), 'raftkv-ports');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function claim(port: number): boolean {
  const file = join(CLAIMS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      // Claimed: by a live process, or left behind by one that died (then taken over).
      const owner = Number(readFileSync(file, 'utf8'));
      if (owner > 0 && alive(owner)) return false;
      rmSync(file, { force: true });
    }
  }
  return false;
}

/** Gives up this process's claim on ports it no longer uses. */
export function releasePorts(ports: Iterable<number>): void {
  for (const port of ports) {
    if (handedOut.delete(port)) rmSync(join(CLAIMS, String(port)), { force: true });
  }
}

// Claims left by a process that ended without this (a jest worker is killed) are taken over.
process.on('exit', () => releasePorts([...handedOut]));

/** Whether something could bind the port on 127.0.0.1 now. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });
}

/** A port nothing listens on now, outside the ephemeral range, not handed out before by any live process. */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  mkdirSync(CLAIMS, { recursive: true });
  for (let tries = 0; tries < 1000; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port) || !claim(port)) continue;
    handedOut.add(port);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${low}-${high - 1}`);
}

export class LocalCluster {
  readonly members: LocalMember[] = [];
  /** The ports picked for members (not fixed ones). */
  private readonly ports: number[] = [];
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
    const client = base ? base + offset : await this.freePort();
    const peerPort = base ? base + 1 + offset : await this.freePort();
    const scheme = this.o.scheme ?? 'http';
    const peerURL = `${scheme}://127.0.0.1:${peerPort}`;
    return {
      name,
      clientURL: `${scheme}://127.0.0.1:${client}`,
      peerURL,
      peerListenURL: this.o.peerProxy ? `${scheme}://127.0.1.${i + 1}:${await this.freePort()}` : peerURL,
      ...(this.o.metricsPorts ? { metricsURL: `http://127.0.0.1:${await this.freePort()}` } : {}),
      dataDir: join(this.o.dataRoot, name),
      log: [],
    };
  }

  private async freePort(): Promise<number> {
    const port = await freePort();
    this.ports.push(port);
    return port;
  }

  /** Gives up the cluster's ports, once its members are stopped for good. */
  releasePorts(): void {
    releasePorts(this.ports.splice(0));
  }

  initialCluster(members = this.members): string {
    return members.map((m) => `${m.name}=${m.peerURL}`).join(',');
  }

  /** Starts a member's process; `args` are flags for this start alone (after the cluster's extraArgs). */
  async start(
    m: LocalMember,
    state: 'new' | 'existing' = 'new',
    cluster = this.initialCluster(),
    args: string[] = [],
  ): Promise<void> {
    await mkdir(m.dataDir, { recursive: true });
    const [program, ...prefix] = this.o.command ?? [process.execPath, MAIN];
    const argv = [
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
      ...(m.metricsURL ? [`--listen-metrics-urls=${m.metricsURL}`] : []),
      ...(this.o.extraArgs ?? []),
      ...args,
    ];
    const proc = spawn(program!, argv, {
      detached: this.o.ownProcessGroups ?? false,
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
