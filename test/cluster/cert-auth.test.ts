// etcd's certificate users: with --client-cert-auth and auth on, a gRPC request without a token
// runs as the user its client certificate's Common Name names. Checked step by step with etcdctl
// against a real etcd 3.4 given the same flags and certificates, then what only a cluster shows:
// root-only calls sent to a follower, which passes them on to the leader.
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { makeClientCert, makeTestCerts, memberTlsArgs } from '../support/certs.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { etcdctl, mustEtcdctl } from '../support/etcd-clients.js';
import { agreedLeader } from '../support/leader.js';

jest.setTimeout(120_000);

const certs = makeTestCerts();
/** Client certificates by the user their CN names; `member` (the members' own) names no user. */
const certOf = {
  root: makeClientCert(certs, 'root'),
  alice: makeClientCert(certs, 'alice'),
  member: { cert: certs.cert, key: certs.key },
};
type CertUser = keyof typeof certOf;
const tlsFlags = (who: CertUser) => [
  `--cacert=${certs.ca}`,
  `--cert=${certOf[who].cert}`,
  `--key=${certOf[who].key}`,
];
const b64 = (s: string) => Buffer.from(s).toString('base64');
const as = (who: CertUser, m: LocalMember, ...args: string[]) => etcdctl(m, ...tlsFlags(who), ...args);

let t: TempCluster;
let etcd: TempCluster;
let members: LocalMember[];
let leader: LocalMember;
let follower: LocalMember;
let reference: LocalMember;
const clientTls = {
  ca: readFileSync(certs.ca),
  cert: readFileSync(certOf.root.cert),
  key: readFileSync(certOf.root.key),
};

beforeAll(async () => {
  [t, etcd] = await Promise.all([
    tempCluster('cert-auth', {
      size: 3,
      scheme: 'https',
      extraArgs: [...TEST_MEMBER_ARGS, ...memberTlsArgs(certs)],
    }),
    tempCluster('cert-auth-etcd', {
      size: 1,
      scheme: 'https',
      command: ['etcd'],
      extraArgs: ['--heartbeat-interval=50', '--election-timeout=500', ...memberTlsArgs(certs)],
    }),
  ]);
  members = t.cluster.members;
  reference = etcd.cluster.members[0]!;
  [leader] = await Promise.all([
    agreedLeader(() => members, undefined, undefined, clientTls),
    agreedLeader(() => [reference], undefined, undefined, clientTls),
  ]);
  follower = members.find((m) => m !== leader)!;
  for (const m of [members[0]!, reference]) {
    for (const args of [
      ['user', 'add', 'root:rootpw'],
      ['user', 'add', 'alice', '--no-password'],
      ['role', 'add', 'app'],
      ['role', 'grant-permission', 'app', '--prefix=true', 'readwrite', '/app/'],
      ['user', 'grant-role', 'alice', 'app'],
      ['auth', 'enable'],
    ]) {
      mustEtcdctl(m, ...tlsFlags('root'), ...args);
    }
  }
});
afterAll(async () => {
  await Promise.all([t.dispose(), etcd.dispose()]);
});

test('over gRPC the certificate names the user, with the answers etcd gives', () => {
  const steps: Array<[CertUser, string[], string | RegExp]> = [
    ['root', ['put', '/x', '1'], 'OK'],
    ['root', ['get', '/x', '--print-value-only'], '1'],
    ['root', ['user', 'list'], 'alice\nroot'],
    ['alice', ['put', '/app/a', 'A'], 'OK'],
    ['alice', ['get', '/app/a', '--print-value-only'], 'A'],
    ['alice', ['put', '/x', '2'], /permission denied$/],
    ['alice', ['get', '/x'], /permission denied$/],
    ['alice', ['user', 'list'], /permission denied$/],
    // A CN that names no user gets nothing.
    ['member', ['get', '/x'], /permission denied$/],
    ['member', ['put', '/app/b', '1'], /permission denied$/],
    // A token comes first: the password is checked, whatever the certificate.
    ['root', ['--user=alice:wrong', 'get', '/x'], /authentication failed/],
    ['root', ['get', '/', '--prefix', '--keys-only'], '/app/a\n\n/x'],
    // A root-only call on a connection of its own (etcdctl dials each endpoint for defrag).
    ['root', ['defrag'], 'Finished defragmenting etcd member[<url>]'],
  ];
  const run = (who: CertUser, m: LocalMember, args: string[]) =>
    as(who, m, ...args).replaceAll(m.clientURL, '<url>');
  for (const [who, args, expected] of steps) {
    const ours = run(who, leader, args);
    const theirs = run(who, reference, args);
    expect({ who, args, ours }).toEqual({ who, args, ours: theirs });
    if (typeof expected === 'string') expect(ours).toBe(expected);
    else expect(ours).toMatch(expected);
  }
  // Refused as later etcd releases refuse it; 3.4 sends its auth error as is, with code Unknown.
  expect(run('alice', leader, ['defrag'])).toBe(
    'Failed to defragment etcd member[<url>] (etcdserver: permission denied)',
  );
  expect(run('alice', reference, ['defrag'])).toMatch(/Unknown desc = auth: permission denied\)$/);
  // Every member takes the certificate, followers too.
  for (const m of members) expect(as('alice', m, 'get', '/app/a', '--print-value-only')).toBe('A');
});

test('the JSON gateway goes by the token alone; etcd refuses certificates with a CN there', async () => {
  const agent = new Agent({ connect: clientTls });
  const post = async (m: LocalMember, path: string, body: object, token?: string) => {
    const res = await fetch(new URL(path, m.clientURL), {
      method: 'POST',
      body: JSON.stringify(body),
      headers: token ? { authorization: token } : {},
      dispatcher: agent,
    });
    return { status: res.status, text: await res.text() };
  };
  const put = (m: LocalMember, token?: string) =>
    post(m, '/v3/kv/put', { key: b64('/app/gw'), value: b64('1') }, token);
  const login = async (m: LocalMember) => {
    const res = await post(m, '/v3/auth/authenticate', { name: 'root', password: 'rootpw' });
    return res.status === 200 ? (JSON.parse(res.text) as { token: string }).token : undefined;
  };
  try {
    // No token: the certificate's CN does not stand in for one.
    expect(await put(leader)).toEqual({
      status: 400,
      text: expect.stringContaining('user name is empty') as unknown as string,
    });
    // With root's token the write goes through, whatever the certificate's CN.
    expect((await put(leader, await login(leader))).status).toBe(200);
    // etcd 3.4 refuses any gateway request whose certificate carries a CN (so members could not
    // pass requests on with theirs); raftkv's members do, so its gateway ignores the CN instead.
    const cnRefusal = {
      status: 400,
      text: 'CommonName of client sending a request against gateway will be ignored and not used as expected\n',
    };
    expect(await put(reference)).toEqual(cnRefusal);
    expect(await put(reference, 'any-token')).toEqual(cnRefusal);
  } finally {
    await agent.close();
  }
});

test('root-only calls sent to a follower by a certificate user are passed on to the leader', () => {
  const added = as(
    'root',
    follower,
    'member',
    'add',
    'extra',
    '--learner',
    '--peer-urls=https://127.0.0.1:1',
  );
  expect(added).toMatch(/Member [0-9a-f]+ added/); // else etcdctl's error shows here
  const id = /Member ([0-9a-f]+) added/.exec(added)![1];
  expect(as('root', leader, 'member', 'list')).toContain(`${id}, unstarted, , https://127.0.0.1:1, , true`);
  expect(as('alice', follower, 'member', 'remove', id!)).toMatch(/permission denied$/);
  expect(as('root', follower, 'member', 'remove', id!)).toMatch(new RegExp(`Member ${id} removed`));
  expect(as('root', leader, 'member', 'list')).not.toContain(id);
});
