// The operator process: flags → watches → keyed work queue → reconcile, behind leader election
// (two replicas may run; one acts), with /metrics, /healthz and /readyz on one port.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import express from 'express';
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
import winston from 'winston';
import { EventRecorder } from './controller/events.js';
import { startWatches } from './controller/informers.js';
import { LeaderElector, kubeLeaseStore } from './controller/leader-election.js';
import { OperatorMetrics } from './controller/metrics.js';
import { reconcile, type ReconcileDeps } from './controller/reconciler.js';
import { WorkQueue } from './controller/workqueue.js';
import { HttpMemberApi, memberCredentials, memberTls } from './members/client.js';

/** "90s", "5m", "1500ms" or a number of milliseconds. */
export function duration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new Error(`--${flag}: "${text}" is not a duration like 30s, 5m or 1500ms`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
}

const { values: flags } = parseArgs({
  options: {
    'leader-elect': { type: 'boolean', default: false },
    'lease-namespace': { type: 'string', default: process.env.POD_NAMESPACE ?? 'raftkv-system' },
    'lease-name': { type: 'string', default: 'raftkv-operator' },
    port: { type: 'string', default: '8080' },
    'replace-after': { type: 'string', default: '5m' },
    'catch-up-entries': { type: 'string', default: '1000' },
    resync: { type: 'string', default: '30s' },
    poll: { type: 'string', default: '2s' },
    workers: { type: 'string', default: '2' },
    'log-level': { type: 'string', default: 'info' },
  },
});

const identity = process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
const logger = winston.createLogger({
  level: flags['log-level'],
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  defaultMeta: { component: 'raftkv-operator', instance: identity },
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});

const kc = new KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(CoreV1Api);
const metrics = new OperatorMetrics();
const queue = new WorkQueue();
const deps: ReconcileDeps = {
  kube: { core, custom: kc.makeApiClient(CustomObjectsApi), objects: KubernetesObjectApi.makeApiClient(kc) },
  members: async (kvc) =>
    new HttpMemberApi(undefined, await memberTls(core, kvc), await memberCredentials(core, kvc)),
  policy: {
    replaceAfterMs: duration('replace-after', flags['replace-after']),
    catchUpEntries: Number(flags['catch-up-entries']),
    pollMs: duration('poll', flags.poll),
  },
  events: new EventRecorder(core, identity, logger),
  metrics,
  logger,
  now: Date.now,
  resyncMs: duration('resync', flags.resync),
};

let leading = !flags['leader-elect'];
let lastProgress = Date.now();
const watches = startWatches(kc, (key) => queue.add(key), logger);

async function worker(): Promise<void> {
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    metrics.queueDepth.set(queue.depth());
    const [namespace, name] = key.split('/') as [string, string];
    const labels = { namespace, cluster: name };
    const end = metrics.reconcileDuration.startTimer(labels);
    try {
      if (!leading) continue;
      const result = await reconcile(deps, namespace, name);
      queue.forget(key);
      if (result) queue.addAfter(key, result.requeueAfterMs);
    } catch (e) {
      metrics.reconcileErrors.inc(labels);
      const retryMs = queue.addRateLimited(key);
      logger.warn('reconcile failed', {
        namespace,
        cluster: name,
        error: e instanceof Error ? e.message : String(e),
        retryMs,
      });
    } finally {
      end();
      lastProgress = Date.now();
      queue.done(key);
    }
  }
}

const elector = flags['leader-elect']
  ? new LeaderElector(
      kubeLeaseStore(kc.makeApiClient(CoordinationV1Api), flags['lease-namespace'], flags['lease-name']),
      {
        identity,
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
        logger,
        onStartedLeading: () => {
          leading = true;
          for (const key of watches.clusterKeys()) queue.add(key);
        },
        // Whatever was in flight may race the new leader: start over as a fresh process.
        onStoppedLeading: () => void shutdown(1, 'lost leadership'),
      },
    )
  : undefined;

const app = express();
app.get('/metrics', async (_req, res) => {
  metrics.queueDepth.set(queue.depth());
  res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
});
// Stuck: keys wait but no reconcile finished for a long time.
app.get('/healthz', (_req, res) => {
  const stuck = queue.depth() > 0 && Date.now() - lastProgress > 10 * 60_000;
  res.status(stuck ? 500 : 200).send(stuck ? 'work queue stuck' : 'ok');
});
app.get('/readyz', (_req, res) => {
  res.status(watches.synced() ? 200 : 503).send(watches.synced() ? 'ok' : 'watches not synced');
});
const server = app.listen(Number(flags.port), () =>
  logger.info('operator started', { port: flags.port, leaderElect: flags['leader-elect'] }),
);

let stopping = false;
async function shutdown(code: number, why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('stopping', { reason: why });
  watches.stop();
  await queue.shutDown();
  await elector?.stop();
  server.close();
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
process.on('SIGINT', () => void shutdown(0, 'SIGINT'));

elector?.start();
const workers = Array.from({ length: Number(flags.workers) }, () => worker());
void Promise.all(workers);
