// The member process: flags and environment → configuration, then storage, backend, transport,
// Raft loop and client API, and a clean stop on SIGTERM (a leader hands leadership over first).
import { mkdir } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { join, resolve } from 'node:path';
import type { Logger } from 'winston';
import { startGrpc } from './api/grpc.js';
import { createApi } from './api/http.js';
import { listenHttp, listenShared } from './api/listener.js';
import { createMetricsApi } from './api/observability.js';
import { KvService } from './api/service.js';
import { JwtTokens } from './auth/jwt.js';
import { PromMetrics } from './api/metrics.js';
import { DEFAULT_BATCH_LIMITS } from './mvcc/batch-txn.js';
import { MvccStore } from './mvcc/store.js';
import { ConfigError, parseConfig, type MemberConfig } from './server/config.js';
import { makeLogger } from './server/logger.js';
import { clusterId, memberId } from './server/ids.js';
import { Leases } from './server/leases.js';
import { AutoCompactor } from './server/auto-compaction.js';
import { bootstrappedRefusal } from './server/bootstrapped.js';
import { removalDecision } from './server/removal.js';
import { standaloneLog } from './server/force-new-cluster.js';
import { founders, Member } from './server/member.js';
import { loadMemberTable, ownMemberId, saveMemberTable } from './server/member-file.js';
import { MemberTable } from './server/members.js';
import {
  certAllowed,
  clientOptions,
  loadTls,
  serverOptions,
  watchTls,
  type TlsMaterial,
} from './server/tls-files.js';
import { TEST_FAULT_DIR_ENV, testFaultHooks } from './storage/test-faults.js';
import { Wal } from './storage/wal.js';
import { sourceAddressFor, Transport } from './transport/transport.js';

export const VERSION = '0.1.0';

/** The peer port's TLS: accepting and dialling with the same material. */
const peerTransportTls = (m: TlsMaterial) => ({
  server: serverOptions(m),
  dial: clientOptions(m),
  accepts: (s: TLSSocket) => certAllowed(m, s),
});

async function run(): Promise<void> {
  let cfg: MemberConfig;
  let clientTls: TlsMaterial | undefined;
  let peerTls: TlsMaterial | undefined;
  let jwt: JwtTokens | undefined;
  let logger: Logger;
  try {
    cfg = parseConfig(process.argv.slice(2));
    logger = makeLogger(cfg.name, cfg.logLevel, cfg.logOutputs);
    clientTls = cfg.clientTls && loadTls(cfg.clientTls);
    peerTls = cfg.peerTls && loadTls(cfg.peerTls);
    const token = cfg.authToken;
    if (token.type === 'jwt') {
      jwt = await JwtTokens.load(token).catch((e: Error) => Promise.reject(new ConfigError(e.message)));
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`raftkv: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const dataDir = join(resolve(cfg.dataDir), 'member');
  await mkdir(dataDir, { recursive: true });
  const id = await ownMemberId(
    join(dataDir, 'id'),
    memberId(cfg.initialAdvertisePeerUrls[0]!, cfg.initialClusterToken),
  );
  const cid = clusterId(cfg.initialClusterToken);
  const metrics = new PromMetrics(id);
  if (cfg.metricsExtensive) metrics.grpc.enableHandlingTime();
  metrics.quota.set(cfg.quotaBackendBytes);

  const { wal, state: opened } = await Wal.open(cfg.walDir ? resolve(cfg.walDir) : join(dataDir, 'wal'), {
    logger,
    onFsync: (s) => metrics.walFsync(s),
    faults: testFaultHooks(process.env[TEST_FAULT_DIR_ENV]),
  });
  let state = opened;
  if (cfg.forceNewCluster && opened.snapshotMeta) {
    const { append, hardState } = standaloneLog(opened, id);
    await wal.save(hardState, append);
    state = { ...opened, hardState, entries: [...opened.entries, ...append] };
    logger.warn(
      'forced a new one-member cluster: every other member is removed; restart without --force-new-cluster',
      {
        removed: append.length,
        commit: hardState.commit,
        term: hardState.term,
      },
    );
  }
  const store = MvccStore.open(join(dataDir, 'db'), {
    quotaBackendBytes: cfg.quotaBackendBytes,
    batch: {
      ...DEFAULT_BATCH_LIMITS,
      intervalMs: cfg.backendBatchIntervalMs,
      maxEntries: cfg.backendBatchLimit,
    },
    logger,
    onCommit: (s) => metrics.backendCommit(s),
    // A timed commit that fails has dropped answered writes from the backend: stop, replay on restart.
    onFailure: (e) => member.fail('backend commit failed', e),
  });
  const membersPath = join(dataDir, 'members.json');
  const members = (await loadMemberTable(membersPath)) ?? new MemberTable(founders(cfg));

  const peer = cfg.listenPeerUrls[0]!;
  const transport = new Transport({
    id,
    clusterId: cid,
    listen: { host: peer.hostname, port: Number(peer.port) },
    sourceAddress: sourceAddressFor(peer.hostname),
    ...(peerTls ? { tls: peerTransportTls(peerTls) } : {}),
    logger,
    onRtt: (to, s) => metrics.peerRtt.labels(to).observe(s),
    // Called only once the member below exists (after transport.start()).
    onUnreachable: (to) => member.reportUnreachable(to),
    isRemoved: (from) => members.isRemoved(from),
    onRemoved: () => member.emit('removed', 'refused'),
    publishedMembers: () => members.published(),
  });
  const refusal = await bootstrappedRefusal({
    id,
    config: cfg,
    walEmpty: !state.snapshotMeta,
    peers: transport,
    logger,
  });
  if (refusal) {
    logger.error(refusal);
    process.exit(1);
  }
  await transport.start();
  metrics.countPeers(transport);
  const member: Member = new Member({
    id,
    config: cfg,
    logger,
    wal,
    walState: state,
    backend: store,
    transport,
    members,
    saveMembers: (t) => saveMemberTable(membersPath, t),
    metrics,
  });
  await member.start();
  const leases = new Leases(member, cfg, logger);
  leases.start();
  const compactor =
    cfg.autoCompaction &&
    new AutoCompactor(
      cfg.autoCompaction,
      {
        isLeader: () => member.isLeader(),
        revision: () => member.kv.currentRevision(),
        write: (r) => member.write(r),
      },
      logger,
    );
  compactor?.start();

  const ctx = {
    member,
    leases,
    clusterId: cid,
    clusterToken: cfg.initialClusterToken,
    maxRequestBytes: cfg.maxRequestBytes,
    bcryptCost: cfg.bcryptCost,
    maxTxnOps: cfg.maxTxnOps,
    metrics,
    version: VERSION,
    ...(clientTls ? { clientTls: clientOptions(clientTls) } : {}),
    ...(jwt ? { jwt } : {}),
  };
  const service = new KvService(ctx);
  const http = createHttpServer(createApi(ctx, service));
  const grpc = startGrpc(service, metrics.grpc, cfg.maxConcurrentStreams);
  const listeners = await Promise.all(
    cfg.listenClientUrls.map((u) => listenShared(http, grpc.injector, u, clientTls)),
  );
  const metricsApi = createMetricsApi(service, metrics);
  const metricsListeners = await Promise.all(
    cfg.listenMetricsUrls.map((u) => listenHttp(metricsApi, u, clientTls)),
  );
  // Renewed certificates are taken up as they land, as etcd does: new connections use them.
  const stopWatches = [
    cfg.clientTls &&
      watchTls(
        cfg.clientTls,
        (m) => {
          for (const l of [...listeners, ...metricsListeners]) {
            if (l instanceof TlsServer) l.setSecureContext(serverOptions(m));
          }
          service.useClientTls(clientOptions(m));
        },
        logger,
      ),
    cfg.peerTls && watchTls(cfg.peerTls, (m) => transport.updateTls(peerTransportTls(m)), logger),
  ];
  logger.info('member started', {
    id,
    clientURLs: cfg.advertiseClientUrls,
    ...(cfg.listenMetricsUrls.length > 0 ? { metricsURLs: cfg.listenMetricsUrls.map((u) => u.href) } : {}),
    peerURLs: cfg.initialAdvertisePeerUrls,
    dataDir: cfg.dataDir,
  });

  let stopping = false;
  const stop = async (code: number, why: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { reason: why });
    // A stop that hangs (a peer connection that will not close) must not keep a dead member alive.
    setTimeout(() => {
      logger.error('clean stop took too long; exiting anyway');
      process.exit(code === 0 ? 1 : code);
    }, 15_000).unref();
    for (const stopWatch of stopWatches) stopWatch?.();
    leases.stop();
    compactor?.stop();
    await member.stop();
    http.closeAllConnections();
    grpc.injector.destroy();
    grpc.server.forceShutdown();
    for (const l of metricsListeners) l.closeAllConnections();
    await Promise.all([...listeners, ...metricsListeners].map((l) => new Promise((ok) => l.close(ok))));
    logger.info('stopped');
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0, 'SIGTERM'));
  process.on('SIGINT', () => void stop(0, 'SIGINT'));
  member.on('fatal', () => void stop(1, 'fatal error'));
  /** After a peer refuses this member as removed, how many more election timeouts it waits for a leader. */
  const REMOVAL_CHECKS = 8;
  let removalCheck: NodeJS.Timeout | undefined;
  member.on('removed', (how: 'applied' | 'refused') => {
    if (removalCheck) return; // one decision at a time
    logger.warn(
      how === 'applied'
        ? 'this member was removed from the cluster'
        : 'a peer refused this member as removed from the cluster',
    );
    // Like etcd, the others get a moment to learn the change is committed (node/server/removal.ts).
    const refusedAt = performance.now();
    const decide = (after: number, checksLeft: number) => {
      removalCheck = setTimeout(() => {
        removalCheck = undefined;
        const decision = removalDecision({
          how,
          inConfiguration: member.inConfiguration(),
          leaderSinceRefusal: member.leaderReplicatedSince(refusedAt),
          checksLeft,
        });
        if (decision === 'stay') logger.info('still a member of the cluster; staying');
        else if (decision === 'exit') void stop(0, 'removed from the cluster');
        else decide(cfg.electionTimeoutMs, checksLeft - 1);
      }, after);
    };
    decide(2 * cfg.electionTimeoutMs, REMOVAL_CHECKS);
  });
}

run().catch((e: unknown) => {
  console.error(`raftkv: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
