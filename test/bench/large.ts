// A large data set on raftkv and on etcd, side by side: fill a 3-member cluster with `bytes` of
// live data (512 KiB values, distinct keys), then measure what a big store costs an operator:
// a backup with `etcdctl snapshot save`, restarting a follower (SIGTERM and SIGKILL) until it
// serves its data again, and replacing a follower's lost volume (remove, wipe, add back) until the
// new member has caught up, with the peak memory of the leader and of the new member meanwhile.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KvClient } from '../../node/client/client.js';
import { LocalCluster, type LocalMember } from '../../node/tools/local-cluster.js';
import { agreedLeader } from '../support/leader.js';
import { addMember, removeMember } from '../support/membership.js';
import { waitFor } from '../support/wait.js';
import type { System } from './bench.js';

export interface LargeResult {
  system: System;
  /** Live data written, and the leader's database size after it. */
  dataMiB: number;
  dbMiB: number;
  fillSeconds: number;
  /** `etcdctl snapshot save` from the leader: how long, the file, and the leader's peak memory. */
  backupMs: number;
  backupMiB: number;
  backupLeaderPeakMiB: number;
  /** From the restart until the member answers a serializable read of the last key written. */
  restartAfterSigtermMs: number;
  restartAfterSigkillMs: number;
  /** From starting the wiped member until it serves the last key. */
  replaceCatchUpMs: number;
  /** Peak resident memory (VmHWM) while the new member caught up. */
  replaceLeaderPeakMiB: number;
  replaceMemberPeakMiB: number;
}

const VALUE_BYTES = 512 * 1024;
const WRITERS = 4;

/** Resets the process's peak RSS (Linux: "5" to clear_refs), so a later peakMiB covers only what follows. */
function resetPeak(m: LocalMember): void {
  writeFileSync(`/proc/${m.proc!.pid!}/clear_refs`, '5');
}

function peakMiB(m: LocalMember): number {
  const v = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${m.proc!.pid!}/status`, 'utf8'));
  return v ? Number(v[1]) / 1024 : NaN;
}

/** Writes distinct keys until `bytes` of values are in; returns the last key written. */
async function fill(endpoints: string[], bytes: number): Promise<string> {
  const value = Buffer.alloc(VALUE_BYTES, 'x').toString();
  const total = Math.ceil(bytes / VALUE_BYTES);
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      const kv = new KvClient([endpoints[w % endpoints.length]!], 30_000);
      for (let n = next++; n < total; n = next++) await kv.put(`large/${String(n).padStart(8, '0')}`, value);
    }),
  );
  return `large/${String(total - 1).padStart(8, '0')}`;
}

/** etcdctl 3.4's `snapshot save` of member `m` into `file` (removed after): time, size, peak memory. */
async function timedBackup(m: LocalMember, file: string) {
  resetPeak(m);
  const at = performance.now();
  await promisify(execFile)(
    'etcdctl',
    [`--endpoints=${new URL(m.clientURL).host}`, 'snapshot', 'save', file],
    {
      env: { ...process.env, ETCDCTL_API: '3' },
    },
  );
  const backupMs = performance.now() - at;
  const backupMiB = (await stat(file)).size / 1024 ** 2;
  await rm(file);
  return { backupMs, backupMiB, backupLeaderPeakMiB: peakMiB(m) };
}

/** Milliseconds from `since` until `m` serves `key` with a whole value from its own store. */
function servesKey(m: LocalMember, key: string, since: number): Promise<number> {
  return waitFor(
    `${m.name} to serve ${key}`,
    async () => {
      const r = await new KvClient([m.clientURL], 5000).get(key, { serializable: true });
      return r.kvs[0]?.value.length === VALUE_BYTES ? performance.now() - since : undefined;
    },
    600_000,
    20,
  );
}

export async function largeDataset(system: System, bytes: number): Promise<LargeResult> {
  const root = await mkdtemp(join(tmpdir(), `raftkv-large-${system}-`));
  const cluster = new LocalCluster({
    size: 3,
    dataRoot: root,
    extraArgs: [
      '--heartbeat-interval=100',
      '--election-timeout=1000',
      `--quota-backend-bytes=${8 * 1024 ** 3}`,
      // Snapshots every 100 entries, so a replaced member is sent one (etcd 3.4 keeps a fixed
      // 5000 entries behind its snapshots, so its new member may replay the log instead).
      '--snapshot-count=100',
      ...(system === 'raftkv' ? ['--snapshot-catchup-entries=50'] : []),
    ],
    ...(system === 'etcd' ? { command: ['etcd'] } : {}),
  });
  try {
    await cluster.plan();
    await cluster.startAll();
    const leader = await agreedLeader(() => cluster.members.filter((m) => m.proc), 30_000);
    const t0 = performance.now();
    const lastKey = await fill(
      cluster.members.map((m) => m.clientURL),
      bytes,
    );
    const fillSeconds = (performance.now() - t0) / 1000;
    // etcd commits its backend every 100 ms, so its size lags the last write: read it once the
    // data is in (raftkv's is at once).
    const dbMiB = await waitFor(
      "the leader's database to hold the data",
      async () => {
        const size = (await new KvClient([leader.clientURL]).status()).dbSize;
        return size >= bytes ? size / 1024 ** 2 : undefined;
      },
      10_000,
      50,
    );
    const backup = await timedBackup(leader, join(root, 'backup.db'));
    const follower = cluster.members.find((m) => m !== leader)!;
    await servesKey(follower, lastKey, 0);

    const restart = async (signal: NodeJS.Signals) => {
      await cluster.stop(follower, signal);
      const at = performance.now();
      await cluster.start(follower);
      return servesKey(follower, lastKey, at);
    };
    const restartAfterSigtermMs = await restart('SIGTERM');
    const restartAfterSigkillMs = await restart('SIGKILL');

    // Replace the follower's lost volume, as the operator does.
    const others = new KvClient(
      cluster.members.filter((m) => m !== follower).map((m) => m.clientURL),
      30_000,
    );
    const id = (await new KvClient([follower.clientURL]).status()).memberId;
    await cluster.stop(follower, 'SIGKILL');
    await removeMember(others, id);
    await rm(follower.dataDir, { recursive: true, force: true });
    await addMember(others, follower.peerURL, false);
    resetPeak(leader);
    const at = performance.now();
    await cluster.start(follower, 'existing');
    const replaceCatchUpMs = await servesKey(follower, lastKey, at);
    return {
      system,
      dataMiB: (Math.ceil(bytes / VALUE_BYTES) * VALUE_BYTES) / 1024 ** 2,
      dbMiB,
      fillSeconds,
      ...backup,
      restartAfterSigtermMs,
      restartAfterSigkillMs,
      replaceCatchUpMs,
      replaceLeaderPeakMiB: peakMiB(leader),
      replaceMemberPeakMiB: peakMiB(follower),
    };
  } finally {
    await cluster.stopAll('SIGKILL');
    cluster.releasePorts();
    await rm(root, { recursive: true, force: true });
  }
}

/** The markdown table of both systems' figures and raftkv/etcd. */
export function largeTable(r: LargeResult, e: LargeResult): string {
  const rows: Array<[string, keyof LargeResult, number]> = [
    ['live data written: MiB', 'dataMiB', 0],
    ['database size on the leader: MiB', 'dbMiB', 0],
    ['fill time (4 writers, 512 KiB values): s', 'fillSeconds', 1],
    ['backup of the leader (etcdctl snapshot save): ms', 'backupMs', 0],
    ['backup file: MiB', 'backupMiB', 0],
    ['peak RSS of the leader during the backup: MiB', 'backupLeaderPeakMiB', 0],
    ['follower restart after SIGTERM until it serves: ms', 'restartAfterSigtermMs', 0],
    ['follower restart after SIGKILL until it serves: ms', 'restartAfterSigkillMs', 0],
    ['replaced follower (empty volume) caught up: ms', 'replaceCatchUpMs', 0],
    ['peak RSS of the leader during the catch-up: MiB', 'replaceLeaderPeakMiB', 0],
    ['peak RSS of the new member: MiB', 'replaceMemberPeakMiB', 0],
  ];
  const lines = ['| measure | raftkv | etcd | raftkv / etcd |', '|---|---:|---:|---:|'];
  for (const [label, k, d] of rows) {
    const a = r[k] as number;
    const b = e[k] as number;
    lines.push(`| ${label} | ${a.toFixed(d)} | ${b.toFixed(d)} | ${(a / b).toFixed(2)} |`);
  }
  return lines.join('\n');
}
