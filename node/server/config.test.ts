// Flags as etcd names them, their environment fallbacks, and clear errors for bad values.
import { ConfigError, parseConfig } from './config.js';

const parse = (...argv: string[]) => parseConfig(['--name=a', ...argv], {});

test('the backend batch flags default to etcd’s and take durations as etcd’s Go flags do', () => {
  expect([parse().backendBatchIntervalMs, parse().backendBatchLimit]).toEqual([100, 10_000]);
  expect(parse('--backend-batch-interval=250ms').backendBatchIntervalMs).toBe(250);
  expect(parse('--backend-batch-interval=1s').backendBatchIntervalMs).toBe(1000);
  expect(parse('--backend-batch-interval=20').backendBatchIntervalMs).toBe(20);
  expect(parseConfig(['--name=a'], { RAFTKV_BACKEND_BATCH_LIMIT: '500' }).backendBatchLimit).toBe(500);
});

test('the watch progress interval defaults to etcd’s 10 minutes and takes Go durations', () => {
  const interval = (...argv: string[]) => parse(...argv).watchProgressNotifyIntervalMs;
  expect(interval()).toBe(600_000);
  expect(interval('--experimental-watch-progress-notify-interval=5s')).toBe(5000);
  expect(interval('--experimental-watch-progress-notify-interval=2m')).toBe(120_000);
  expect(interval('--experimental-watch-progress-notify-interval=1h')).toBe(3_600_000);
});

test('auto compaction: off by default and at 0; periodic retentions in hours or Go durations; revision counts', () => {
  const auto = (...argv: string[]) => parse(...argv).autoCompaction;
  expect(auto()).toBeUndefined();
  expect(auto('--auto-compaction-retention=0')).toBeUndefined();
  expect(auto('--auto-compaction-retention=1')).toEqual({ mode: 'periodic', retentionMs: 3_600_000 });
  expect(auto('--auto-compaction-retention=30m')).toEqual({ mode: 'periodic', retentionMs: 1_800_000 });
  expect(auto('--auto-compaction-mode=periodic', '--auto-compaction-retention=5s')).toEqual({
    mode: 'periodic',
    retentionMs: 5000,
  });
  expect(auto('--auto-compaction-mode=revision', '--auto-compaction-retention=1000')).toEqual({
    mode: 'revision',
    retention: 1000,
  });
  expect(auto('--auto-compaction-mode=revision', '--auto-compaction-retention=0')).toBeUndefined();
  expect(() => parse('--auto-compaction-mode=revision', '--auto-compaction-retention=1h')).toThrow(
    '--auto-compaction-retention: "1h" is not a number of revisions',
  );
  expect(() => parse('--auto-compaction-retention=soon')).toThrow(
    '--auto-compaction-retention: "soon" is not a duration',
  );
  expect(() => parse('--auto-compaction-mode=daily', '--auto-compaction-retention=1')).toThrow(
    '--auto-compaction-mode must be "periodic" or "revision", not "daily"',
  );
});

test('--auth-token takes etcd’s forms: simple (the default), or jwt with its options', () => {
  expect(parse().authToken).toEqual({ type: 'simple' });
  expect(parse('--auth-token=simple').authToken).toEqual({ type: 'simple' });
  expect(parse('--auth-token=jwt,pub-key=p.pem,priv-key=k.pem,sign-method=RS256').authToken).toEqual({
    type: 'jwt',
    signMethod: 'RS256',
    pubKeyFile: 'p.pem',
    privKeyFile: 'k.pem',
    ttlMs: 300_000,
  });
  expect(parse('--auth-token=jwt,pub-key=p.pem,sign-method=ES256,ttl=10m').authToken).toEqual({
    type: 'jwt',
    signMethod: 'ES256',
    pubKeyFile: 'p.pem',
    ttlMs: 600_000,
  });
});

test('--bcrypt-cost defaults to etcd’s 10 and takes Go bcrypt’s range', () => {
  expect(parse().bcryptCost).toBe(10);
  expect(parse('--bcrypt-cost=4').bcryptCost).toBe(4);
  expect(parseConfig(['--name=a'], { RAFTKV_BCRYPT_COST: '12' }).bcryptCost).toBe(12);
});

test.each([
  ['--bcrypt-cost=3', '--bcrypt-cost: "3" is not an integer from 4 to 31'],
  ['--bcrypt-cost=ten', '--bcrypt-cost: "ten" is not an integer from 4 to 31'],
  ['--auth-token=bogus', '--auth-token: "bogus" is neither simple nor jwt,<options>'],
  ['--auth-token=jwt', '--auth-token: sign-method "" is not one of RS256,'],
  ['--auth-token=jwt,priv-key=k,sign-method=none', 'sign-method "none" is not one of'],
  ['--auth-token=jwt,sign-method=RS256', '--auth-token: jwt needs priv-key=<file>, pub-key=<file> or both'],
  ['--auth-token=jwt,sign-method=RS256,priv-key=k,foo=bar', '"foo=bar" is not sign-method=, priv-key='],
  ['--auth-token=jwt,sign-method=RS256,priv-key=k,ttl=soon', '--auth-token ttl: "soon" is not a duration'],
  ['--backend-batch-interval=fast', '--backend-batch-interval: "fast" is not a duration of 1ms or more'],
  ['--backend-batch-interval=0ms', '--backend-batch-interval: "0ms" is not a duration'],
  ['--experimental-watch-progress-notify-interval=10d', 'interval: "10d" is not a duration'],
  ['--backend-batch-limit=-3', '--backend-batch-limit: "-3" is not a positive integer'],
  ['--heartbeat-interval=500', '--election-timeout should be at least 5 times --heartbeat-interval'],
  ['--initial-cluster=b=http://127.0.0.1:2380', '--initial-cluster does not name this member ("a")'],
])('%s is refused: %s', (flag, message) => {
  expect(() => parse(flag)).toThrow(ConfigError);
  expect(() => parse(flag)).toThrow(message);
});

describe('TLS flags, named as etcd names them', () => {
  const https = ['--listen-client-urls=https://127.0.0.1:2379', '--cert-file=c.pem', '--key-file=k.pem'];
  /** What the flags should parse to: the client port's files, no client certificates asked, TLS 1.2 and up. */
  const files = (certFile: string, keyFile: string, more: object = {}) => ({
    prefix: '',
    certFile,
    keyFile,
    clientCertAuth: false,
    policy: { min: 'TLSv1.2' },
    ...more,
  });

  test('an https client URL takes the certificate files; client-cert-auth may be given bare', () => {
    const cfg = parse(...https, '--trusted-ca-file=ca.pem', '--client-cert-auth');
    expect(cfg.clientTls).toEqual(files('c.pem', 'k.pem', { trustedCaFile: 'ca.pem', clientCertAuth: true }));
    expect(cfg.peerTls).toBeUndefined();
    expect(parse(...https).clientTls).toEqual(files('c.pem', 'k.pem'));
    expect(parse(...https, '--tls-min-version=TLS1.3').clientTls?.policy).toEqual({ min: 'TLSv1.3' });
    const withCrl = parse(
      ...https,
      '--trusted-ca-file=ca.pem',
      '--client-cert-auth',
      '--client-crl-file=crl.pem',
    );
    expect(withCrl.clientTls?.crlFile).toBe('crl.pem');
    expect(parse(...https, '--tls-max-version=TLS1.2').clientTls?.policy).toEqual({
      min: 'TLSv1.2',
      max: 'TLSv1.2',
    });
    expect(parse().clientTls).toBeUndefined();
    expect(
      parse(
        ...https,
        '--listen-metrics-urls=http://0.0.0.0:2381,https://127.0.0.1:2382',
      ).listenMetricsUrls.map(String),
    ).toEqual(['http://0.0.0.0:2381/', 'https://127.0.0.1:2382/']);
  });

  test("--cipher-suites: Go's names as etcd takes them; TLS 1.3 suites always on", () => {
    const ciphers = (v: string) => parse(...https, `--cipher-suites=${v}`).clientTls?.policy.ciphers;
    const TLS13 = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';
    expect(parse(...https).clientTls?.policy.ciphers).toBeUndefined();
    expect(ciphers('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305')).toBe(
      `ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:${TLS13}`,
    );
    expect(ciphers('TLS_AES_128_GCM_SHA256')).toBe(TLS13);
    expect(() => ciphers('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA')).toThrow(
      '--cipher-suites: unexpected TLS cipher suite " TLS_RSA_WITH_AES_128_CBC_SHA"',
    );
    expect(() => ciphers('TLS_RSA_WITH_RC4_128_SHA')).toThrow(
      "not available in this Node.js build's OpenSSL",
    );
    expect(() =>
      parse(...https, '--tls-min-version=TLS1.3', '--cipher-suites=TLS_AES_128_GCM_SHA256'),
    ).toThrow('cipher suites cannot be configured when only TLS1.3 or greater is supported');
  });

  test('https peer URLs take the peer- files, from the environment too', () => {
    const cfg = parseConfig(
      ['--name=a', '--listen-peer-urls=https://127.0.0.1:2380', '--peer-client-cert-auth=true'],
      {
        RAFTKV_PEER_CERT_FILE: 'p.pem',
        RAFTKV_PEER_KEY_FILE: 'pk.pem',
        RAFTKV_PEER_TRUSTED_CA_FILE: 'ca.pem',
      },
    );
    expect(cfg.peerTls).toEqual(
      files('p.pem', 'pk.pem', { prefix: 'peer-', trustedCaFile: 'ca.pem', clientCertAuth: true }),
    );
    expect(cfg.initialCluster.get('a')).toEqual(['https://127.0.0.1:2380']);
  });

  test('--peer-cert-allowed-cn and --*-cert-allowed-hostname name whom client certificates must name', () => {
    const peer = ['--listen-peer-urls=https://127.0.0.1:2380', '--peer-cert-file=p', '--peer-key-file=k'];
    const mutual = [...peer, '--peer-client-cert-auth', '--peer-trusted-ca-file=ca.pem'];
    expect(parse(...mutual, '--peer-cert-allowed-cn=etcd-peer').peerTls?.allowed).toEqual({
      cn: 'etcd-peer',
    });
    expect(parse(...mutual, '--peer-cert-allowed-hostname=peer.example').peerTls?.allowed).toEqual({
      hostname: 'peer.example',
    });
    const client = [...https, '--client-cert-auth', '--trusted-ca-file=ca.pem'];
    const cfg = parse(...client, '--client-cert-allowed-hostname=api.example');
    expect([cfg.clientTls?.allowed, cfg.peerTls]).toEqual([{ hostname: 'api.example' }, undefined]);
    expect(parse(...client).clientTls?.allowed).toBeUndefined();
  });

  test.each([
    [['--listen-client-urls=https://127.0.0.1:2379'], '--cert-file and --key-file are required'],
    [
      ['--listen-client-urls=https://127.0.0.1:2379', '--cert-file=c.pem'],
      '--cert-file and --key-file are required',
    ],
    [['--cert-file=c.pem', '--key-file=k.pem'], 'need an https:// URL in --listen-client-urls'],
    [['--client-cert-auth'], 'need an https:// URL in --listen-client-urls'],
    [[...https, '--client-cert-auth'], '--client-cert-auth needs --trusted-ca-file'],
    [[...https, '--client-cert-auth=yes'], '--client-cert-auth: "yes" is not true or false'],
    [['--listen-client-urls=unix://x:1'], '"unix://x:1" is neither http:// nor https://'],
    [['--listen-peer-urls=https://127.0.0.1:2380'], '--peer-cert-file and --peer-key-file are required'],
    [['--tls-min-version=TLS1.1'], '--tls-min-version: "TLS1.1" is not TLS1.2 or TLS1.3'],
    [
      [...https, '--client-crl-file=crl.pem'],
      '--client-crl-file needs --client-cert-auth (it revokes client certificates)',
    ],
    [['--peer-crl-file=crl.pem'], 'need an https:// URL in --listen-peer-urls'],
    [['--peer-cert-allowed-cn=etcd'], 'need an https:// URL in --listen-peer-urls'],
    [
      [...https, '--client-cert-allowed-hostname=api.example'],
      '--client-cert-allowed-hostname needs --client-cert-auth (it checks client certificates)',
    ],
    [
      [
        ...['--listen-peer-urls=https://127.0.0.1:2380', '--peer-cert-file=p', '--peer-key-file=k'],
        ...['--peer-client-cert-auth', '--peer-trusted-ca-file=ca.pem'],
        ...['--peer-cert-allowed-cn=a', '--peer-cert-allowed-hostname=b'],
      ],
      '--peer-cert-allowed-cn and --peer-cert-allowed-hostname are mutually exclusive',
    ],
    [
      ['--tls-min-version=TLS1.3', '--tls-max-version=TLS1.2'],
      '--tls-max-version is below --tls-min-version',
    ],
    [
      ['--listen-metrics-urls=https://127.0.0.1:2381'],
      '"https://127.0.0.1:2381/" must be http://, or https:// with the client port\'s --cert-file and --key-file',
    ],
    [
      [
        '--listen-peer-urls=https://127.0.0.1:2380',
        '--peer-cert-file=p',
        '--peer-key-file=k',
        '--initial-cluster=a=http://127.0.0.1:2380',
      ],
      "--initial-cluster: a's peer URL http://127.0.0.1:2380 is not https:// as --listen-peer-urls is",
    ],
  ])('%j is refused: %s', (flags, message) => {
    expect(() => parse(...flags)).toThrow(ConfigError);
    expect(() => parse(...flags)).toThrow(message);
  });
});

test('every switch may be given bare, as Go flags are, or with a value', () => {
  expect(parse().forceNewCluster).toBe(false);
  expect(parse('--force-new-cluster').forceNewCluster).toBe(true);
  expect(parse('--force-new-cluster=false').forceNewCluster).toBe(false);
  expect(parse('--strict-reconfig-check=false').strictReconfigCheck).toBe(false);
  expect(parse('--strict-reconfig-check').strictReconfigCheck).toBe(true);
  expect(() => parse('--force-new-cluster=maybe')).toThrow(
    '--force-new-cluster: "maybe" is not true or false',
  );
});

test('--force-new-cluster-member forces only the member it names (one template serves every pod)', () => {
  expect(parse('--force-new-cluster-member=a').forceNewCluster).toBe(true);
  expect(parse('--force-new-cluster-member=b').forceNewCluster).toBe(false);
  expect(parse('--force-new-cluster-member=').forceNewCluster).toBe(false);
});

test("etcd's flags that raftkv does not serve stop it with what to do instead, bare or with a value", () => {
  expect(() => parse('--discovery=https://discovery.etcd.io/x')).toThrow(
    "--discovery is etcd's; raftkv does not serve it: raftkv has no discovery; list the founding members in --initial-cluster",
  );
  expect(() => parse('--auto-tls')).toThrow('raftkv makes no self-signed certificates');
  expect(() => parse('--max-wals', '5')).toThrow('raftkv deletes WAL segments once a snapshot covers them');
  expect(() => parse('--experimental-peer-skip-client-san-verification')).toThrow(
    'checked against --peer-trusted-ca-file only',
  );
  expect(() => parse('--no-such-flag=1')).toThrow("Unknown option '--no-such-flag'");
});

test('etcd flags with one possible value here take that value and refuse others, saying why', () => {
  expect(() => parse('--enable-v2=false', '--logger=zap', '--log-outputs=stderr')).not.toThrow();
  expect(() => parse('--enable-v2')).toThrow(
    '--enable-v2=true is refused: raftkv has no v2 API (accepted: false)',
  );
  expect(() => parse('--logger=capnslog')).toThrow('raftkv logs JSON lines, as zap does (accepted: zap)');
  expect(() => parse('--metrics=verbose')).toThrow('(accepted: basic, extensive)');
});

test('--log-outputs: stderr by default; stdout and files, each once, relative paths from the working directory', () => {
  expect(parse().logOutputs).toEqual([{ to: 'stderr' }]);
  expect(parse('--log-outputs=default,stderr').logOutputs).toEqual([{ to: 'stderr' }]);
  expect(parse('--log-outputs=stdout,/var/log/etcd.log,logs/m.log,/var/log/etcd.log').logOutputs).toEqual([
    { to: 'stdout' },
    { to: 'file', path: '/var/log/etcd.log' },
    { to: 'file', path: `${process.cwd()}/logs/m.log` },
  ]);
  expect(parseConfig(['--name=a'], { ETCD_LOG_OUTPUTS: 'stdout' }).logOutputs).toEqual([{ to: 'stdout' }]);
  expect(() => parse('--log-outputs=stderr,')).toThrow('--log-outputs: "stderr," has an empty entry');
  expect(() => parse('--log-outputs=systemd/journal')).toThrow('systemd/journal is not served');
});

test('--max-txn-ops: 128 by default, as etcd; a positive number', () => {
  expect([parse().maxTxnOps, parse('--max-txn-ops=512').maxTxnOps]).toEqual([128, 512]);
  expect(() => parse('--max-txn-ops=0')).toThrow('--max-txn-ops');
});

test('the served etcd flags: --wal-dir, --pre-vote, --metrics, --max-concurrent-streams, --debug', () => {
  const plain = parse();
  expect([
    plain.walDir,
    plain.preVote,
    plain.metricsExtensive,
    plain.maxConcurrentStreams,
    plain.logLevel,
  ]).toEqual([undefined, true, false, undefined, 'info']);
  const cfg = parse(
    '--wal-dir=/fast/wal',
    '--pre-vote=false',
    '--metrics=extensive',
    '--max-concurrent-streams=8',
    '--debug',
  );
  expect([cfg.walDir, cfg.preVote, cfg.metricsExtensive, cfg.maxConcurrentStreams, cfg.logLevel]).toEqual([
    '/fast/wal',
    false,
    true,
    8,
    'debug',
  ]);
  expect(() => parse('--max-concurrent-streams=0')).toThrow('--max-concurrent-streams');
});

test("each flag falls back to RAFTKV_<FLAG>, then to etcd's ETCD_<FLAG>; a flag on the command line wins", () => {
  const env = { ETCD_DATA_DIR: '/var/lib/etcd', ETCD_SNAPSHOT_COUNT: '500', RAFTKV_SNAPSHOT_COUNT: '700' };
  const cfg = parseConfig(['--name=a'], env);
  expect([cfg.dataDir, cfg.snapshotCount]).toEqual(['/var/lib/etcd', 700]);
  expect(parseConfig(['--name=a', '--data-dir=/d'], env).dataDir).toBe('/d');
  expect(() => parseConfig(['--name=a'], { ETCD_DISCOVERY_SRV: 'example.com' })).toThrow(
    "--discovery-srv is etcd's; raftkv does not serve it",
  );
  expect(() => parseConfig(['--name=a'], { ETCD_ENABLE_V2: 'true' })).toThrow('--enable-v2=true is refused');
});
