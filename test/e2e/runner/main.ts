// The pod runner: stands in for the kubelet in the e2e environment (docs/e2e.md).
// Registers a Node (Ready condition + Lease heartbeats), runs the pods bound to it as local
// processes, one network namespace per pod, and reports their status.
//   node dist/test/e2e/runner/main.js --kubeconfig FILE --state DIR [--node NAME] [--images FILE]
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostname } from 'node:os';
import { connect, createServer, type Server } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import {
  BRIDGE_IP,
  IpPool,
  deletePodNetwork,
  ensureBridge,
  listPodNetns,
  removeBridge,
  writeHosts,
} from './net.js';
import { PodRunner } from './pod.js';
import { argText } from '../../support/args.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const kubeconfig = argText('kubeconfig', process.env.KUBECONFIG);
const stateDir = argText('state', '/tmp/raftkv-e2e/runner');
const nodeName = argText('node', 'raftkv-e2e');
const imagesFile = process.argv.includes('--images') ? argText('images') : undefined;
// Images run as local programs: a container without `command` runs the mapped entrypoint + args.
// First match wins: the operator's image before the members'.
const images: Record<string, string[]> = {
  'raftkv-operator*': ['node', join(repoRoot, 'dist/operator/main.js')],
  'raftkv*': ['node', join(repoRoot, 'dist/node/main.js')],
  ...(imagesFile ? (JSON.parse(readFileSync(imagesFile, 'utf8')) as Record<string, string[]>) : {}),
};

// Pods reach the API server (which listens on loopback) at BRIDGE_IP:6443 through this TCP
// forwarder; the serving certificate has BRIDGE_IP as a SAN, so in-cluster clients verify it.
const API_PROXY_PORT = 6443;
function forwardApiServer(): Server {
  const target = new URL(kc.getCurrentCluster()!.server);
  const server = createServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port || 443) });
    // Either side closing or failing ends both: half-closed pairs otherwise keep their file
    // descriptors (thousands of API requests from an operator exhausted the runner's).
    const finish = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('close', finish);
      s.on('error', finish);
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(API_PROXY_PORT, BRIDGE_IP);
  return server;
}

const log = (msg: string): void => console.log(`${new Date().toISOString()} ${msg}`);

const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);
const coord = kc.makeApiClient(k8s.CoordinationV1Api);
const pods = new Map<string, PodRunner>(); // by uid
const ips = new IpPool();

function nodeStatus(): k8s.V1NodeStatus {
  const now = new Date();
  const cond = (type: string, status: string, reason: string): k8s.V1NodeCondition => ({
    type,
    status,
    reason,
    message: reason,
    lastHeartbeatTime: now,
    lastTransitionTime: startedAt,
  });
  const resources = { cpu: '16', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    conditions: [
      cond('Ready', 'True', 'KubeletReady'),
      cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
    ],
    addresses: [
      { type: 'InternalIP', address: BRIDGE_IP },
      { type: 'Hostname', address: nodeName },
    ],
    capacity: resources,
    allocatable: resources,
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      architecture: 'amd64',
      bootID: String(process.pid),
      containerRuntimeVersion: 'raftkv-pod-runner://1',
      kernelVersion: '',
      kubeProxyVersion: '',
      kubeletVersion: 'raftkv-pod-runner',
      machineID: hostname(),
      operatingSystem: 'linux',
      osImage: 'local processes',
      systemUUID: nodeName,
    },
  };
}
const startedAt = new Date();

async function registerNode(): Promise<void> {
  try {
    await core.createNode({
      body: {
        metadata: {
          name: nodeName,
          labels: {
            'kubernetes.io/hostname': nodeName,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            'raftkv.e2e/pod-runner': 'true',
          },
        },
        spec: {},
      },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  await heartbeat();
}

/** A read-modify-write, again from a fresh read when someone else changed the object meanwhile (409). */
async function retryOnConflict<T>(update: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await update();
    } catch (err) {
      if ((err as { code?: number }).code !== 409 || i >= attempts) throw err;
    }
  }
}

async function heartbeat(): Promise<void> {
  // The controller-manager writes the node too (taints, conditions), sometimes between our read and write.
  const node = await retryOnConflict(async () => {
    const n = await core.readNode({ name: nodeName });
    n.status = nodeStatus();
    await core.replaceNodeStatus({ name: nodeName, body: n });
    return n;
  });
  const spec: k8s.V1LeaseSpec = {
    holderIdentity: nodeName,
    leaseDurationSeconds: 40,
    renewTime: new k8s.V1MicroTime(),
  };
  try {
    await retryOnConflict(async () => {
      const lease = await coord.readNamespacedLease({ name: nodeName, namespace: 'kube-node-lease' });
      lease.spec = spec;
      await coord.replaceNamespacedLease({ name: nodeName, namespace: 'kube-node-lease', body: lease });
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
    await coord.createNamespacedLease({
      namespace: 'kube-node-lease',
      body: {
        metadata: {
          name: nodeName,
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata!.uid! }],
        },
        spec,
      },
    });
  }
}

// hosts files: every pod sees every pod's names; a StatefulSet pod (hostname + subdomain) gets
// <host>.<subdomain>.<ns>.svc.cluster.local, <host>.<subdomain>.<ns>.svc and, in its own
// namespace, <host>.<subdomain>.<ns> and <host>.<subdomain>.
let hostsTimer: NodeJS.Timeout | undefined;
function hostsChanged(): void {
  clearTimeout(hostsTimer);
  hostsTimer = setTimeout(writeAllHosts, 20);
}
function writeAllHosts(): void {
  const live = [...pods.values()].filter((p) => p.podIP);
  for (const self of live) {
    const myNs = self.pod.metadata!.namespace!;
    const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost'];
    for (const p of live) {
      const ns = p.pod.metadata!.namespace!;
      const names: string[] = [];
      const host = p.pod.spec!.hostname ?? p.pod.metadata!.name!;
      const sub = p.pod.spec!.subdomain;
      if (sub) {
        names.push(`${host}.${sub}.${ns}.svc.cluster.local`, `${host}.${sub}.${ns}.svc`);
        if (ns === myNs) names.push(`${host}.${sub}.${ns}`, `${host}.${sub}`);
      }
      if (p === self) names.push(host, p.pod.metadata!.name!);
      if (names.length) lines.push(`${p.podIP} ${[...new Set(names)].join(' ')}`);
    }
    writeHosts(self.netns, lines.join('\n') + '\n');
  }
}

function onPod(pod: k8s.V1Pod): void {
  const uid = pod.metadata?.uid;
  if (!uid || pod.spec?.nodeName !== nodeName) return;
  const existing = pods.get(uid);
  if (existing) {
    existing.update(pod);
    return;
  }
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
  const runner = new PodRunner(pod, {
    core,
    nodeName,
    hostIP: BRIDGE_IP,
    apiHost: BRIDGE_IP,
    apiPort: API_PROXY_PORT,
    stateDir,
    images,
    allocateIp: () => ips.allocate(),
    releaseIp: (ip) => ips.release(ip),
    hostsChanged,
    log,
  });
  pods.set(uid, runner);
  log(`${runner.key}: admitted (netns ${runner.netns})`);
  if (pod.metadata?.deletionTimestamp) {
    void runner.terminate().finally(() => pods.delete(uid));
    return;
  }
  void runner.start().catch((err: unknown) => log(`${runner.key}: start failed: ${String(err)}`));
}

function onPodGone(pod: k8s.V1Pod): void {
  const uid = pod.metadata?.uid;
  const runner = uid ? pods.get(uid) : undefined;
  if (!runner || !uid) return;
  pods.delete(uid);
  log(`${runner.key}: gone from the API, stopping`);
  void runner.stopAll(0).then(() => runner.cleanup());
}

async function main(): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  for (const ns of listPodNetns()) deletePodNetwork(ns); // leftovers of a killed runner
  ensureBridge();
  const apiProxy = forwardApiServer();
  await registerNode();
  log(`node ${nodeName} registered`);
  const beat = setInterval(() => {
    heartbeat().catch((err: unknown) => log(`heartbeat failed: ${String(err)}`));
  }, 10_000);

  const fieldSelector = `spec.nodeName=${nodeName}`;
  const informer = new k8s.ListWatch<k8s.V1Pod>(
    '/api/v1/pods',
    new k8s.Watch(kc),
    () => core.listPodForAllNamespaces({ fieldSelector }),
    false,
    undefined,
    fieldSelector,
  );
  informer.on(k8s.ADD, onPod);
  informer.on(k8s.UPDATE, onPod);
  informer.on(k8s.DELETE, onPodGone);
  informer.on(k8s.ERROR, (err: unknown) => {
    log(`watch error: ${String(err)}; restarting in 1s`);
    setTimeout(() => void informer.start(), 1000);
  });
  await informer.start();

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('stopping: killing pod processes, removing network namespaces');
    clearInterval(beat);
    apiProxy.close();
    await informer.stop();
    await Promise.all(
      [...pods.values()].map(async (p) => {
        await p.stopAll(2);
        p.cleanup();
      }),
    );
    for (const ns of listPodNetns()) deletePodNetwork(ns);
    removeBridge();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
