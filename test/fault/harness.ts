// Fault runs on real member processes: a LocalCluster whose peer links pass through controllable
// proxies (links.ts), clients bound to one member each doing a random mix of reads, writes,
// compare-and-swaps and deletes on a small key space (every operation recorded), and a seeded
// fault injector (SIGKILL + restart, SIGSTOP/SIGCONT pauses longer than the election timeout,
// leadership transfers, follower replacement, partitions, slow links). When the load and the faults stop,
// the cluster must converge, every acknowledged write must still be in the store at the revision
// it was acknowledged at, and the history must be linearizable (serializable reads: monotonic
// per session, only written values).
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, KvClient } from '../../node/client/client.js';
import { dataEnd } from '../../node/storage/scan.js';
import { TEST_FAULT_DIR_ENV } from '../../node/storage/test-faults.js';
import { LocalCluster, type LocalMember } from '../../node/tools/local-cluster.js';
import { checkLinearizable, type CheckResult } from '../lincheck/checker.js';
import { describeOp, HistoryRecorder, type OpHandle, type Operation } from '../lincheck/history.js';
import { checkSerializableReads, describeViolation, type ReadViolation } from '../lincheck/monotonic.js';
import { PeerLinks, type LinkEnd } from './links.js';
import { LeaseProbe, type LeaseProbeResult } from './lease-probe.js';
import { compareWithHistory, fullHistory, historyGaps, ResumingWatcher } from './watchers.js';
import { agreedLeader } from '../support/leader.js';
import { addMember, promoteMember, removeMember } from '../support/membership.js';
import { logTail } from '../support/cluster.js';
import { delay, waitFor } from '../support/wait.js';

export interface FaultRunOptions {
  /** How long clients run and faults are injected. */
  seconds: number;
  seed: number;
  members?: number;
  /** Clients per member. */
  clientsPerMember?: number;
  /** Watchers of the whole key space per member, resuming after every break. */
  watchersPerMember?: number;
  keys?: number;
  /** Per-request timeout of the clients: past it, a write is 'unknown'. */
  requestTimeoutMs?: number;
  /** A random pause of up to this many ms between a client's operations (keeps histories checkable). */
  thinkMs?: number;
  /** Gap between two faults, [min, max] ms. */
  faultGapMs?: [number, number];
  /** Relative weights of the fault kinds; 0 turns one off. */
  faultWeights?: FaultWeights;
  /** Faults injected first, in this order, before the random ones (so a short run has each). */
  firstFaults?: ScriptedFault[];
  checkDeadlineMs?: number;
  /** Where the member data goes (a temporary directory by default; removed at the end). */
  dataRoot?: string;
  /** Extra member flags, e.g. ['--snapshot-count=1000'] to take snapshots (and cut the WAL) often. */
  memberArgs?: string[];
  log?: (line: string) => void;
}

export interface FaultWeights {
  kill: number;
  pause: number;
  transfer: number;
  replace: number;
  /** Cut links: an isolated member (the leader half the time), a bridge, a one-way cut. */
  partition: number;
  /** Every link of one member slowed by 50-300 ms. */
  slow: number;
  /** An extra member added as a learner, promoted, and removed again (leading half the time). */
  membership: number;
  /** A member's WAL fsyncs delayed by 100-500 ms for 1-3 s. */
  slowDisk: number;
  /** SIGKILL while records wait for their fsync, then the unsynced tail cut to a random prefix. */
  unsynced: number;
}

export const DEFAULT_FAULT_WEIGHTS: FaultWeights = {
  kill: 4,
  pause: 4,
  transfer: 2,
  replace: 1,
  partition: 4,
  slow: 1,
  membership: 1,
  slowDisk: 1,
  unsynced: 2,
};

/** A fault kind injected first; with ':leader', aimed at the leader. */
export type ScriptedFault = keyof FaultWeights | `${keyof FaultWeights}:leader`;

export interface FaultRunResult {
  seed: number;
  seconds: number;
  ops: { total: number; ok: number; fail: number; unknown: number; byKind: Record<string, number> };
  faults: {
    kill: number;
    killLeader: number;
    pause: number;
    pauseLeader: number;
    transfer: number;
    transferFailed: number;
    /** A follower removed from the membership, its data wiped, added back and promoted under load. */
    replace: number;
    partition: number;
    /** Partitions that cut the leader off from at least one member. */
    partitionLeader: number;
    slow: number;
    membership: number;
    /** Membership changes in which the extra member led when it was removed. */
    membershipLeader: number;
    slowDisk: number;
    unsynced: number;
    /** WAL bytes written but never synced that were dropped after those kills. */
    unsyncedBytesDropped: number;
  };
  /** Time from the end of the faults until every member agreed, in ms. */
  convergeMs: number;
  finalRevision: number;
  /** Acknowledged writes not found in the final store at the revision they were acknowledged at. */
  lost: string[];
  /** Writes checked for loss (ok puts and successful cas) times members asked. */
  writesVerified: number;
  check: CheckResult;
  checkMs: number;
  counterexample?: string[];
  serializable: { ok: boolean; violations: ReadViolation[]; described: string[] };
  /** Reads whose rows are newer than the revision in their header. */
  headerAnomalies: string[];
  watch: {
    watchers: number;
    /** Times a watcher's stream broke and it resumed from the revision after its last event. */
    resumes: number;
    /** Events received by all watchers, each compared with the reference history. */
    eventsChecked: number;
    /** Missed, repeated, reordered or altered events, and gaps in the history. */
    problems: string[];
  };
  leases: LeaseProbeResult;
  history: Operation[];
  memberLogs: Record<string, string>;
}

/** mulberry32: a small seeded PRNG, so a seed names a run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function linkEnd(m: LocalMember): LinkEnd {
  const at = (url: string) => {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port) };
  };
  const listen = at(m.peerListenURL);
  return { name: m.name, sourceHost: listen.host, advertised: at(m.peerURL), listen };
}

/** Every key the clients use starts with it (k0, k1, ...): watchers watch the prefix. */
const KEY_PREFIX = 'k';

/** How many acknowledged writes each member reads back with range at their revision. */
const ACKS_READ_AT_REVISION = 500;

/** Whether an error proves the request never took effect: a 4xx answer, or a refused connection. */
function provesNotApplied(e: unknown): boolean {
  if (e instanceof ApiError) return e.status >= 400 && e.status < 500;
  const cause = (e as { cause?: { code?: string } } | undefined)?.cause;
  return cause?.code === 'ECONNREFUSED';
}

interface Ack {
  key: string;
  value: string;
  revision: number;
  what: string;
}

export class FaultRun {
  readonly cluster: LocalCluster;
  private readonly rnd: () => number;
  private readonly recorder = new HistoryRecorder();
  private readonly acks: Ack[] = [];
  private readonly ids = new Map<string, string>();
  /** Times each member started a new read session: replaced (wiped, re-added) or power-cut. */
  private readonly incarnations = new Map<string, number>();
  /** Serializable reads from `m` from now on are a session of their own (monotonic.ts). */
  private newSession(m: LocalMember): void {
    this.incarnations.set(m.name, (this.incarnations.get(m.name) ?? 0) + 1);
  }

  private label(m: LocalMember): string {
    const n = this.incarnations.get(m.name) ?? 0;
    return n === 0 ? m.name : `${m.name}#${n}`;
  }
  private readonly paused = new Set<LocalMember>();
  private readonly watchers: ResumingWatcher[] = [];
  private readonly leaseProbe: LeaseProbe;
  /** Until the fault injector is done (scripted faults may outlast the run's seconds). */
  private faultsPending = true;
  /** Extra members added so far (x1, x2, ...). */
  private extras = 0;
  readonly links = new PeerLinks();
  private readonly headerAnomalies: string[] = [];
  private readonly root: string;
  private readonly ownRoot: boolean;
  private readonly o: Required<Omit<FaultRunOptions, 'dataRoot' | 'log' | 'memberArgs'>> & {
    log: (l: string) => void;
  };
  readonly faults: FaultRunResult['faults'] = {
    kill: 0,
    killLeader: 0,
    pause: 0,
    pauseLeader: 0,
    transfer: 0,
    transferFailed: 0,
    replace: 0,
    partition: 0,
    partitionLeader: 0,
    slow: 0,
    membership: 0,
    membershipLeader: 0,
    slowDisk: 0,
    unsynced: 0,
    unsyncedBytesDropped: 0,
  };

  constructor(options: FaultRunOptions) {
    this.o = {
      members: 3,
      clientsPerMember: 2,
      watchersPerMember: 1,
      keys: 4,
      requestTimeoutMs: 1500,
      thinkMs: 5,
      faultGapMs: [1000, 2500],
      faultWeights: DEFAULT_FAULT_WEIGHTS,
      firstFaults: [],
      checkDeadlineMs: 10_000,
      log: () => {},
      ...options,
    };
    this.rnd = prng(options.seed);
    this.ownRoot = options.dataRoot === undefined;
    this.root = options.dataRoot ?? mkdtempSync(join(tmpdir(), 'raftkv-fault-'));
    this.cluster = new LocalCluster({
      size: this.o.members,
      dataRoot: this.root,
      peerProxy: true,
      env: (m) => ({ [TEST_FAULT_DIR_ENV]: this.faultDir(m) }),
      extraArgs: ['--heartbeat-interval=50', '--election-timeout=500', ...(options.memberArgs ?? [])],
    });
    // TTL 2 s (the minimum is 1.5 election timeouts); the grace: a new leader's election timeout,
    // the leader's 500 ms expiry check, and slack for the revoke to commit.
    this.leaseProbe = new LeaseProbe(() => this.live(), prng(options.seed + 7), {
      ttlSeconds: 2,
      prefix: `${KEY_PREFIX}L`,
      timeoutMs: this.o.requestTimeoutMs,
      graceMs: 6000,
    });
  }

  private live(): LocalMember[] {
    return this.cluster.members.filter((m) => m.proc && !this.paused.has(m));
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }

  private client(m: LocalMember, timeoutMs = 2000): KvClient {
    return new KvClient([m.clientURL], timeoutMs);
  }

  async start(): Promise<void> {
    await this.cluster.plan();
    await this.links.start(this.cluster.members.map(linkEnd));
    await this.cluster.startAll();
    try {
      await this.leader(30_000);
    } catch (e) {
      throw new Error(`${String(e)}\n${this.cluster.members.map((m) => this.describe(m)).join('\n')}`);
    }
    for (const m of this.cluster.members) {
      const s = await waitFor(`${m.name} status`, () => this.client(m).status(), 20_000);
      this.ids.set(m.name, s.memberId);
    }
  }

  /** The leader every live, unpaused member agrees on. */
  leader(ms = 20_000): Promise<LocalMember> {
    return agreedLeader(() => this.live(), ms);
  }

  /** Runs clients and faults for `seconds`, then checks everything. */
  async run(): Promise<FaultRunResult> {
    const end = Date.now() + this.o.seconds * 1000;
    for (const m of this.cluster.members) {
      for (let i = 0; i < this.o.watchersPerMember; i++) {
        const w = new ResumingWatcher(`${m.name} watcher ${i}`, m.clientURL, KEY_PREFIX);
        this.watchers.push(w);
        w.start();
      }
    }
    const clients: Promise<void>[] = [];
    let clientId = 0;
    for (const m of this.cluster.members) {
      for (let i = 0; i < this.o.clientsPerMember; i++) clients.push(this.clientLoop(clientId++, m, end));
    }
    const injector = this.faultLoop(end).finally(() => (this.faultsPending = false));
    const leasing = this.leaseProbe.run(() => Date.now() < end || this.faultsPending);
    await Promise.all([injector, leasing, ...clients]);
    // Before convergence is measured: the lapsed leases' revokes are the last writes.
    const leases = await this.leaseProbe.finish();
    this.o.log(
      `load and faults done: ${this.recorder.history().length} ops, faults ${JSON.stringify(this.faults)}`,
    );

    const convergeStart = Date.now();
    const finalRevision = await this.converge();
    const convergeMs = Date.now() - convergeStart;
    this.o.log(`converged at revision ${finalRevision} in ${convergeMs} ms`);

    // A last linearizable read of every key joins the history, so the final state is checked too.
    for (let k = 0; k < this.o.keys; k++) {
      const key = `${KEY_PREFIX}${k}`;
      await waitFor(
        `a final linearizable read of ${key}`,
        async () => {
          const leader = await this.leader(5000);
          const h = this.recorder.invoke(clientId, key, 'get', {}, { member: leader.name });
          try {
            const r = await this.client(leader).get(key);
            h.ok({ ok: true, value: r.kvs[0]?.value ?? null, revision: r.revision });
            return true;
          } catch (e) {
            h.fail();
            this.o.log(`final read of ${key} through ${leader.name} failed: ${String(e)}`);
            throw e;
          }
        },
        30_000,
      );
    }

    // Each member's whole history, read once from its store: for lost writes and as the watches' reference.
    const histories = new Map<LocalMember, ResumingWatcher>();
    for (const m of this.cluster.members) {
      histories.set(m, await fullHistory(m.clientURL, KEY_PREFIX, finalRevision, 120_000));
    }
    const { lost, verified } = await this.verifyAcks(histories);
    const watch = await this.checkWatches(finalRevision, histories);
    const history = this.recorder.history();
    const t0 = performance.now();
    // Serializable reads may be stale by design: they are checked separately, not for linearizability.
    const linearizable = history.filter((op) => op.serializable !== true);
    const check = checkLinearizable(linearizable, { deadlineMs: this.o.checkDeadlineMs });
    const checkMs = performance.now() - t0;
    const serial = checkSerializableReads(history);
    const ops = {
      total: history.length,
      ok: history.filter((op) => op.status === 'ok').length,
      fail: history.filter((op) => op.status === 'fail').length,
      unknown: history.filter((op) => op.status === 'unknown').length,
      byKind: {} as Record<string, number>,
    };
    for (const op of history) {
      const kind = op.kind === 'get' && op.serializable ? 'sget' : op.kind;
      ops.byKind[kind] = (ops.byKind[kind] ?? 0) + 1;
    }
    const result: FaultRunResult = {
      seed: this.o.seed,
      seconds: this.o.seconds,
      ops,
      faults: { ...this.faults },
      convergeMs,
      finalRevision,
      lost,
      writesVerified: verified,
      check,
      checkMs,
      serializable: { ...serial, described: serial.violations.slice(0, 20).map(describeViolation) },
      headerAnomalies: [...this.headerAnomalies],
      watch,
      leases,
      history,
      memberLogs: Object.fromEntries(this.cluster.members.map((m) => [m.name, logTail(m, 4000)])),
    };
    if (check.counterexample) {
      const c = check.counterexample;
      result.counterexample = [
        `key ${c.key}: ${c.ops.length} ops; linearized ${c.linearized.length}, leaving ${c.state}`,
        ...c.linearized.slice(-10).map((op) => `  … ${describeOp(op)}`),
        'none of these can go next:',
        ...c.next.slice(0, 10).map((op) => `  ✗ ${describeOp(op)}`),
      ];
    }
    return result;
  }

  /** Stops every member; the data is removed unless `keep` (kept, with each member's log, for a post-mortem). */
  async close(keep = false): Promise<string> {
    if (keep)
      for (const m of this.cluster.members) writeFileSync(join(this.root, `${m.name}.log`), m.log.join(''));
    await Promise.all(this.watchers.map((w) => w.close()));
    for (const m of this.paused) if (m.proc?.pid) process.kill(m.proc.pid, 'SIGCONT');
    this.paused.clear();
    await this.cluster.stopAll('SIGKILL');
    await this.links.close();
    this.cluster.releasePorts();
    if (this.ownRoot && !keep) rmSync(this.root, { recursive: true, force: true });
    return this.root;
  }

  // --- clients -------------------------------------------------------------------------------

  private async clientLoop(id: number, m: LocalMember, end: number): Promise<void> {
    const rnd = prng(this.o.seed * 1000 + id + 1);
    const kv = new KvClient([m.clientURL], this.o.requestTimeoutMs);
    const lastSeen = new Map<string, string | null>();
    let n = 0;
    while (Date.now() < end || this.faultsPending) {
      const key = `${KEY_PREFIX}${Math.floor(rnd() * this.o.keys)}`;
      const r = rnd();
      const value = `c${id}-${n++}`;
      let h: OpHandle | undefined;
      let isRead = false;
      try {
        if (r < 0.25) {
          isRead = true;
          h = this.recorder.invoke(id, key, 'get', {}, { member: this.label(m), serializable: false });
          const g = await kv.get(key);
          const v = g.kvs[0]?.value ?? null;
          lastSeen.set(key, v);
          h.ok({ ok: true, value: v, revision: g.revision });
          this.checkHeader(id, m, key, g, false);
        } else if (r < 0.45) {
          isRead = true;
          h = this.recorder.invoke(id, key, 'get', {}, { member: this.label(m), serializable: true });
          const g = await kv.get(key, { serializable: true });
          const v = g.kvs[0]?.value ?? null;
          lastSeen.set(key, v);
          h.ok({ ok: true, value: v, revision: g.revision });
          this.checkHeader(id, m, key, g, true);
        } else if (r < 0.7) {
          h = this.recorder.invoke(id, key, 'put', { value }, { member: this.label(m) });
          const revision = await kv.put(key, value);
          h.ok({ ok: true, revision });
          this.acks.push({ key, value, revision, what: `c${id} put(${key}, '${value}')` });
        } else if (r < 0.9) {
          // Compare against what this client saw last (often stale: both outcomes happen).
          const expect = lastSeen.get(key) ?? (rnd() < 0.5 ? null : `c${id}-${Math.max(0, n - 3)}`);
          h = this.recorder.invoke(id, key, 'cas', { expect, value }, { member: this.label(m) });
          const { succeeded: ok, revision } = await kv.cas(key, expect ?? undefined, value);
          h.ok({ ok, revision });
          if (ok) this.acks.push({ key, value, revision, what: `c${id} cas(${key}, →'${value}')` });
        } else {
          h = this.recorder.invoke(id, key, 'delete', {}, { member: this.label(m) });
          await kv.del(key);
          h.ok({ ok: true });
        }
      } catch (e) {
        // A read that got no answer did not observe anything: dropping it is exact (and cheaper).
        if (isRead || provesNotApplied(e)) h?.fail();
        else h?.unknown();
        // The member is down or paused: do not spin on it.
        await delay(20 + rnd() * 50);
      }
      if (this.o.thinkMs > 0) await delay(rnd() * this.o.thinkMs);
    }
  }

  /** A read's rows can be no newer than the revision its header names. */
  private checkHeader(
    id: number,
    m: LocalMember,
    key: string,
    g: { kvs: Array<{ value: string; modRevision: number }>; revision: number },
    serializable: boolean,
  ): void {
    const kv = g.kvs[0];
    if (kv && kv.modRevision > g.revision) {
      this.headerAnomalies.push(
        `c${id} ${serializable ? 'serializable ' : ''}get(${key}) @${m.name} = '${kv.value}' ` +
          `(mod revision ${kv.modRevision}) under header revision ${g.revision}`,
      );
    }
  }

  // --- faults --------------------------------------------------------------------------------

  private async faultLoop(end: number): Promise<void> {
    const [gapMin, gapMax] = this.o.faultGapMs;
    const weights = Object.entries(this.o.faultWeights) as Array<[keyof FaultWeights, number]>;
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    const scripted = [...this.o.firstFaults];
    // The scripted faults all happen, however slow the machine; the clients keep going until then.
    while (Date.now() < end || scripted.length > 0) {
      await delay(gapMin + this.rnd() * (gapMax - gapMin));
      if (scripted.length === 0 && (Date.now() >= end || total === 0)) break;
      // A member that exited by itself (not killed by a fault) is a finding: stop and show it.
      const exited = this.cluster.members.find(
        (m) => m.proc && (m.proc.exitCode ?? m.proc.signalCode) !== null,
      );
      if (exited) throw new Error(`${exited.name} exited by itself; ${this.describe(exited)}`);
      // One fault at a time: a cluster that lost its quorum tells nothing more.
      let leader: LocalMember;
      try {
        leader = await this.leader(10_000);
      } catch (e) {
        this.o.log(`no leader before a fault: ${String(e)}`);
        continue;
      }
      let r = this.rnd() * total;
      const [kind, at] = (
        scripted.shift() ?? (weights.find(([, w]) => (r -= w) < 0) ?? weights.at(-1)!)[0]
      ).split(':') as [keyof FaultWeights, string | undefined];
      const followers = this.cluster.members.filter((m) => m !== leader);
      const target = at === 'leader' || this.rnd() < 0.5 ? leader : this.pick(this.cluster.members);
      if (kind === 'kill') await this.kill(target, target === leader);
      else if (kind === 'pause') await this.pause(target, target === leader);
      else if (kind === 'replace') await this.replace(this.pick(followers));
      else if (kind === 'partition') await this.partition(leader);
      else if (kind === 'slow') await this.slow(target);
      else if (kind === 'membership') await this.addAndRemove(leader);
      else if (kind === 'slowDisk') await this.slowDisk(target);
      else if (kind === 'unsynced') await this.killUnsynced(target, target === leader);
      else await this.transfer(leader, this.pick(followers));
    }
  }

  private async kill(target: LocalMember, isLeader: boolean): Promise<void> {
    this.o.log(`SIGKILL ${target.name}${isLeader ? ' (leader)' : ''}`);
    await this.cluster.stop(target, 'SIGKILL');
    this.faults.kill++;
    if (isLeader) this.faults.killLeader++;
    await delay(200 + this.rnd() * 1000);
    await this.restart(target, 'SIGKILL');
  }

  /** Starts a killed member again and waits until it answers. */
  private async restart(target: LocalMember, after: string): Promise<void> {
    await this.cluster.start(target);
    try {
      await waitFor(`${target.name} back after ${after}`, () => this.client(target, 1000).status(), 20_000);
    } catch (e) {
      throw new Error(`${String(e)}; ${this.describe(target)}`);
    }
  }

  private async pause(target: LocalMember, isLeader: boolean): Promise<void> {
    const pid = target.proc?.pid;
    if (pid === undefined) return;
    const ms = 700 + this.rnd() * 1300;
    this.o.log(`SIGSTOP ${target.name}${isLeader ? ' (leader)' : ''} for ${Math.round(ms)} ms`);
    process.kill(pid, 'SIGSTOP');
    this.paused.add(target);
    this.faults.pause++;
    if (isLeader) this.faults.pauseLeader++;
    try {
      await delay(ms);
    } finally {
      process.kill(pid, 'SIGCONT');
      this.paused.delete(target);
    }
  }

  private async transfer(leader: LocalMember, to: LocalMember): Promise<void> {
    this.o.log(`transfer leadership ${leader.name} -> ${to.name}`);
    this.faults.transfer++;
    try {
      await this.client(leader, 5000).call('/v3/maintenance/transfer-leadership', {
        targetID: this.ids.get(to.name),
      });
    } catch (e) {
      this.faults.transferFailed++;
      this.o.log(`transfer failed: ${String(e)}`);
    }
  }

  /**
   * Cuts links for 0.8-6 s (past the election timeout, sometimes past the transport's 5 s idle
   * timeout too): a minority isolated from the rest (with the leader half the time; of five
   * members, one or two), a bridge (two members cut from each other, both still reaching the rest),
   * or one direction between the leader and a follower.
   */
  private async partition(leader: LocalMember): Promise<void> {
    const names = this.cluster.members.map((m) => m.name);
    const other = (not: string) => this.pick(names.filter((n) => n !== not));
    const ms = 800 + this.rnd() * 5200;
    const scenario = this.rnd();
    let what: string;
    let leaderCut = true;
    if (scenario < 0.5) {
      // A minority of one, or of up to half the members (two of five): the leader's side half the time.
      const size = 1 + Math.floor(this.rnd() * Math.floor((names.length - 1) / 2));
      const minority = [this.rnd() < 0.5 ? leader.name : this.pick(names)];
      while (minority.length < size) minority.push(this.pick(names.filter((n) => !minority.includes(n))));
      leaderCut = minority.includes(leader.name);
      this.links.split(
        minority,
        names.filter((n) => !minority.includes(n)),
      );
      what = `isolate ${minority.join('+')}${leaderCut ? ' (with the leader)' : ''}`;
    } else if (scenario < 0.75) {
      const a = this.pick(names);
      const b = other(a);
      leaderCut = a === leader.name || b === leader.name;
      this.links.split([a], [b]);
      what = `bridge: cut ${a} <-> ${b}, the rest reach both`;
    } else {
      const f = other(leader.name);
      const [from, to] = this.rnd() < 0.5 ? [leader.name, f] : [f, leader.name];
      this.links.cut(from, to);
      what = `one way: ${from} -> ${to} cut`;
    }
    this.o.log(`partition ${what} for ${Math.round(ms)} ms`);
    this.faults.partition++;
    if (leaderCut) this.faults.partitionLeader++;
    await delay(ms);
    this.links.healAll();
  }

  /** Every link to and from one member slowed by 50-300 ms for 1-3 s. */
  private async slow(target: LocalMember): Promise<void> {
    const ms = 50 + this.rnd() * 250;
    const span = 1000 + this.rnd() * 2000;
    this.o.log(`slow links of ${target.name}: +${Math.round(ms)} ms for ${Math.round(span)} ms`);
    this.faults.slow++;
    for (const m of this.cluster.members) {
      if (m === target) continue;
      this.links.delay(m.name, target.name, ms);
      this.links.delay(target.name, m.name, ms);
    }
    await delay(span);
    this.links.healAll();
  }

  /**
   * A membership change under load: an extra member joins as a learner, is promoted once caught
   * up, leads half the time (a transfer), and is removed again (the removal of a leader makes it
   * step down). Clients and watchers stay on the original members.
   */
  private async addAndRemove(leader: LocalMember): Promise<void> {
    const extra = await this.cluster.addMember(`x${++this.extras}`);
    rmSync(extra.dataDir, { recursive: true, force: true });
    await this.links.add(linkEnd(extra));
    const c = new KvClient(
      this.cluster.members.filter((m) => m !== extra).map((m) => m.clientURL),
      5000,
    );
    this.o.log(`membership: add ${extra.name} as a learner`);
    this.faults.membership++;
    const id = await addMember(c, extra.peerURL, true);
    this.ids.set(extra.name, id);
    await this.cluster.start(extra, 'existing');
    // A promotion is refused until the learner has caught up with the leader.
    await promoteMember(c, id);
    if (this.rnd() < 0.5) {
      await this.transfer(leader, extra);
      const now = await this.leader(10_000).catch(() => undefined);
      if (now === extra) this.faults.membershipLeader++;
    }
    this.o.log(`membership: remove ${extra.name}`);
    await removeMember(c, id);
    await this.cluster.forget(extra);
  }

  /** Where the member's test-only disk fault hooks look (node/storage/test-faults.ts). */
  private faultDir(m: LocalMember): string {
    const dir = join(this.root, 'disk-faults', m.name);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  private setFsyncDelay(m: LocalMember, ms: number): void {
    const file = join(this.faultDir(m), 'fsync-delay-ms');
    if (ms > 0) writeFileSync(file, String(Math.round(ms)));
    else rmSync(file, { force: true });
  }

  /** A slow disk: every WAL fsync of the member waits 100-500 ms for 1-3 s. */
  private async slowDisk(target: LocalMember): Promise<void> {
    const ms = 100 + this.rnd() * 400;
    const span = 1000 + this.rnd() * 2000;
    this.o.log(`slow disk on ${target.name}: fsync +${Math.round(ms)} ms for ${Math.round(span)} ms`);
    this.faults.slowDisk++;
    this.setFsyncDelay(target, ms);
    await delay(span);
    this.setFsyncDelay(target, 0);
  }

  /**
   * A power cut: records are written and wait 1 s for their fsync when the member is killed;
   * then its last WAL segment loses a random part of what was never synced (a prefix survives,
   * so the tail may be torn mid-record) before the member restarts on it.
   */
  private async killUnsynced(target: LocalMember, isLeader: boolean): Promise<void> {
    this.setFsyncDelay(target, 1000);
    await delay(100 + this.rnd() * 500);
    await this.cluster.stop(target, 'SIGKILL');
    this.setFsyncDelay(target, 0);
    this.faults.unsynced++;
    let dropped = 0;
    const synced = join(this.faultDir(target), 'synced');
    if (existsSync(synced)) {
      const [path, size] = readFileSync(synced, 'utf8').trim().split(' ');
      const durable = Number(size);
      // The segment is preallocated: what was written ends where its zeros begin.
      const fileSize = existsSync(path!) ? statSync(path!).size : 0;
      const written = fileSize > 0 ? dataEnd(readFileSync(path!)) : 0;
      if (written > durable) {
        // Lost page writes read back as zeros in a preallocated file.
        const keep = durable + Math.floor(this.rnd() * (written - durable));
        truncateSync(path!, keep);
        truncateSync(path!, fileSize);
        dropped = written - keep;
      }
    }
    this.faults.unsyncedBytesDropped += dropped;
    // The commit index it last wrote unsynced may be gone, so it may come back behind what it
    // served: its serializable reads are a new session (etcd makes no promise across this either).
    this.newSession(target);
    this.o.log(
      `power cut on ${target.name}${isLeader ? ' (leader)' : ''}: ${dropped} unsynced WAL bytes dropped`,
    );
    await this.restart(target, 'a power cut');
  }

  /** A member's process state and the tail of its log, for a failure message. */
  private describe(m: LocalMember): string {
    const proc = m.proc;
    return (
      `${m.name}: process ${proc?.pid ?? 'none'} exit ${proc?.exitCode} signal ${proc?.signalCode}; ` +
      `log:\n${logTail(m)}`
    );
  }

  /**
   * The operator's remedy for a lost volume, under load: stop the member, remove it, wipe its
   * data, add it back (it joins as a learner and is promoted once caught up) and start it.
   */
  private async replace(target: LocalMember): Promise<void> {
    this.o.log(`replace ${target.name}: remove, wipe, add back`);
    this.faults.replace++;
    const c = new KvClient(
      this.cluster.members.filter((m) => m !== target).map((m) => m.clientURL),
      5000,
    );
    await this.cluster.stop(target, 'SIGKILL');
    await removeMember(c, this.ids.get(target.name)!);
    rmSync(target.dataDir, { recursive: true, force: true });
    // Its store starts over from a snapshot: serializable reads from it are a new session
    // (etcd makes no promise across a member's replacement either).
    this.newSession(target);
    await addMember(c, target.peerURL, false);
    await this.cluster.start(target, 'existing');
    await waitFor(
      `${target.name} promoted`,
      async () => {
        const me = (await c.members()).find((m) => m.ID === this.ids.get(target.name));
        return me && !me.isLearner ? true : undefined;
      },
      30_000,
      200,
    );
  }

  // --- after the faults ----------------------------------------------------------------------

  /** Waits until a leader exists and every member serves the same revision and the same data. */
  private async converge(): Promise<number> {
    await this.leader(30_000);
    // A linearizable read through the leader: every member must reach at least its revision.
    return waitFor(
      'every member at the same revision with the same data',
      async () => {
        const reads = await Promise.all(
          this.cluster.members.map((m) =>
            this.client(m, 1000).get(KEY_PREFIX, { prefix: true, serializable: true }),
          ),
        );
        const first = JSON.stringify(reads[0]);
        if (!reads.every((r) => JSON.stringify(r) === first)) return undefined;
        const statuses = await Promise.all(this.cluster.members.map((m) => this.client(m, 1000).status()));
        const leader = statuses[0]!.leader;
        if (leader === '0' || !statuses.every((s) => s.leader === leader)) return undefined;
        if (!statuses.every((s) => s.raftAppliedIndex === statuses[0]!.raftAppliedIndex)) return undefined;
        return reads[0]!.revision;
      },
      30_000,
    );
  }

  /**
   * Every watcher must have seen the committed history exactly (every revision once, in order);
   * the history must have one event per revision and hold every acknowledged write.
   */
  private async checkWatches(
    finalRevision: number,
    histories: Map<LocalMember, ResumingWatcher>,
  ): Promise<FaultRunResult['watch']> {
    const problems: string[] = [];
    for (const w of this.watchers) {
      try {
        await waitFor(
          `${w.label} at revision ${finalRevision}`,
          async () => (w.last >= finalRevision ? true : undefined),
          30_000,
        );
      } catch {
        problems.push(`${w.label} reached only revision ${w.last} of ${finalRevision}`);
      }
    }
    await Promise.all(this.watchers.map((w) => w.close()));
    const leader = await this.leader(10_000);
    const reference = histories.get(leader)!;
    problems.push(...reference.outOfOrder, ...historyGaps(reference.events, 2, finalRevision));
    for (const w of this.watchers) problems.push(...compareWithHistory(w, reference.events, finalRevision));
    return {
      watchers: this.watchers.length,
      resumes: this.watchers.reduce((n, w) => n + w.resumes, 0),
      eventsChecked: this.watchers.reduce((n, w) => n + w.events.length, 0),
      problems: problems.slice(0, 50),
    };
  }

  /**
   * Every acknowledged write must be in every member's store at the revision it was acknowledged
   * at: each member's history (a watch from revision 1, read from its store) must hold them all,
   * and a sample of them is read back with range at that revision.
   */
  private async verifyAcks(
    histories: Map<LocalMember, ResumingWatcher>,
  ): Promise<{ lost: string[]; verified: number }> {
    const lost: string[] = [];
    let verified = 0;
    const missing = (m: LocalMember, a: Ack, found: string) =>
      lost.push(`${m.name}: ${a.what} acknowledged at revision ${a.revision}, ${found}`);
    // The histories cover every write; reads at revision (one request each) check a sample.
    const sample = this.acks.filter((_, i) => i % Math.ceil(this.acks.length / ACKS_READ_AT_REVISION) === 0);
    for (const [m, history] of histories) {
      const byRevision = new Map(history.events.map((e) => [e.revision, e]));
      for (const a of this.acks) {
        const e = byRevision.get(a.revision);
        verified++;
        if (e?.type !== 'PUT' || e.key !== a.key || e.value !== a.value) {
          missing(m, a, `its history has ${e ? `${e.type} ${e.key} '${e.value}'` : 'nothing'} there`);
        }
      }
      const kv = this.client(m, 5000);
      for (const a of sample) {
        const got = (await kv.get(a.key, { serializable: true, revision: a.revision })).kvs[0];
        if (got?.value !== a.value || got.modRevision !== a.revision) {
          missing(m, a, `a read there gives ${got ? `'${got.value}' (mod ${got.modRevision})` : 'nothing'}`);
        }
      }
    }
    return { lost, verified };
  }
}

/** One full run: start, load + faults, checks, stop. */
export async function faultRun(options: FaultRunOptions): Promise<FaultRunResult> {
  const run = new FaultRun(options);
  let failed = true;
  try {
    await run.start();
    const r = await run.run();
    failed = false;
    return r;
  } finally {
    // A run that threw (a member that would not restart, no convergence) keeps its data directories.
    const root = await run.close(failed);
    if (failed) console.error(`fault run failed; member data kept in ${root}`);
  }
}
