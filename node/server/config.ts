// Member configuration: etcd's flag names (so habits and manifests carry over), each with an
// environment fallback RAFTKV_<FLAG_IN_UPPER_SNAKE_CASE> (e.g. RAFTKV_INITIAL_CLUSTER).
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { SIGN_METHODS, type JwtOptions } from '../auth/jwt.js';
import { BCRYPT_COST } from '../auth/password.js';
import type { AutoCompaction } from './auto-compaction.js';
import { opensslCiphers } from './cipher-suites.js';

export interface MemberConfig {
  name: string;
  dataDir: string;
  listenClientUrls: URL[];
  advertiseClientUrls: string[];
  listenPeerUrls: URL[];
  /** Extra ports with health and metrics only (etcd's --listen-metrics-urls); https ones use the client TLS files. */
  listenMetricsUrls: URL[];
  initialAdvertisePeerUrls: string[];
  /** name → peer URLs */
  initialCluster: Map<string, string[]>;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  snapshotCount: number;
  /** Entries kept in the log behind a snapshot so slightly slow followers catch up without one. */
  snapshotCatchUpEntries: number;
  quotaBackendBytes: number;
  /** Applied entries are committed to the backend within this time (etcd's --backend-batch-interval). */
  backendBatchIntervalMs: number;
  /** ... or as soon as this many are pending (etcd's --backend-batch-limit). */
  backendBatchLimit: number;
  maxRequestBytes: number;
  /** etcd's --max-txn-ops: the most compares, success or failure ops a txn sent here may have. */
  maxTxnOps: number;
  /** etcd's --strict-reconfig-check: refuse removing a voter when the rest could not keep a quorum. */
  strictReconfigCheck: boolean;
  /**
   * etcd's --force-new-cluster: with existing data, become the only member of the cluster
   * (force-new-cluster.ts). Also on when --force-new-cluster-member names this member: one
   * StatefulSet template serves every pod, and the operator forces one of them.
   */
  forceNewCluster: boolean;
  /** etcd's --auth-token: simple tokens (through the log, in memory) or signed JWTs. */
  authToken: AuthToken;
  /** How long a simple token lives without use (etcd's --auth-token-ttl, in seconds there). */
  authTokenTtlMs: number;
  /** The cost of the bcrypt hashes of passwords set here (etcd's --bcrypt-cost). */
  bcryptCost: number;
  /** How often watches made with progress_notify hear the current revision when quiet (etcd: 10m). */
  watchProgressNotifyIntervalMs: number;
  /** etcd's --auto-compaction-mode and --auto-compaction-retention; none when the retention is 0. */
  autoCompaction?: AutoCompaction;
  logLevel: string;
  /** etcd's --log-outputs: where the JSON log lines go, each once. */
  logOutputs: LogOutput[];
  /** etcd's --wal-dir: the WAL on its own (dedicated) disk; by default under the data dir. */
  walDir?: string;
  /** etcd's --pre-vote: a candidate first asks whether it could win, so a returning member does not depose a leader. */
  preVote: boolean;
  /** etcd's --metrics=extensive: also the grpc_server_handling_seconds histogram. */
  metricsExtensive: boolean;
  /** etcd's --max-concurrent-streams: gRPC streams per client connection (unlimited when absent). */
  maxConcurrentStreams?: number;
  /** TLS for the client port, set when a --listen-client-urls URL is https. */
  clientTls?: TlsFiles;
  /** TLS for the peer port and for dialling peers, set when --listen-peer-urls is https. */
  peerTls?: TlsFiles;
}

/** The files etcd's TLS flags name; read when the member starts (tls-files.ts). */
export interface TlsFiles {
  /** Which port's flags named them: '' for the client port, 'peer-' for the peer port. */
  prefix: TlsPrefix;
  certFile: string;
  keyFile: string;
  /** Verifies the other side's certificate (the system's CAs when absent). */
  trustedCaFile?: string;
  /** Refuse connections without a certificate signed by the trusted CA. */
  clientCertAuth: boolean;
  /** Certificates the CA revoked (etcd's --client-crl-file / --peer-crl-file), PEM. */
  crlFile?: string;
  /** etcd's --tls-min-version / --tls-max-version, for both ports, as Node names them. */
  policy: TlsPolicy;
  /** etcd's --peer-cert-allowed-cn / --*-cert-allowed-hostname: whom the port's client certificates must name. */
  allowed?: CertIdentity;
}

/** What a client certificate must name: exactly this CN, or this host (its SANs, as a server's are checked). */
export type CertIdentity = { cn: string } | { hostname: string };

export type TlsPrefix = '' | 'peer-';

/** A --log-outputs target: a standard stream, or a file the lines are appended to. */
export type LogOutput = { to: 'stderr' | 'stdout' } | { to: 'file'; path: string };

export type AuthToken = { type: 'simple' } | ({ type: 'jwt' } & JwtOptions);

/** A port's TLS flag as etcd names it: --peer-cert-file, but --client-crl-file and --peer-crl-file. */
export function tlsFlag(
  prefix: TlsPrefix,
  name: 'cert-file' | 'key-file' | 'trusted-ca-file' | 'client-cert-auth' | 'crl-file',
): Flag {
  return (name === 'crl-file' ? `${prefix || 'client-'}crl-file` : `${prefix}${name}`) as Flag;
}

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';
/** What both ports' TLS allows: etcd's --tls-min-version, --tls-max-version and --cipher-suites. */
export interface TlsPolicy {
  min: TlsVersion;
  max?: TlsVersion;
  /** An OpenSSL cipher list (TLS 1.2 suites, then all of TLS 1.3's); Node's defaults when absent. */
  ciphers?: string;
}

const FLAGS = {
  name: { default: 'default' },
  'data-dir': { default: '' },
  'listen-client-urls': { default: 'http://127.0.0.1:2379' },
  'advertise-client-urls': { default: '' },
  'listen-peer-urls': { default: 'http://127.0.0.1:2380' },
  'listen-metrics-urls': { default: '' },
  'initial-advertise-peer-urls': { default: '' },
  'initial-cluster': { default: '' },
  'initial-cluster-state': { default: 'new' },
  'initial-cluster-token': { default: 'raftkv-cluster' },
  'heartbeat-interval': { default: '100' },
  'election-timeout': { default: '1000' },
  'snapshot-count': { default: '10000' },
  'snapshot-catchup-entries': { default: '5000' },
  'quota-backend-bytes': { default: String(2 * 1024 ** 3) },
  'backend-batch-interval': { default: '100ms' },
  'backend-batch-limit': { default: '10000' },
  'max-request-bytes': { default: String(1.5 * 1024 * 1024) },
  'strict-reconfig-check': { default: 'true' },
  'force-new-cluster': { default: 'false' },
  'force-new-cluster-member': { default: '' },
  'auth-token': { default: 'simple' },
  'auth-token-ttl': { default: '300' },
  'bcrypt-cost': { default: String(BCRYPT_COST.default) },
  'experimental-watch-progress-notify-interval': { default: '10m' },
  'auto-compaction-mode': { default: 'periodic' },
  'auto-compaction-retention': { default: '0' },
  'log-level': { default: 'info' },
  'log-outputs': { default: 'default' },
  logger: { default: 'zap' },
  debug: { default: 'false' },
  'wal-dir': { default: '' },
  'pre-vote': { default: 'true' },
  metrics: { default: 'basic' },
  'max-concurrent-streams': { default: '' },
  'enable-v2': { default: 'false' },
  'max-txn-ops': { default: '128' },
  'initial-election-tick-advance': { default: 'false' },
  'cert-file': { default: '' },
  'key-file': { default: '' },
  'trusted-ca-file': { default: '' },
  'client-cert-auth': { default: 'false' },
  'peer-cert-file': { default: '' },
  'peer-key-file': { default: '' },
  'peer-trusted-ca-file': { default: '' },
  'peer-client-cert-auth': { default: 'false' },
  'client-crl-file': { default: '' },
  'peer-crl-file': { default: '' },
  'tls-min-version': { default: 'TLS1.2' },
  'tls-max-version': { default: '' },
  'cipher-suites': { default: '' },
  'client-cert-allowed-hostname': { default: '' },
  'peer-cert-allowed-cn': { default: '' },
  'peer-cert-allowed-hostname': { default: '' },
} as const;

type Flag = keyof typeof FLAGS;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * The environment variables a flag falls back to: raftkv's own, then etcd's (`ETCD_DATA_DIR`), so the
 * environment of an etcd deployment carries over.
 */
function envNames(flag: string): string[] {
  const upper = flag.toUpperCase().replaceAll('-', '_');
  return [`RAFTKV_${upper}`, `ETCD_${upper}`];
}

function urls(flag: string, value: string): URL[] {
  return value
    .split(',')
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return new URL(s);
      } catch {
        throw new ConfigError(`--${flag}: "${s}" is not a URL`);
      }
    });
}

function bcryptCost(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < BCRYPT_COST.min || n > BCRYPT_COST.max) {
    throw new ConfigError(
      `--bcrypt-cost: "${value}" is not an integer from ${BCRYPT_COST.min} to ${BCRYPT_COST.max}`,
    );
  }
  return n;
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new ConfigError(`--${flag}: "${value}" is not a positive integer`);
  return n;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration as etcd's Go flags take it ("100ms", "5s", "10m", "1h"); a bare number is ms. */
function durationMs(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
  const ms = m ? Number(m[1]) * DURATION_UNITS_MS[m[2] ?? 'ms']! : NaN;
  if (!(ms >= 1))
    throw new ConfigError(`--${flag}: "${value}" is not a duration of 1ms or more (e.g. 100ms, 5s, 10m)`);
  return ms;
}

/**
 * etcd's auto compaction: in periodic mode the retention is a duration, a bare integer counting
 * hours ("1" is "1h"); in revision mode, a number of revisions. A retention of 0 turns it off.
 */
function autoCompaction(mode: string, retention: string): { autoCompaction?: AutoCompaction } {
  const flag = 'auto-compaction-retention';
  if (mode === 'revision') {
    const n = Number(retention);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ConfigError(`--${flag}: "${retention}" is not a number of revisions`);
    }
    return n === 0 ? {} : { autoCompaction: { mode, retention: n } };
  }
  if (mode !== 'periodic') {
    throw new ConfigError(`--auto-compaction-mode must be "periodic" or "revision", not "${mode}"`);
  }
  if (/^\d+$/.test(retention)) {
    const hours = Number(retention);
    return hours === 0 ? {} : { autoCompaction: { mode, retentionMs: hours * DURATION_UNITS_MS.h! } };
  }
  return { autoCompaction: { mode, retentionMs: durationMs(flag, retention) } };
}

/** Switches (the flags that default to true or false), which as with Go's flags may be given bare: --client-cert-auth. */
const SWITCHES = new Set([
  ...Object.entries(FLAGS)
    .filter(([, f]) => f.default === 'true' || f.default === 'false')
    .map(([name]) => name),
  'auto-tls',
  'peer-auto-tls',
  'enable-pprof',
  'experimental-initial-corrupt-check',
  'experimental-enable-v2v3',
  'experimental-enable-lease-checkpoint',
  'experimental-peer-skip-client-san-verification',
]);

/**
 * etcd 3.4's other flags, which raftkv does not serve, and what to do instead: given, they stop the
 * member with that advice rather than an unknown-option error (they come from etcd command lines),
 * and never do nothing silently.
 */
const NOT_SERVED: Record<string, string> = {
  ...Object.fromEntries(
    ['discovery', 'discovery-fallback', 'discovery-proxy', 'discovery-srv', 'discovery-srv-name'].map((f) => [
      f,
      'raftkv has no discovery; list the founding members in --initial-cluster',
    ]),
  ),
  ...Object.fromEntries(
    ['', '-failure-wait', '-refresh-interval', '-dial-timeout', '-write-timeout', '-read-timeout'].map(
      (f) => [`proxy${f}`, 'raftkv has no proxy mode (etcd v2); point clients at the members'],
    ),
  ),
  'auto-tls': 'raftkv makes no self-signed certificates; give --cert-file and --key-file',
  'peer-auto-tls': 'raftkv makes no self-signed certificates; give --peer-cert-file and --peer-key-file',
  'experimental-peer-skip-client-san-verification':
    'not built: peer certificates are checked against --peer-trusted-ca-file only',
  cors: 'not built: the JSON gateway sends no CORS headers',
  'host-whitelist': 'not built: the HTTP API does not check the Host header',
  'enable-pprof': "Go's profiler; profile a member with node --cpu-prof or --inspect instead",
  'max-snapshots': 'raftkv keeps no snapshot files: a snapshot is a marker in the WAL over the backend',
  'max-wals': 'raftkv deletes WAL segments once a snapshot covers them',
  'log-package-levels': 'use --log-level',
  'experimental-initial-corrupt-check':
    'not built: a member checks its WAL checksums at start; compare members with etcdctl endpoint hashkv',
  'experimental-corrupt-check-time': 'not built: compare members with etcdctl endpoint hashkv',
  'experimental-enable-v2v3': 'raftkv has no v2 API',
  'experimental-backend-bbolt-freelist-type': "raftkv's backend is lmdb, not bbolt",
  'experimental-enable-lease-checkpoint':
    'not built: a lease may outlive its TTL by up to an election timeout across a leader change',
  'experimental-compaction-batch-limit': 'not built: a compaction runs in one backend transaction',
  'experimental-warning-apply-duration': 'not built',
};

/** etcd flags raftkv accepts only with the value that is its own behaviour, and why the rest is refused. */
const FIXED: Partial<Record<Flag, { values: string[]; why: string }>> = {
  'enable-v2': { values: ['false'], why: 'raftkv has no v2 API' },
  'initial-election-tick-advance': {
    values: ['false'],
    why: 'a member starts with a full randomized election timeout',
  },
  logger: { values: ['zap'], why: 'raftkv logs JSON lines, as zap does' },
  metrics: { values: ['basic', 'extensive'], why: 'etcd has no other level' },
};

function bool(flag: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0' || value === '') return false;
  throw new ConfigError(`--${flag}: "${value}" is not true or false`);
}

/**
 * The TLS files for one port, named as etcd names them (`prefix` is '' or 'peer-'): needed when
 * the port has an https URL, refused when it has none (they would silently do nothing), and
 * never part of a pair.
 */
function tlsFiles(
  get: (f: Flag) => string,
  prefix: TlsPrefix,
  urlFlag: Flag,
  listen: URL[],
  policy: TlsPolicy,
): TlsFiles | undefined {
  const flag = (f: Parameters<typeof tlsFlag>[1]) => tlsFlag(prefix, f);
  const certFile = get(flag('cert-file'));
  const keyFile = get(flag('key-file'));
  const trustedCaFile = get(flag('trusted-ca-file'));
  const clientCertAuth = bool(flag('client-cert-auth'), get(flag('client-cert-auth')));
  const crlFile = get(flag('crl-file'));
  const allowedCn = prefix === 'peer-' ? get('peer-cert-allowed-cn') : '';
  const hostnameFlag: Flag = `${prefix || 'client-'}cert-allowed-hostname` as Flag;
  const allowedHostname = get(hostnameFlag);
  const allowed: CertIdentity | undefined = allowedCn
    ? { cn: allowedCn }
    : allowedHostname
      ? { hostname: allowedHostname }
      : undefined;
  const secure = listen.filter((u) => u.protocol === 'https:');
  const other = listen.find((u) => u.protocol !== 'https:' && u.protocol !== 'http:');
  if (other) throw new ConfigError(`--${urlFlag}: "${other.href}" is neither http:// nor https://`);
  if (secure.length === 0) {
    if (certFile || keyFile || trustedCaFile || clientCertAuth || crlFile || allowed) {
      throw new ConfigError(
        `--${flag('cert-file')} and the other --${prefix}* TLS flags need an https:// URL in --${urlFlag}`,
      );
    }
    return undefined;
  }
  if (!certFile || !keyFile) {
    throw new ConfigError(
      `--${urlFlag} has an https:// URL: --${flag('cert-file')} and --${flag('key-file')} are required`,
    );
  }
  if (clientCertAuth && !trustedCaFile) {
    throw new ConfigError(
      `--${flag('client-cert-auth')} needs --${flag('trusted-ca-file')} (the CA that signs client certificates)`,
    );
  }
  if (crlFile && !clientCertAuth) {
    throw new ConfigError(
      `--${flag('crl-file')} needs --${flag('client-cert-auth')} (it revokes client certificates)`,
    );
  }
  if (allowedCn && allowedHostname) {
    throw new ConfigError(`--peer-cert-allowed-cn and --${hostnameFlag} are mutually exclusive`);
  }
  if (allowed && !clientCertAuth) {
    throw new ConfigError(
      `--${allowedCn ? 'peer-cert-allowed-cn' : hostnameFlag} needs --${flag('client-cert-auth')} (it checks client certificates)`,
    );
  }
  return {
    prefix,
    certFile,
    keyFile,
    ...(trustedCaFile ? { trustedCaFile } : {}),
    clientCertAuth,
    ...(crlFile ? { crlFile } : {}),
    policy,
    ...(allowed ? { allowed } : {}),
  };
}

/** etcd's names for the protocol versions (TLS1.2, TLS1.3), and the order between them. */
const TLS_VERSIONS: Record<string, TlsVersion> = { 'TLS1.2': 'TLSv1.2', 'TLS1.3': 'TLSv1.3' };

function tlsPolicy(get: (f: Flag) => string): TlsPolicy {
  const version = (flag: 'tls-min-version' | 'tls-max-version'): TlsVersion | undefined => {
    const v = get(flag);
    if (v === '' && flag === 'tls-max-version') return undefined;
    if (!Object.hasOwn(TLS_VERSIONS, v)) throw new ConfigError(`--${flag}: "${v}" is not TLS1.2 or TLS1.3`);
    return TLS_VERSIONS[v];
  };
  const min = version('tls-min-version')!;
  const max = version('tls-max-version');
  if (max && max < min) throw new ConfigError('--tls-max-version is below --tls-min-version');
  const versions: TlsPolicy = { min, ...(max ? { max } : {}) };
  const suites = get('cipher-suites');
  if (suites === '') return versions;
  if (min === 'TLSv1.3') {
    throw new ConfigError(
      '--cipher-suites: cipher suites cannot be configured when only TLS1.3 or greater is supported',
    );
  }
  let ciphers: string;
  try {
    ciphers = opensslCiphers(suites);
  } catch (e) {
    throw new ConfigError(`--cipher-suites: ${(e as Error).message}`);
  }
  return { ...versions, ciphers };
}

/**
 * etcd's --log-outputs (as with its zap logger): a comma-separated list of `default` or `stderr`,
 * `stdout`, and file paths (relative to the working directory).
 */
function logOutputs(value: string): LogOutput[] {
  const out = new Map<string, LogOutput>();
  for (const item of value.split(',').map((v) => v.trim())) {
    if (item === '') throw new ConfigError(`--log-outputs: "${value}" has an empty entry`);
    if (item === 'systemd/journal') {
      throw new ConfigError(
        '--log-outputs: systemd/journal is not served; log to stderr (the default), which journald collects from a systemd unit',
      );
    }
    const o: LogOutput =
      item === 'default' || item === 'stderr'
        ? { to: 'stderr' }
        : item === 'stdout'
          ? { to: 'stdout' }
          : { to: 'file', path: resolve(item) };
    out.set(o.to === 'file' ? o.path : o.to, o);
  }
  return [...out.values()];
}

/**
 * etcd's --auth-token: `simple`, or `jwt,sign-method=RS256,priv-key=<file>,pub-key=<file>,ttl=5m`
 * with at least one of the keys (a public key alone only verifies).
 */
function authToken(value: string): AuthToken {
  const [type, ...opts] = value.split(',');
  if (type === 'simple' && opts.length === 0) return { type: 'simple' };
  if (type !== 'jwt') throw new ConfigError(`--auth-token: "${value}" is neither simple nor jwt,<options>`);
  const o = new Map<string, string>();
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const key = opt.slice(0, eq);
    if (eq <= 0 || !['sign-method', 'priv-key', 'pub-key', 'ttl'].includes(key)) {
      throw new ConfigError(`--auth-token: "${opt}" is not sign-method=, priv-key=, pub-key= or ttl=`);
    }
    o.set(key, opt.slice(eq + 1));
  }
  const signMethod = o.get('sign-method') ?? '';
  if (!SIGN_METHODS.includes(signMethod)) {
    throw new ConfigError(
      `--auth-token: sign-method "${signMethod}" is not one of ${SIGN_METHODS.join(', ')}`,
    );
  }
  const privKeyFile = o.get('priv-key');
  const pubKeyFile = o.get('pub-key');
  if (!privKeyFile && !pubKeyFile)
    throw new ConfigError('--auth-token: jwt needs priv-key=<file>, pub-key=<file> or both');
  return {
    type: 'jwt',
    signMethod,
    ...(privKeyFile ? { privKeyFile } : {}),
    ...(pubKeyFile ? { pubKeyFile } : {}),
    ttlMs: durationMs('auth-token ttl', o.get('ttl') ?? '5m'),
  };
}

/** name1=url1,name2=url2 (a name may repeat for several URLs) */
function parseInitialCluster(value: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of value.split(',').filter((s) => s.length > 0)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--initial-cluster: "${part}" is not name=peer-url`);
    const name = part.slice(0, eq);
    urls('initial-cluster', part.slice(eq + 1));
    out.set(name, [...(out.get(name) ?? []), part.slice(eq + 1)]);
  }
  return out;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): MemberConfig {
  const options = Object.fromEntries(
    [...Object.keys(FLAGS), ...Object.keys(NOT_SERVED)].map((f) => [f, { type: 'string' as const }]),
  );
  let values: Record<string, string | undefined>;
  try {
    const args = argv.map((a) => (SWITCHES.has(a.slice(2)) ? `${a}=true` : a));
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | undefined
    >;
  } catch (e) {
    throw new ConfigError(e instanceof Error ? e.message : String(e));
  }
  const given = (f: string): string | undefined =>
    values[f] ??
    envNames(f)
      .map((n) => env[n])
      .find((v) => v !== undefined);
  const get = (f: Flag): string => given(f) ?? FLAGS[f].default;
  for (const f of Object.keys(NOT_SERVED)) {
    if (given(f) !== undefined) {
      throw new ConfigError(`--${f} is etcd's; raftkv does not serve it: ${NOT_SERVED[f]}`);
    }
  }
  for (const [f, { values: accepted, why }] of Object.entries(FIXED)) {
    const v = get(f as Flag);
    if (!accepted.includes(v)) {
      throw new ConfigError(`--${f}=${v} is refused: ${why} (accepted: ${accepted.join(', ')})`);
    }
  }

  const name = get('name');
  const listenClientUrls = urls('listen-client-urls', get('listen-client-urls'));
  const listenPeerUrls = urls('listen-peer-urls', get('listen-peer-urls'));
  const advertiseClient = get('advertise-client-urls') || get('listen-client-urls');
  const advertisePeer = get('initial-advertise-peer-urls') || get('listen-peer-urls');
  urls('advertise-client-urls', advertiseClient);
  urls('initial-advertise-peer-urls', advertisePeer);
  const initialCluster = parseInitialCluster(get('initial-cluster') || `${name}=${advertisePeer}`);
  const policy = tlsPolicy(get);
  const clientTls = tlsFiles(get, '', 'listen-client-urls', listenClientUrls, policy);
  const peerTls = tlsFiles(get, 'peer-', 'listen-peer-urls', listenPeerUrls, policy);
  const listenMetricsUrls = urls('listen-metrics-urls', get('listen-metrics-urls'));
  for (const u of listenMetricsUrls) {
    if (u.protocol !== 'http:' && (u.protocol !== 'https:' || !clientTls)) {
      throw new ConfigError(
        `--listen-metrics-urls: "${u.href}" must be http://, or https:// with the client port's --cert-file and --key-file`,
      );
    }
  }
  // Peer connections are all TLS or all plain: a member cannot tell which a peer expects.
  const peerScheme = peerTls ? 'https:' : 'http:';
  for (const [member, peerUrls] of initialCluster) {
    const odd = peerUrls.find((u) => new URL(u).protocol !== peerScheme);
    if (odd) {
      throw new ConfigError(
        `--initial-cluster: ${member}'s peer URL ${odd} is not ${peerScheme}// as --listen-peer-urls is`,
      );
    }
  }
  if (!initialCluster.has(name)) {
    throw new ConfigError(`--initial-cluster does not name this member ("${name}")`);
  }
  const state = get('initial-cluster-state');
  if (state !== 'new' && state !== 'existing') {
    throw new ConfigError(`--initial-cluster-state must be "new" or "existing", not "${state}"`);
  }
  const heartbeatIntervalMs = positiveInt('heartbeat-interval', get('heartbeat-interval'));
  const electionTimeoutMs = positiveInt('election-timeout', get('election-timeout'));
  if (electionTimeoutMs < 5 * heartbeatIntervalMs) {
    throw new ConfigError('--election-timeout should be at least 5 times --heartbeat-interval');
  }
  return {
    name,
    dataDir: get('data-dir') || `${name}.raftkv`,
    listenClientUrls,
    advertiseClientUrls: advertiseClient.split(','),
    listenPeerUrls,
    listenMetricsUrls,
    initialAdvertisePeerUrls: advertisePeer.split(','),
    initialCluster,
    initialClusterState: state,
    initialClusterToken: get('initial-cluster-token'),
    heartbeatIntervalMs,
    electionTimeoutMs,
    snapshotCount: positiveInt('snapshot-count', get('snapshot-count')),
    snapshotCatchUpEntries: positiveInt('snapshot-catchup-entries', get('snapshot-catchup-entries')),
    quotaBackendBytes: positiveInt('quota-backend-bytes', get('quota-backend-bytes')),
    backendBatchIntervalMs: durationMs('backend-batch-interval', get('backend-batch-interval')),
    backendBatchLimit: positiveInt('backend-batch-limit', get('backend-batch-limit')),
    maxRequestBytes: positiveInt('max-request-bytes', get('max-request-bytes')),
    maxTxnOps: positiveInt('max-txn-ops', get('max-txn-ops')),
    strictReconfigCheck: bool('strict-reconfig-check', get('strict-reconfig-check')),
    forceNewCluster:
      bool('force-new-cluster', get('force-new-cluster')) || get('force-new-cluster-member') === name,
    authToken: authToken(get('auth-token')),
    authTokenTtlMs: positiveInt('auth-token-ttl', get('auth-token-ttl')) * 1000,
    bcryptCost: bcryptCost(get('bcrypt-cost')),
    watchProgressNotifyIntervalMs: durationMs(
      'experimental-watch-progress-notify-interval',
      get('experimental-watch-progress-notify-interval'),
    ),
    logLevel: bool('debug', get('debug')) ? 'debug' : get('log-level'),
    logOutputs: logOutputs(get('log-outputs')),
    ...(get('wal-dir') ? { walDir: get('wal-dir') } : {}),
    preVote: bool('pre-vote', get('pre-vote')),
    metricsExtensive: get('metrics') === 'extensive',
    ...(get('max-concurrent-streams')
      ? { maxConcurrentStreams: positiveInt('max-concurrent-streams', get('max-concurrent-streams')) }
      : {}),
    ...autoCompaction(get('auto-compaction-mode'), get('auto-compaction-retention')),
    ...(clientTls ? { clientTls } : {}),
    ...(peerTls ? { peerTls } : {}),
  };
}
