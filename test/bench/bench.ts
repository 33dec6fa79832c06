// raftkv against etcd, side by side on loopback, both as 3 real processes started from this one
// process tree with the same flags, driven by the same closed-loop load generators through the
// same APIs (the v3 JSON gateway over HTTP, and etcd's gRPC KV service), with 256-byte values.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { LocalCluster, MAIN, type LocalMember } from '../../node/tools/local-cluster.js';
import { runGrpcLoad } from './grpc-load.js';
import { percentile, runLoad, type LoadResult } from './load.js';
import { makeTestCerts, memberTlsArgs, type TestCerts } from '../support/certs.js';
import { agreedLeader } from '../support/leader.js';

export type System = 'raftkv' | 'etcd';
const SYSTEMS: readonly System[] = ['raftkv', 'etcd'];

/** A load run with the bytes its cluster's members wrote to disk meanwhile, per request. */
export interface BenchLoad extends LoadResult {
  /** Summed over all members, from /proc/<pid>/io (what reached the block layer). */
  diskKiBPerOp: number;
}

export interface SystemResult {
  system: System;
  /** 64-client gRPC puts on the cluster just started, before anything else ran on it. */
  freshGrpcPut64: BenchLoad;
  /** One client through the leader, its first seconds: right after the 64-client warm-up loads. */
  warmPut1Leader: BenchLoad;
  /** One client, through the leader and through a follower (which forwards to the leader). */
  put1Leader: BenchLoad;
  put1Follower: BenchLoad;
  put64: BenchLoad;
  rangeLinearizable64: BenchLoad;
  rangeSerializable64: BenchLoad;
  grpcPut64: BenchLoad;
  grpcRange64: BenchLoad;
  /** 64-client puts on clusters with mutual TLS on both ports (etcd's flags, one CA). */
  tlsPut64: BenchLoad;
  tlsGrpcPut64: BenchLoad;
  rssMiBPerMember: number;
  /** Shared pages (the executable, shared libraries) divided among the processes that map them. */
  pssMiBPerMember: number;
  /** The median of failoverSamplesMs. */
  failoverMs: number;
  /** Each leader kill's time until writes resumed, fastest first. */
  failoverSamplesMs: number[];
}

const VALUE_BYTES = Buffer.alloc(256, 'v');
const VALUE = VALUE_BYTES.toString('base64');
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The client side of a TLS cluster: its CA, and a certificate it signed. */
interface ClientTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

const leader = (members: LocalMember[], tls?: ClientTls) =>
  agreedLeader(() => members.filter((m) => m.proc), undefined, undefined, tls);

/** A number read from one of a process's /proc files: `pattern`'s first group, NaN if it is absent. */
function procNumber(pid: number, file: string, pattern: RegExp): number {
  const m = pattern.exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** `value` of each member's process, summed. */
const sumOverMembers = (members: LocalMember[], value: (pid: number) => number) =>
  members.reduce((sum, m) => sum + value(m.proc!.pid!), 0);

/** A field of the process's memory summary (`Rss`, `Pss`, ...) in MiB. */
const memoryMiB = (pid: number, field: 'Rss' | 'Pss') =>
  procNumber(pid, 'smaps_rollup', new RegExp(`^${field}:\\s+(\\d+) kB`, 'm')) / 1024;

const perMember = (members: LocalMember[], field: 'Rss' | 'Pss') =>
  sumOverMembers(members, (pid) => memoryMiB(pid, field)) / members.length;

/** Bytes the members have written to disk so far (their fsynced WAL and backend pages). */
const diskWrites = (members: LocalMember[]) =>
  sumOverMembers(members, (pid) => procNumber(pid, 'io', /^write_bytes: (\d+)$/m));

/** Time from SIGKILL of the leader until a write is acknowledged again. */
async function failover(cluster: LocalCluster): Promise<number> {
  const old = await leader(cluster.members);
  const rest = cluster.members.filter((m) => m !== old).map((m) => m.clientURL);
  const killedAt = performance.now();
  await cluster.stop(old, 'SIGKILL');
  // Overlapping attempts every 20 ms (each gives up after 500 ms) so resumption is seen promptly.
  return new Promise((resolve, reject) => {
    let done = false;
    let attempts = 0;
    const timer = setInterval(() => {
      if (done) return;
      if (++attempts > 1500) {
        clearInterval(timer);
        reject(new Error('writes did not resume within 30 s'));
        return;
      }
      const url = rest[attempts % rest.length]!;
      fetch(new URL('/v3/kv/put', url), {
        method: 'POST',
        body: JSON.stringify({ key: b64('failover'), value: VALUE }),
        signal: AbortSignal.timeout(500),
      }).then(
        (res) => {
          if (res.ok && !done) {
            done = true;
            clearInterval(timer);
            resolve(performance.now() - killedAt);
          }
        },
        () => {},
      );
    }, 20);
  });
}

/**
 * `n` failovers of each cluster, taking turns kill by kill so that whatever else the machine is
 * doing weighs on both alike: the election timeout is randomized, so one kill is one draw from a
 * wide spread. The killed member is restarted, and all agree on a leader, before the next kill.
 * Each cluster's times, fastest first.
 */
async function failovers(clusters: LocalCluster[], n: number): Promise<number[][]> {
  const times: number[][] = clusters.map(() => []);
  for (let i = 0; i < n; i++) {
    for (const [c, cluster] of clusters.entries()) {
      times[c]!.push(await failover(cluster));
      for (const m of cluster.members) if (!m.proc) await cluster.start(m);
      await leader(cluster.members);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b));
}

interface Started {
  cluster: LocalCluster;
  root: string;
}

/** With `tls` (files and client material), members run https on both ports and require certificates. */
async function startCluster(system: System, tls?: { files: TestCerts; client: ClientTls }): Promise<Started> {
  const root = await mkdtemp(join(tmpdir(), `raftkv-bench-${system}-`));
  const cluster = new LocalCluster({
    size: 3,
    dataRoot: root,
    extraArgs: [
      '--heartbeat-interval=100',
      '--election-timeout=1000',
      ...(tls ? memberTlsArgs(tls.files) : []),
    ],
    ...(tls ? { scheme: 'https' as const } : {}),
    ...(system === 'etcd' ? { command: ['etcd'] } : {}),
  });
  await cluster.plan();
  await cluster.startAll();
  await leader(cluster.members, tls?.client);
  return { cluster, root };
}

async function stopClusters(started: Started[]): Promise<void> {
  for (const { cluster, root } of started) {
    await cluster.stopAll('SIGKILL');
    cluster.releasePorts();
    await rm(root, { recursive: true, force: true });
  }
}

// The same keys through both APIs: each worker cycles over 1000 of its own; reads get one key.
const putKey = (w: number, n: number) => `bench/${w}/${n % 1000}`;
const READ_KEY = putKey(0, 0);
const put = (w: number, n: number) => JSON.stringify({ key: b64(putKey(w, n)), value: VALUE });
const read = (serializable: boolean) => () => JSON.stringify({ key: b64(READ_KEY), serializable });
export const grpcPut = (w: number, n: number) => ({ key: Buffer.from(putKey(w, n)), value: VALUE_BYTES });
const grpcRead = () => ({ key: Buffer.from(READ_KEY) });

/** A workload: a load run against one system's endpoints for a number of seconds. */
type Workload = (endpoints: string[], seconds: number) => Promise<LoadResult>;
/** Picks the endpoints a workload runs against, from a system's members. */
type Targets = (members: LocalMember[]) => Promise<string[]>;
const everyMember: Targets = async (members) => members.map((m) => m.clientURL);
/** One member by its role now, so a single client takes the same path on both systems. */
const byRole =
  (role: 'leader' | 'follower'): Targets =>
  async (members) => {
    const l = await leader(members);
    return [(role === 'leader' ? l : members.find((m) => m !== l)!).clientURL];
  };
const http =
  (path: string, clients: number, body: (w: number, n: number) => string, tls?: ClientTls): Workload =>
  (e, s) =>
    runLoad(e, path, clients, s, body, tls);
const grpcKv =
  (
    method: 'Put' | 'Range',
    clients: number,
    request: (w: number, n: number) => object,
    tls?: ClientTls,
  ): Workload =>
  (e, s) =>
    runGrpcLoad(e, method, clients, s, request, tls);

/**
 * A warm-up, the same for both: each workload for `seconds` on each cluster, so that the figures
 * are of running systems, not of a JIT compiler's first seconds (each API's own code, and each
 * shape of load's path through it, is compiled as it is first used) or of files' first growth.
 * `coldGrpcPuts` measures a new cluster's seconds; the loads here are returned, by cluster and
 * then by workload, for the ones reported too.
 */
async function warmUp(
  clusters: LocalCluster[],
  works: Array<[Workload, Targets?]>,
  seconds: number,
): Promise<BenchLoad[][]> {
  const loads: BenchLoad[][] = [];
  for (const c of clusters) {
    const mine: BenchLoad[] = [];
    for (const [work, targets] of works) mine.push(await measured(c, work, seconds, targets));
    loads.push(mine);
  }
  return loads;
}

/** One run of `work` on the members `targets` picks, with the disk writes of all members per op. */
async function measured(
  c: LocalCluster,
  work: Workload,
  seconds: number,
  targets: Targets = everyMember,
): Promise<BenchLoad> {
  const endpoints = await targets(c.members);
  const written = diskWrites(c.members);
  const load = await work(endpoints, seconds);
  return { ...load, diskKiBPerOp: (diskWrites(c.members) - written) / 1024 / load.ops };
}

/** The compiled cold-grpc-puts.ts, found from the build's member program, as the clusters run it. */
const COLD_LOAD = resolve(MAIN, '../../test/bench/cold-grpc-puts.js');

/**
 * 64-client gRPC puts for `seconds` on a cluster that has served nothing yet, from a load
 * generator in a new process (this one's code is warm by the second system), with the disk
 * writes as `alternate` counts them.
 */
async function coldGrpcPuts(members: LocalMember[], seconds: number): Promise<BenchLoad> {
  const written = diskWrites(members);
  const endpoints = members.map((m) => m.clientURL).join(',');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [COLD_LOAD, '--endpoints', endpoints, '--clients', '64', '--seconds', String(seconds)],
    { maxBuffer: 256 << 20 },
  );
  const load = JSON.parse(stdout) as LoadResult;
  return { ...load, diskKiBPerOp: (diskWrites(members) - written) / 1024 / load.ops };
}

/**
 * The clusters take turns, workload by workload: the workload's time is split into rounds that
 * alternate between them, so a spell of load from elsewhere hits one round of one system, not a
 * whole figure. The rounds are then pooled into one figure per system (pooledRounds).
 */
async function alternate(
  clusters: LocalCluster[],
  seconds: number,
  rounds: number,
  work: Workload,
  targets: Targets = everyMember,
): Promise<BenchLoad[]> {
  const runs: BenchLoad[][] = clusters.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of clusters.entries())
      runs[i]!.push(await measured(c, work, seconds / rounds, targets));
  }
  return runs.map(pooledRounds);
}

/**
 * Rounds as one figure: throughput and disk writes from the median round (by throughput); p50
 * and p99 over every round's requests together. A round of a few seconds at one client has only
 * about 40 requests beyond its p99, so the p99 of a single round moved by a third from run to run.
 */
export function pooledRounds<T extends LoadResult>(runs: T[]): T {
  const latenciesMs = runs.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  return {
    ...median(runs),
    p50ms: percentile(latenciesMs, 50),
    p99ms: percentile(latenciesMs, 99),
    latenciesMs,
  };
}

/**
 * The same 64-client puts, HTTP and gRPC, on both systems with mutual TLS on the client and peer
 * ports (throwaway certificates from one CA), after the plain clusters are gone.
 */
async function benchTls(
  seconds: number,
  rounds: number,
): Promise<{ put64: BenchLoad; grpcPut64: BenchLoad }[]> {
  const files = makeTestCerts();
  const client = { ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) };
  const started = await Promise.all(SYSTEMS.map((system) => startCluster(system, { files, client })));
  try {
    const clusters = started.map(({ cluster }) => cluster);
    const put64 = http('/v3/kv/put', 64, put, client);
    const grpcPut64 = grpcKv('Put', 64, grpcPut, client);
    await warmUp(clusters, [[put64], [grpcPut64]], seconds / 5);
    const http64 = await alternate(clusters, seconds, rounds, put64);
    const grpc64 = await alternate(clusters, seconds, rounds, grpcPut64);
    return clusters.map((_, i) => ({ put64: http64[i]!, grpcPut64: grpc64[i]! }));
  } finally {
    await stopClusters(started);
  }
}

/**
 * Both clusters run at once and take turns, workload by workload, so that whatever else the
 * machine is doing weighs on both alike; then the same for a pair of TLS clusters.
 */
export async function benchBoth(
  seconds: number,
  { rounds = 3, kills = 3 }: { rounds?: number; kills?: number } = {},
): Promise<{ raftkv: SystemResult; etcd: SystemResult }> {
  const started = await Promise.all(SYSTEMS.map((system) => startCluster(system)));
  const results: Omit<SystemResult, 'tlsPut64' | 'tlsGrpcPut64'>[] = [];
  try {
    const clusters = started.map(({ cluster }) => cluster);
    const both = (work: Workload, targets?: Targets) => alternate(clusters, seconds, rounds, work, targets);
    const fresh: BenchLoad[] = [];
    for (const c of clusters) fresh.push(await coldGrpcPuts(c.members, seconds / 5));
    const put64Load = http('/v3/kv/put', 64, put);
    const put1 = http('/v3/kv/put', 1, put);
    const warm = await warmUp(
      clusters,
      [[put64Load], [grpcKv('Put', 64, grpcPut)], [put1, byRole('leader')], [put1, byRole('follower')]],
      seconds / 5,
    );
    const put1Leader = await both(put1, byRole('leader'));
    const put1Follower = await both(put1, byRole('follower'));
    const put64 = await both(put64Load);
    const lin = await both(http('/v3/kv/range', 64, read(false)));
    const ser = await both(http('/v3/kv/range', 64, read(true)));
    const grpcPut64 = await both(grpcKv('Put', 64, grpcPut));
    const grpcRange64 = await both(grpcKv('Range', 64, grpcRead));
    const memory = clusters.map((c) => ({
      rssMiBPerMember: perMember(c.members, 'Rss'),
      pssMiBPerMember: perMember(c.members, 'Pss'),
    }));
    const failoverTimes = await failovers(clusters, kills);
    for (const i of started.keys()) {
      results.push({
        system: SYSTEMS[i]!,
        freshGrpcPut64: fresh[i]!,
        warmPut1Leader: warm[i]![2]!,
        put1Leader: put1Leader[i]!,
        put1Follower: put1Follower[i]!,
        put64: put64[i]!,
        rangeLinearizable64: lin[i]!,
        rangeSerializable64: ser[i]!,
        grpcPut64: grpcPut64[i]!,
        grpcRange64: grpcRange64[i]!,
        ...memory[i]!,
        failoverMs: failoverTimes[i]![kills >> 1]!,
        failoverSamplesMs: failoverTimes[i]!,
      });
    }
  } finally {
    await stopClusters(started);
  }
  const tls = await benchTls(seconds, rounds);
  const [raftkv, etcd] = results.map((r, i) => ({
    ...r,
    tlsPut64: tls[i]!.put64,
    tlsGrpcPut64: tls[i]!.grpcPut64,
  }));
  return { raftkv: raftkv!, etcd: etcd! };
}

/** Every load a system ran, for checks over all of them. */
export const loads = (x: SystemResult): BenchLoad[] => [
  x.freshGrpcPut64,
  x.warmPut1Leader,
  x.put1Leader,
  x.put1Follower,
  x.put64,
  x.rangeLinearizable64,
  x.rangeSerializable64,
  x.grpcPut64,
  x.grpcRange64,
  x.tlsPut64,
  x.tlsGrpcPut64,
];

/** The run with the median throughput (the upper one of an even count). */
function median<T extends LoadResult>(runs: T[]): T {
  return [...runs].sort((a, b) => a.opsPerSec - b.opsPerSec)[runs.length >> 1]!;
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** The markdown table: figures for both and raftkv/etcd (for latencies, memory and failover lower is better). */
export function resultsTable(r: SystemResult, e: SystemResult): string {
  const rows: Array<[string, number, number, number]> = [];
  const load = (label: string, a: BenchLoad, b: BenchLoad, disk = false) => {
    rows.push([`${label}: ops/s`, a.opsPerSec, b.opsPerSec, 0]);
    rows.push([`${label}: p50 ms`, a.p50ms, b.p50ms, 2]);
    rows.push([`${label}: p99 ms`, a.p99ms, b.p99ms, 2]);
    if (disk)
      rows.push([`${label}: KiB written to disk per put, 3 members`, a.diskKiBPerOp, b.diskKiBPerOp, 1]);
  };
  load(
    `gRPC put, 64 clients, the first ${fmt(r.freshGrpcPut64.seconds, 1)} s of a new cluster`,
    r.freshGrpcPut64,
    e.freshGrpcPut64,
  );
  load(
    `put, 1 client via the leader, its first ${fmt(r.warmPut1Leader.seconds, 1)} s (after 64-client loads)`,
    r.warmPut1Leader,
    e.warmPut1Leader,
  );
  load('put, 1 client via the leader', r.put1Leader, e.put1Leader, true);
  load('put, 1 client via a follower', r.put1Follower, e.put1Follower);
  load('put, 64 clients', r.put64, e.put64, true);
  load('linearizable range, 64 clients', r.rangeLinearizable64, e.rangeLinearizable64);
  load('serializable range, 64 clients', r.rangeSerializable64, e.rangeSerializable64);
  load('gRPC put, 64 clients', r.grpcPut64, e.grpcPut64);
  load('gRPC linearizable range, 64 clients', r.grpcRange64, e.grpcRange64);
  load('put over mutual TLS, 64 clients', r.tlsPut64, e.tlsPut64);
  load('gRPC put over mutual TLS, 64 clients', r.tlsGrpcPut64, e.tlsGrpcPut64);
  rows.push(['memory per member after load: RSS MiB', r.rssMiBPerMember, e.rssMiBPerMember, 1]);
  rows.push(['memory per member after load: PSS MiB', r.pssMiBPerMember, e.pssMiBPerMember, 1]);
  rows.push(['writes resume after SIGKILL of the leader: ms', r.failoverMs, e.failoverMs, 0]);
  const lines = ['| measure | raftkv | etcd | raftkv / etcd |', '|---|---:|---:|---:|'];
  for (const [label, a, b, d] of rows)
    lines.push(`| ${label} | ${fmt(a, d)} | ${fmt(b, d)} | ${fmt(a / b, 2)} |`);
  const errors = (x: SystemResult) => loads(x).reduce((n, l) => n + l.errors, 0);
  const samples = (x: SystemResult) => x.failoverSamplesMs.map((ms) => fmt(ms)).join(', ');
  lines.push('', `Failed requests during the runs: raftkv ${errors(r)}, etcd ${errors(e)}.`);
  lines.push('', `Each leader kill, writes resumed after (ms): raftkv ${samples(r)}; etcd ${samples(e)}.`);
  return lines.join('\n');
}
