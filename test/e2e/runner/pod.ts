// One pod run by the pod runner: its network namespace, volumes, containers (local processes),
// probes, restarts and status.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import type * as k8s from '@kubernetes/client-node';
import { createPodNetwork, deletePodNetwork, netnsName, setPodLink } from './net.js';

export interface PodEnv {
  core: k8s.CoreV1Api;
  nodeName: string;
  hostIP: string;
  apiHost: string;
  apiPort: number;
  stateDir: string;
  /** image (exact, or prefix ending in '*') -> entrypoint used when a container has no command */
  images: Record<string, string[]>;
  allocateIp(): string;
  releaseIp(ip: string): void;
  hostsChanged(): void;
  log(msg: string): void;
}

interface Mount {
  src: string;
  dst: string;
  readOnly: boolean;
}

type ContainerPhase = 'waiting' | 'running' | 'terminated';

class Container {
  proc: ChildProcess | undefined;
  phase: ContainerPhase = 'waiting';
  waitingReason = 'ContainerCreating';
  ready = false;
  restartCount = 0;
  startedAt: Date | undefined;
  exit:
    { code: number; signal: string | null; reason: string; startedAt: Date; finishedAt: Date } | undefined;
  lastExit: Container['exit'];
  probeTimers: NodeJS.Timeout[] = [];
  restartTimer: NodeJS.Timeout | undefined;
  readyStreak = 0;
  failStreak = 0;
  liveFailStreak = 0;
  paused = false;
  constructor(readonly spec: k8s.V1Container) {}
  get id(): string {
    return this.proc?.pid !== undefined ? `local://${this.proc.pid}` : '';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Runs in the pod's network namespace (ip netns exec already gives a private mount namespace,
// slave to the host's): set the hostname, bind-mount volumes at their mount paths, exec the command.
const LAUNCH = `
set -e
hostname "$RKV_HOSTNAME"
printf '%s\\n' "$RKV_MOUNTS" | while IFS='|' read -r src dst ro; do
  [ -n "$src" ] || continue
  if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] || : > "$dst"; fi
  mount --bind "$src" "$dst"
  if [ "$ro" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done
cd "$RKV_WORKDIR"
unset RKV_HOSTNAME RKV_MOUNTS RKV_WORKDIR
exec "$@"
`;

export class PodRunner {
  readonly uid: string;
  readonly netns: string;
  podIP: string | undefined;
  pod: k8s.V1Pod;
  private readonly containers = new Map<string, Container>();
  private initDone = false;
  private startTime: Date | undefined;
  private terminating = false;
  private stopped = false;
  private finished = false;
  private statusTimer: NodeJS.Timeout | undefined;
  private statusPushing = false;
  private statusAgain = false;
  private mounts = new Map<string, string>(); // volume name -> host dir
  private message = '';

  constructor(
    pod: k8s.V1Pod,
    private readonly env: PodEnv,
  ) {
    this.pod = pod;
    this.uid = pod.metadata!.uid!;
    this.netns = netnsName(this.uid);
    for (const c of pod.spec!.containers) this.containers.set(c.name, new Container(c));
  }

  get key(): string {
    return `${this.pod.metadata!.namespace}/${this.pod.metadata!.name}`;
  }
  private get dir(): string {
    return join(this.env.stateDir, 'pods', this.uid);
  }

  update(pod: k8s.V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp && !this.terminating) void this.terminate();
    this.applyFaults();
  }

  async start(): Promise<void> {
    this.startTime = new Date();
    this.pushStatus();
    try {
      await this.prepareVolumes();
      this.podIP = this.env.allocateIp();
      createPodNetwork(this.netns, this.podIP);
      this.env.hostsChanged();
    } catch (err) {
      this.message = String(err instanceof Error ? err.message : err);
      this.env.log(`${this.key}: setup failed, retrying: ${this.message}`);
      if (this.podIP) this.env.releaseIp(this.podIP);
      this.podIP = undefined;
      this.pushStatus();
      await sleep(2000);
      if (!this.terminating && !this.stopped) return this.start();
      return;
    }
    this.message = '';
    for (const spec of this.pod.spec!.initContainers ?? []) {
      const c = new Container(spec);
      for (;;) {
        if (this.terminating || this.stopped) return;
        const code = await this.runOnce(c);
        if (code === 0) break;
        if (this.pod.spec!.restartPolicy === 'Never') {
          this.finish(false);
          return;
        }
        c.restartCount++;
        await sleep(Math.min(10_000, 1000 * c.restartCount));
      }
    }
    this.initDone = true;
    for (const c of this.containers.values()) this.startContainer(c);
    this.pushStatus();
  }

  private runOnce(c: Container): Promise<number> {
    return new Promise((resolve) => {
      const proc = this.spawnContainer(c);
      proc.on('exit', (code) => resolve(code ?? 1));
    });
  }

  private spawnContainer(c: Container): ChildProcess {
    const spec = c.spec;
    const env = this.containerEnv(spec);
    const expand = (s: string): string =>
      s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m);
    let argv = (spec.command ?? []).map(expand);
    const args = (spec.args ?? []).map(expand);
    if (argv.length === 0) {
      const entry = this.imageEntrypoint(spec.image ?? '');
      if (!entry)
        throw new Error(`image ${spec.image} has no command and no entry in the runner's image map`);
      argv = entry;
    }
    argv = [...argv, ...args];
    const mounts = (spec.volumeMounts ?? []).flatMap((m): Mount[] => {
      const host = this.mounts.get(m.name);
      if (!host) return [];
      let src = host;
      if (m.subPath) {
        src = join(host, m.subPath);
        if (!existsSync(src)) mkdirSync(src, { recursive: true });
      }
      return [{ src, dst: m.mountPath, readOnly: m.readOnly ?? false }];
    });
    const logFile = join(this.dir, `${spec.name}.log`);
    const proc = spawn(
      'ip',
      ['netns', 'exec', this.netns, 'unshare', '--uts', '--', '/bin/sh', '-c', LAUNCH, 'pod', ...argv],
      {
        env: {
          ...env,
          RKV_HOSTNAME: this.pod.spec!.hostname ?? this.pod.metadata!.name!,
          RKV_MOUNTS: mounts.map((m) => `${m.src}|${m.dst}|${m.readOnly ? 'ro' : 'rw'}`).join('\n'),
          RKV_WORKDIR: spec.workingDir ?? '/',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const append = (chunk: Buffer): void => {
      try {
        writeFileSync(logFile, chunk, { flag: 'a' });
      } catch {
        // pod dir removed
      }
    };
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    c.proc = proc;
    c.phase = 'running';
    c.startedAt = new Date();
    c.ready = false;
    c.readyStreak = 0;
    c.failStreak = 0;
    c.liveFailStreak = 0;
    return proc;
  }

  private imageEntrypoint(image: string): string[] | undefined {
    for (const [pattern, entry] of Object.entries(this.env.images)) {
      if (pattern === image || (pattern.endsWith('*') && image.startsWith(pattern.slice(0, -1))))
        return entry;
    }
    return undefined;
  }

  private startContainer(c: Container): void {
    if (this.terminating || this.stopped) return;
    let proc: ChildProcess;
    try {
      proc = this.spawnContainer(c);
    } catch (err) {
      c.phase = 'waiting';
      c.waitingReason = 'RunContainerError';
      this.message = String(err instanceof Error ? err.message : err);
      this.pushStatus();
      return;
    }
    this.env.log(`${this.key}/${c.spec.name}: started pid ${proc.pid}`);
    this.startProbes(c);
    proc.on('exit', (code, signal) => {
      this.stopProbes(c);
      const now = new Date();
      c.exit = {
        code: code ?? 128 + (signal ? (constants.signals[signal] ?? 9) : 9),
        signal,
        reason: code === 0 ? 'Completed' : 'Error',
        startedAt: c.startedAt ?? now,
        finishedAt: now,
      };
      c.lastExit = c.exit;
      c.phase = 'terminated';
      c.ready = false;
      c.proc = undefined;
      this.env.log(`${this.key}/${c.spec.name}: exited code=${code} signal=${signal}`);
      if (!this.terminating && !this.stopped) {
        const policy = this.pod.spec!.restartPolicy ?? 'Always';
        if (policy === 'Always' || (policy === 'OnFailure' && code !== 0)) {
          const delay = Math.min(10_000, 1000 * 2 ** Math.min(c.restartCount, 4));
          c.restartTimer = setTimeout(() => {
            c.restartCount++;
            this.startContainer(c);
          }, delay);
        } else if ([...this.containers.values()].every((x) => x.phase === 'terminated')) {
          this.finish([...this.containers.values()].every((x) => x.exit?.code === 0));
        }
      }
      this.pushStatus();
    });
  }

  // --- probes ---
  private startProbes(c: Container): void {
    const ready = c.spec.readinessProbe;
    if (!ready) {
      c.ready = true;
    } else {
      this.schedule(c, ready, (ok) => {
        if (ok) {
          c.failStreak = 0;
          if (++c.readyStreak >= (ready.successThreshold ?? 1) && !c.ready) {
            c.ready = true;
            this.pushStatus();
          }
        } else {
          c.readyStreak = 0;
          if (++c.failStreak >= (ready.failureThreshold ?? 3) && c.ready) {
            c.ready = false;
            this.pushStatus();
          }
        }
      });
    }
    const live = c.spec.livenessProbe;
    if (live) {
      this.schedule(c, live, (ok) => {
        if (ok) c.liveFailStreak = 0;
        else if (++c.liveFailStreak >= (live.failureThreshold ?? 3) && c.proc) {
          this.env.log(`${this.key}/${c.spec.name}: liveness probe failed, restarting`);
          this.stopProbes(c);
          void this.killContainer(c, live.terminationGracePeriodSeconds ?? this.graceSeconds());
        }
      });
    }
    this.pushStatus();
  }

  private schedule(c: Container, probe: k8s.V1Probe, onResult: (ok: boolean) => void): void {
    const period = (probe.periodSeconds ?? 10) * 1000;
    const run = async (): Promise<void> => {
      if (!c.proc || this.terminating) return;
      if (!c.paused) onResult(await this.probe(probe)); // a paused (SIGSTOP) container keeps its last result
      if (c.proc && !this.terminating) c.probeTimers.push(setTimeout(() => void run(), period));
    };
    c.probeTimers.push(setTimeout(() => void run(), (probe.initialDelaySeconds ?? 0) * 1000));
  }

  private stopProbes(c: Container): void {
    for (const t of c.probeTimers) clearTimeout(t);
    c.probeTimers = [];
  }

  private async probe(p: k8s.V1Probe): Promise<boolean> {
    const timeout = (p.timeoutSeconds ?? 1) * 1000;
    const port = (v: number | string): number => {
      if (typeof v === 'number') return v;
      for (const c of this.pod.spec!.containers)
        for (const cp of c.ports ?? []) if (cp.name === v) return cp.containerPort;
      return Number(v);
    };
    try {
      if (p.httpGet) {
        const h = p.httpGet;
        const url = `${(h.scheme ?? 'HTTP').toLowerCase()}://${h.host ?? this.podIP}:${port(h.port)}${h.path ?? '/'}`;
        const headers = Object.fromEntries((h.httpHeaders ?? []).map((x) => [x.name, x.value]));
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeout) });
        await res.arrayBuffer();
        return res.status >= 200 && res.status < 400;
      }
      if (p.tcpSocket) {
        const target = { host: p.tcpSocket.host ?? this.podIP!, port: port(p.tcpSocket.port) };
        return await new Promise<boolean>((resolve) => {
          const s = connect(target, () => {
            s.destroy();
            resolve(true);
          });
          s.setTimeout(timeout, () => {
            s.destroy();
            resolve(false);
          });
          s.on('error', () => resolve(false));
        });
      }
      if (p.exec?.command?.length) {
        const proc = spawn('ip', ['netns', 'exec', this.netns, ...p.exec.command], { stdio: 'ignore' });
        return await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => {
            proc.kill('SIGKILL');
            resolve(false);
          }, timeout);
          proc.on('exit', (code) => {
            clearTimeout(t);
            resolve(code === 0);
          });
          proc.on('error', () => resolve(false));
        });
      }
      return true;
    } catch {
      return false;
    }
  }

  // --- volumes ---
  private async prepareVolumes(): Promise<void> {
    const ns = this.pod.metadata!.namespace!;
    mkdirSync(this.dir, { recursive: true });
    for (const v of this.pod.spec!.volumes ?? []) {
      if (v.persistentVolumeClaim) {
        const pvc = await this.env.core.readNamespacedPersistentVolumeClaim({
          name: v.persistentVolumeClaim.claimName,
          namespace: ns,
        });
        const pvName = pvc.spec?.volumeName;
        if (!pvName || pvc.status?.phase !== 'Bound')
          throw new Error(`claim ${pvc.metadata?.name} is not bound yet`);
        const pv = await this.env.core.readPersistentVolume({ name: pvName });
        const path = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
        if (!path) throw new Error(`volume ${pvName} is neither hostPath nor local`);
        mkdirSync(path, { recursive: true });
        this.mounts.set(v.name, path);
      } else if (v.hostPath) {
        if (v.hostPath.type === 'DirectoryOrCreate') mkdirSync(v.hostPath.path, { recursive: true });
        this.mounts.set(v.name, v.hostPath.path);
      } else if (v.emptyDir) {
        const d = join(this.dir, 'volumes', v.name);
        mkdirSync(d, { recursive: true });
        this.mounts.set(v.name, d);
      } else if (v.configMap || v.secret) {
        const d = join(this.dir, 'volumes', v.name);
        mkdirSync(d, { recursive: true });
        let data: Record<string, string> = {};
        if (v.configMap) {
          const cm = await this.env.core.readNamespacedConfigMap({ name: v.configMap.name!, namespace: ns });
          data = cm.data ?? {};
        } else {
          const s = await this.env.core.readNamespacedSecret({ name: v.secret!.secretName!, namespace: ns });
          data = Object.fromEntries(
            Object.entries(s.data ?? {}).map(([k, b]) => [k, Buffer.from(b, 'base64').toString('utf8')]),
          );
        }
        const items = (v.configMap ?? v.secret)!.items;
        for (const [k, val] of Object.entries(data)) {
          const item = items?.find((i) => i.key === k);
          if (items && !item) continue;
          const file = join(d, item?.path ?? k);
          mkdirSync(join(file, '..'), { recursive: true });
          writeFileSync(file, val);
        }
        this.mounts.set(v.name, d);
      } else if (v.projected || v.downwardAPI) {
        const d = join(this.dir, 'volumes', v.name);
        mkdirSync(d, { recursive: true });
        const put = (path: string, content: string): void => {
          const file = join(d, path);
          mkdirSync(join(file, '..'), { recursive: true });
          writeFileSync(file, content);
        };
        const sources: k8s.V1VolumeProjection[] = v.projected?.sources ?? [{ downwardAPI: v.downwardAPI }];
        for (const src of sources) {
          if (src.serviceAccountToken) {
            const t = src.serviceAccountToken;
            const tr = await this.env.core.createNamespacedServiceAccountToken({
              name: this.pod.spec!.serviceAccountName ?? 'default',
              namespace: ns,
              body: {
                spec: {
                  audiences: t.audience ? [t.audience] : [],
                  expirationSeconds: t.expirationSeconds ?? 3607,
                  boundObjectRef: {
                    apiVersion: 'v1',
                    kind: 'Pod',
                    name: this.pod.metadata!.name!,
                    uid: this.uid,
                  },
                },
              },
            });
            put(t.path, tr.status?.token ?? '');
          } else if (src.configMap || src.secret) {
            let data: Record<string, string> = {};
            if (src.configMap) {
              const cm = await this.env.core.readNamespacedConfigMap({
                name: src.configMap.name!,
                namespace: ns,
              });
              data = cm.data ?? {};
            } else {
              const sec = await this.env.core.readNamespacedSecret({
                name: src.secret!.name!,
                namespace: ns,
              });
              data = Object.fromEntries(
                Object.entries(sec.data ?? {}).map(([k, b]) => [
                  k,
                  Buffer.from(b, 'base64').toString('utf8'),
                ]),
              );
            }
            const items = (src.configMap ?? src.secret)!.items;
            for (const [k, val] of Object.entries(data)) {
              const item = items?.find((i) => i.key === k);
              if (!items || item) put(item?.path ?? k, val);
            }
          } else if (src.downwardAPI) {
            for (const item of src.downwardAPI.items ?? []) {
              if (item.fieldRef) put(item.path, this.field(item.fieldRef.fieldPath));
            }
          }
        }
        this.mounts.set(v.name, d);
      }
      // other volume kinds (CSI, ...) are not mounted (docs/e2e.md)
    }
  }

  /** Downward-API field values. */
  private field(path: string): string {
    const pod = this.pod;
    const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
    if (m) return (m[1] === 'labels' ? pod.metadata!.labels : pod.metadata!.annotations)?.[m[2]!] ?? '';
    switch (path) {
      case 'metadata.name':
        return pod.metadata!.name!;
      case 'metadata.namespace':
        return pod.metadata!.namespace!;
      case 'metadata.uid':
        return pod.metadata!.uid!;
      case 'spec.nodeName':
        return this.env.nodeName;
      case 'spec.serviceAccountName':
        return pod.spec!.serviceAccountName ?? 'default';
      case 'status.podIP':
      case 'status.podIPs':
        return this.podIP ?? '';
      case 'status.hostIP':
      case 'status.hostIPs':
        return this.env.hostIP;
      default:
        return '';
    }
  }

  private containerEnv(spec: k8s.V1Container): Record<string, string> {
    const pod = this.pod;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: '/root',
      HOSTNAME: pod.spec!.hostname ?? pod.metadata!.name!,
      // in-cluster config: the runner forwards BRIDGE_IP:6443 to the API server
      KUBERNETES_SERVICE_HOST: this.env.apiHost,
      KUBERNETES_SERVICE_PORT: String(this.env.apiPort),
      KUBERNETES_SERVICE_PORT_HTTPS: String(this.env.apiPort),
    };
    for (const e of spec.env ?? []) {
      if (e.value !== undefined)
        env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (x, v: string) => env[v] ?? x);
      else if (e.valueFrom?.fieldRef) env[e.name] = this.field(e.valueFrom.fieldRef.fieldPath);
      else if (e.valueFrom?.resourceFieldRef) env[e.name] = '0';
      else env[e.name] = '';
    }
    return env;
  }

  // --- stop / delete ---
  private graceSeconds(): number {
    return (
      this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30
    );
  }

  private async killContainer(c: Container, graceSeconds: number): Promise<void> {
    const proc = c.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    if (c.paused) proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceSeconds * 1000);
    await exited;
    clearTimeout(timer);
  }

  /** Deletion requested: SIGTERM, SIGKILL after the grace period, tear down, delete with grace 0. */
  async terminate(): Promise<void> {
    if (this.terminating) return;
    this.terminating = true;
    this.env.log(`${this.key}: terminating (grace ${this.graceSeconds()}s)`);
    await this.stopAll(this.graceSeconds());
    this.pushStatus();
    try {
      await this.env.core.deleteNamespacedPod({
        name: this.pod.metadata!.name!,
        namespace: this.pod.metadata!.namespace!,
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
      });
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== 404 && code !== 409) this.env.log(`${this.key}: final delete failed: ${String(err)}`);
    }
    this.cleanup();
  }

  /** Stops every container (SIGTERM, then SIGKILL after graceSeconds) without touching the API. */
  async stopAll(graceSeconds: number): Promise<void> {
    this.stopped = true;
    for (const c of this.containers.values()) {
      clearTimeout(c.restartTimer);
      this.stopProbes(c);
    }
    await Promise.all([...this.containers.values()].map((c) => this.killContainer(c, graceSeconds)));
  }

  cleanup(): void {
    if (this.finished && !this.podIP) return;
    this.finished = true;
    clearTimeout(this.statusTimer);
    deletePodNetwork(this.netns);
    if (this.podIP) this.env.releaseIp(this.podIP);
    this.podIP = undefined;
    rmSync(this.dir, { recursive: true, force: true });
    this.env.hostsChanged();
  }

  private finish(succeeded: boolean): void {
    this.phaseOverride = succeeded ? 'Succeeded' : 'Failed';
    this.pushStatus();
  }
  private phaseOverride: string | undefined;

  // --- faults (annotation raftkv.e2e/fault: pause | cut | kill) ---
  private appliedFault = '';
  private applyFaults(): void {
    const fault = this.pod.metadata?.annotations?.['raftkv.e2e/fault'] ?? '';
    if (fault === this.appliedFault || !this.podIP) return;
    const prev = this.appliedFault;
    this.appliedFault = fault;
    this.env.log(`${this.key}: fault ${prev || 'none'} -> ${fault || 'none'}`);
    if (prev === 'pause' || fault === 'pause')
      for (const c of this.containers.values()) {
        c.paused = fault === 'pause';
        c.proc?.kill(c.paused ? 'SIGSTOP' : 'SIGCONT');
      }
    if (prev === 'cut' || fault === 'cut') setPodLink(this.netns, fault !== 'cut');
    if (fault === 'kill') for (const c of this.containers.values()) c.proc?.kill('SIGKILL');
  }

  // --- status ---
  pushStatus(): void {
    if (this.finished) return;
    clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => void this.sendStatus(), 100);
  }

  private status(): k8s.V1PodStatus {
    const now = new Date();
    const cs = [...this.containers.values()];
    const allReady = this.initDone && cs.every((c) => c.ready && c.phase === 'running');
    const running = cs.some((c) => c.phase === 'running' || c.restartTimer);
    const phase = this.phaseOverride ?? (this.initDone && running ? 'Running' : 'Pending');
    const cond = (type: string, ok: boolean): k8s.V1PodCondition => {
      const prev = this.pod.status?.conditions?.find((c) => c.type === type);
      const status = ok ? 'True' : 'False';
      return { type, status, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : now };
    };
    return {
      phase,
      message: this.message || undefined,
      hostIP: this.env.hostIP,
      hostIPs: [{ ip: this.env.hostIP }],
      podIP: this.podIP,
      podIPs: this.podIP ? [{ ip: this.podIP }] : undefined,
      startTime: this.startTime,
      qosClass: this.pod.status?.qosClass,
      conditions: [
        cond('PodScheduled', true),
        cond('Initialized', this.initDone),
        cond('ContainersReady', allReady),
        cond('Ready', allReady && !this.terminating),
      ],
      containerStatuses: cs.map((c) => {
        const state: k8s.V1ContainerState =
          c.phase === 'running'
            ? { running: { startedAt: c.startedAt } }
            : c.phase === 'terminated' && c.exit
              ? {
                  terminated: {
                    exitCode: c.exit.code,
                    reason: c.exit.reason,
                    startedAt: c.exit.startedAt,
                    finishedAt: c.exit.finishedAt,
                    containerID: c.id || undefined,
                  },
                }
              : { waiting: { reason: c.waitingReason, message: this.message || undefined } };
        return {
          name: c.spec.name,
          image: c.spec.image ?? '',
          imageID: `local://${c.spec.image ?? ''}`,
          containerID: c.id || undefined,
          ready: c.ready,
          started: c.phase === 'running',
          restartCount: c.restartCount,
          state,
          lastState: c.lastExit
            ? {
                terminated: {
                  exitCode: c.lastExit.code,
                  reason: c.lastExit.reason,
                  startedAt: c.lastExit.startedAt,
                  finishedAt: c.lastExit.finishedAt,
                },
              }
            : {},
        };
      }),
    };
  }

  private async sendStatus(): Promise<void> {
    if (this.statusPushing) {
      this.statusAgain = true;
      return;
    }
    this.statusPushing = true;
    try {
      for (let attempt = 0; attempt < 5 && !this.finished; attempt++) {
        try {
          const fresh = await this.env.core.readNamespacedPod({
            name: this.pod.metadata!.name!,
            namespace: this.pod.metadata!.namespace!,
          });
          if (fresh.metadata?.uid !== this.uid) return;
          this.pod = { ...fresh, spec: this.pod.spec };
          fresh.status = this.status();
          await this.env.core.replaceNamespacedPodStatus({
            name: fresh.metadata!.name!,
            namespace: fresh.metadata!.namespace!,
            body: fresh,
          });
          this.pod = fresh;
          return;
        } catch (err) {
          const code = (err as { code?: number }).code;
          if (code === 404) return;
          if (code !== 409) this.env.log(`${this.key}: status update failed: ${String(err)}`);
          await sleep(200);
        }
      }
    } finally {
      this.statusPushing = false;
      if (this.statusAgain) {
        this.statusAgain = false;
        this.pushStatus();
      }
    }
  }

  /** Host dirs of volumes, for docs and debugging. */
  volumeDirs(): Record<string, string> {
    return Object.fromEntries(this.mounts);
  }
}
