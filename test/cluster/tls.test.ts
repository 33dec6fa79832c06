// TLS on both ports, with etcd's flags, on real processes: members that require client and peer
// certificates from one CA elect a leader, replicate and pass requests on to the leader; etcdctl
// and raftkvctl work with --cacert/--cert/--key; a client without a trusted certificate, or one
// speaking plain HTTP, gets nothing; a snapshot streams over peer TLS; health and metrics are
// also on a plain metrics port; renewed certificate files are taken up while members run; bad
// certificate files stop a member at start, naming the file. --cipher-suites narrows TLS 1.2 on
// both ports and leaves TLS 1.3 (what grpc-go and the members speak) as it is. With
// --peer-cert-allowed-cn and --client-cert-allowed-hostname, certificates from the same CA that
// name someone else are refused.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as connectTls } from 'node:tls';
import { join } from 'node:path';
import { KvClient } from '../../node/client/client.js';
import { makeClientCert, makeTestCerts, memberTlsArgs, renewMemberCert } from '../support/certs.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

const certs = makeTestCerts();
const trusted = { ca: readFileSync(certs.ca), cert: readFileSync(certs.cert), key: readFileSync(certs.key) };
const CTL = join(process.cwd(), 'dist/node/cli/raftkvctl.js');
const MAIN = join(process.cwd(), 'dist/node/main.js');

/** The TLS 1.2 suites the members allow, by Go's names (the test certificates' keys are ECDSA). */
const SUITES = ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305'];

let tc: TempCluster;
let clients: KvClient[];
let leader: number;

beforeAll(async () => {
  tc = await tempCluster('tls', {
    size: 3,
    scheme: 'https',
    metricsPorts: true,
    extraArgs: [
      ...TEST_MEMBER_ARGS,
      ...memberTlsArgs(certs),
      `--cipher-suites=${SUITES.join(',')}`,
      // The member certificate's CN and one of its hosts (the tests' clients present it too).
      '--peer-cert-allowed-cn=member',
      '--client-cert-allowed-hostname=localhost',
    ],
  });
  clients = tc.cluster.members.map((m) => new KvClient([m.clientURL], 2000, trusted));
  const members = tc.cluster.members;
  leader = members.indexOf(await agreedLeader(() => members, undefined, undefined, trusted));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await tc.dispose();
});

test('writes through every member replicate over peer TLS and read back from every member', async () => {
  for (const [i, c] of clients.entries()) await c.put(`tls/k${i}`, `v${i}`);
  for (const c of clients) {
    const { kvs } = await c.get('tls/', { prefix: true });
    expect(kvs.map((kv) => [kv.key, kv.value])).toEqual([
      ['tls/k0', 'v0'],
      ['tls/k1', 'v1'],
      ['tls/k2', 'v2'],
    ]);
  }
});

test('a follower passes a lease request on to the leader’s TLS client port with its own certificate', async () => {
  const follower = clients[(leader + 1) % 3]!;
  const { id } = await clients[leader]!.leaseGrant(60);
  // Time-to-live runs on the leader: the follower asks it over https, presenting its certificate.
  const info = await follower.leaseTimeToLive(id);
  expect(info.grantedTtl).toBe(60);
  expect(info.ttl).toBeGreaterThan(0);
});

test('a member that was down past a snapshot catches up from one streamed over peer TLS', async () => {
  const i = (leader + 2) % 3;
  const follower = tc.cluster.members[i]!;
  await tc.cluster.stop(follower, 'SIGTERM');
  for (let n = 0; n < 120; n++) await clients[leader]!.put(`tls/bulk/${n}`, `v${n}`); // past --snapshot-count
  await tc.cluster.start(follower);
  await waitFor('the follower to catch up', async () => {
    const { kvs } = await clients[i]!.get('tls/bulk/', { prefix: true, serializable: true });
    return kvs.length === 120 ? true : undefined;
  });
  expect(follower.log.join('')).toMatch(/installing snapshot from leader/);
});

test('etcdctl and raftkvctl work with --cacert, --cert and --key', async () => {
  const url = tc.cluster.members[(leader + 1) % 3]!.clientURL;
  // etcdctl prints member IDs in hex without leading zeros.
  const idHex = BigInt((await clients[(leader + 1) % 3]!.status()).memberId).toString(16);
  const tlsFlags = [`--cacert=${certs.ca}`, `--cert=${certs.cert}`, `--key=${certs.key}`];
  const etcdctl = (...args: string[]) =>
    spawnSync('etcdctl', [`--endpoints=${url}`, ...tlsFlags, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
  expect(etcdctl('put', 'tls/etcdctl', 'over-grpc').stdout.toString()).toBe('OK\n');
  expect(etcdctl('get', 'tls/etcdctl', '--print-value-only').stdout.toString()).toBe('over-grpc\n');
  // A command that dials each endpoint on its own (over TLS grpc-go names it by its TLS server name).
  expect(etcdctl('endpoint', 'status').stdout.toString()).toMatch(
    new RegExp(`^${url}, ${idHex}, 3\\.4\\.0, `),
  );
  const ctl = spawnSync(process.execPath, [
    CTL,
    `--endpoints=${url}`,
    ...tlsFlags,
    '-w',
    'json',
    'get',
    'tls/etcdctl',
  ]);
  expect(ctl.stderr.toString()).toBe('');
  expect(JSON.parse(ctl.stdout.toString()).kvs.map((kv: { value: string }) => kv.value)).toEqual([
    'over-grpc',
  ]);
});

test('--cipher-suites: a TLS 1.2 client gets only a listed suite, on the client and the peer port', async () => {
  const m = tc.cluster.members[leader]!;
  const suite = (url: string, ciphers: string) =>
    new Promise<string>((ok, fail) => {
      const { hostname, port } = new URL(url);
      const s = connectTls(
        { host: hostname, port: Number(port), ...trusted, maxVersion: 'TLSv1.2', ciphers },
        () => {
          ok(s.getCipher().standardName);
          s.destroy();
        },
      );
      s.once('error', fail);
    });
  for (const url of [m.clientURL, m.peerURL]) {
    await expect(suite(url, 'ECDHE-ECDSA-CHACHA20-POLY1305')).resolves.toBe(SUITES[1]! + '_SHA256');
    await expect(suite(url, 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA')).rejects.toThrow(
      /handshake failure/,
    );
  }
});

test('clients without a certificate from the trusted CA, or speaking plain HTTP, are refused', async () => {
  const url = tc.cluster.members[leader]!.clientURL;
  const refused = async (c: KvClient) => {
    await expect(c.put('tls/intruder', 'x')).rejects.toThrow(/unreachable/);
    await c.close();
  };
  await refused(new KvClient([url], 2000, { ca: trusted.ca }));
  await refused(
    new KvClient([url], 2000, {
      ca: trusted.ca,
      cert: readFileSync(certs.strangerCert),
      key: readFileSync(certs.strangerKey),
    }),
  );
  await refused(new KvClient([url.replace('https://', 'http://')], 2000));
  const ctl = spawnSync(process.execPath, [
    CTL,
    `--endpoints=${url}`,
    `--cacert=${certs.ca}`,
    'get',
    'tls/k0',
  ]);
  expect(ctl.status).not.toBe(0);
  expect((await clients[leader]!.get('tls/intruder')).kvs).toEqual([]);
});

test('a certificate from the trusted CA naming someone else: refused on the client port (allowed hostname) and the peer port (allowed CN)', async () => {
  const alice = makeClientCert(certs, 'alice', ['alice.example']);
  const asAlice = { ca: trusted.ca, cert: readFileSync(alice.cert), key: readFileSync(alice.key) };
  const m = tc.cluster.members[leader]!;
  const c = new KvClient([m.clientURL], 2000, asAlice);
  await expect(c.put('tls/alice', 'x')).rejects.toThrow(/unreachable/);
  await c.close();
  // The peer port closes alice's connection once the handshake is done, before she says anything
  // (an idle connection would be cut only after 5 s); the member certificate's stays open.
  const open = (who: typeof trusted) => {
    const { hostname, port } = new URL(m.peerURL);
    const s = connectTls({ host: hostname, port: Number(port), ...who });
    const closed = new Promise<void>((ok) => s.once('close', () => ok()));
    s.on('error', () => undefined);
    return { s, closed };
  };
  const member = open(trusted);
  const refused = open(asAlice);
  let gone = false;
  void refused.closed.then(() => (gone = true));
  await waitFor('alice cut off', async () => gone || undefined, 3000, 20);
  expect(member.s.destroyed).toBe(false);
  member.s.destroy();
  expect((await clients[leader]!.get('tls/alice')).kvs).toEqual([]);
});

test('probes and Prometheus reach health and metrics on --listen-metrics-urls without a certificate; nothing else is there', async () => {
  for (const m of tc.cluster.members) {
    const health = await fetch(new URL('/health', m.metricsURL));
    expect([health.status, await health.json()]).toEqual([200, { health: 'true', reason: '' }]);
    const metrics = await (await fetch(new URL('/metrics', m.metricsURL))).text();
    expect(metrics).toMatch(/^etcd_server_has_leader 1$/m);
    const put = await fetch(new URL('/v3/kv/put', m.metricsURL), { method: 'POST', body: '{}' });
    expect(put.status).toBe(404);
    expect(await put.text()).toBe('no such endpoint on the metrics port: POST /v3/kv/put');
  }
});

test('a member given a CA file with no certificate, or a key that is not its certificate’s, stops at start naming them', () => {
  const start = (...flags: string[]) =>
    spawnSync(process.execPath, [MAIN, '--name=x', '--listen-client-urls=https://127.0.0.1:1', ...flags], {
      timeout: 20_000,
    });
  const noCa = start(
    `--cert-file=${certs.cert}`,
    `--key-file=${certs.key}`,
    `--trusted-ca-file=${certs.key}`,
  );
  expect(noCa.status).toBe(2);
  expect(noCa.stderr.toString()).toBe(`raftkv: --trusted-ca-file ${certs.key}: holds no PEM certificate\n`);
  const wrongKey = start(`--cert-file=${certs.cert}`, `--key-file=${certs.strangerKey}`);
  expect(wrongKey.status).toBe(2);
  expect(wrongKey.stderr.toString()).toContain(
    `raftkv: --cert-file ${certs.cert} / --key-file ${certs.strangerKey}: `,
  );
});

test('renewed certificate files are served to new connections without a restart, and the cluster goes on', async () => {
  const served = (url: string) =>
    new Promise<string>((ok, fail) => {
      const u = new URL(url);
      const s = connectTls(
        { host: u.hostname, port: Number(u.port), ...trusted, ALPNProtocols: ['http/1.1'] },
        () => {
          ok(s.getPeerCertificate().fingerprint256);
          s.destroy();
        },
      );
      s.once('error', fail);
    });
  const old = new X509Certificate(readFileSync(certs.cert)).fingerprint256;
  expect(await served(tc.cluster.members[0]!.clientURL)).toBe(old);
  renewMemberCert(certs);
  const renewed = new X509Certificate(readFileSync(certs.cert)).fingerprint256;
  expect(renewed).not.toBe(old);
  await waitFor(
    'every member serving the renewed certificate',
    async () => {
      const now = await Promise.all(tc.cluster.members.map((m) => served(m.clientURL)));
      return now.every((f) => f === renewed) ? true : undefined;
    },
    30_000,
  );
  const follower = clients[(leader + 1) % 3]!;
  await follower.put('tls/after-renewal', 'yes');
  for (const c of clients)
    expect((await c.get('tls/after-renewal')).kvs.map((kv) => kv.value)).toEqual(['yes']);
  expect(tc.cluster.members.every((m) => /reloaded the --cert-file certificate/.test(m.log.join('')))).toBe(
    true,
  );
});
