// etcd's JWT tokens (--auth-token jwt,...) on real processes, next to a real etcd 3.4 given the same
// flag and keys: the tokens have the same form, any member reads them (one that has only the
// public key too, though it cannot sign), a change to the auth store makes the older ones read and
// write nothing, with etcd's answer, and key files that do not work stop a member at start.
import { jest } from '@jest/globals';
import { generateKeyPairSync, verify } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { enableAuth, etcdctl, gateway } from '../support/etcd-clients.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

const dir = mkdtempSync(join(tmpdir(), 'raftkv-jwt-keys-'));
function keyPair(name: string): { priv: string; pub: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(join(dir, `${name}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, `${name}.pub`), publicPem);
  return { priv: join(dir, `${name}.key`), pub: join(dir, `${name}.pub`), publicPem };
}
const keys = keyPair('cluster');
const stranger = keyPair('stranger');
const signing = (k: typeof keys) => `jwt,sign-method=RS256,pub-key=${k.pub},priv-key=${k.priv}`;
const verifyOnly = `jwt,sign-method=RS256,pub-key=${keys.pub}`;

let t: TempCluster;
let etcd: TempCluster;
let members: [LocalMember, LocalMember, LocalMember];
let reference: LocalMember;
beforeAll(async () => {
  [t, etcd] = await Promise.all([
    // m3 has only the public key.
    tempCluster('jwt', {
      size: 3,
      extraArgs: TEST_MEMBER_ARGS,
      env: (m) => ({ RAFTKV_AUTH_TOKEN: m.name === 'm3' ? verifyOnly : signing(keys) }),
    }),
    tempCluster('jwt-etcd', {
      size: 1,
      command: ['etcd'],
      extraArgs: ['--heartbeat-interval=50', '--election-timeout=500', `--auth-token=${signing(keys)}`],
    }),
  ]);
  members = t.cluster.members as [LocalMember, LocalMember, LocalMember];
  reference = etcd.cluster.members[0]!;
  await Promise.all([agreedLeader(() => members), agreedLeader(() => [reference])]);
  for (const m of [members[0], reference]) {
    enableAuth(m, 'rootpw');
    for (const args of [
      ['user', 'add', 'alice:alicepw'],
      ['role', 'add', 'app'],
      ['role', 'grant-permission', 'app', '--prefix=true', 'readwrite', '/app/'],
      ['user', 'grant-role', 'alice', 'app'],
    ]) {
      etcdctl(m, '--user=root:rootpw', ...args);
    }
  }
});
afterAll(async () => {
  await Promise.all([t.dispose(), etcd.dispose()]);
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
const login = async (m: LocalMember, name = 'alice', password = `${name}pw`) =>
  gateway(m, '/v3/auth/authenticate', { name, password });
const token = async (m: LocalMember, name?: string) => (await login(m, name)).body.token as string;
const put = (m: LocalMember, key: string, tk: string) =>
  gateway(m, '/v3/kv/put', { key: b64(key), value: b64(m.name) }, tk);

/** A JWT's header and claims, and whether `publicPem` verifies its RS256 signature. */
function read(tk: string, publicPem: string) {
  const [h, p, sig] = tk.split('.') as [string, string, string];
  const json = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString()) as Record<string, unknown>;
  const signed = verify('sha256', Buffer.from(`${h}.${p}`), publicPem, Buffer.from(sig, 'base64url'));
  return { header: json(h), claims: json(p), signed };
}

test('a token is a JWT of etcd’s form, signed by a member with the private key and read by every member', async () => {
  const [m1, m2, m3] = members;
  const ours = read(await token(m2), keys.publicPem);
  const theirs = read(await token(reference), keys.publicPem);
  expect(ours.header).toEqual(theirs.header);
  expect(Object.keys(ours.claims).sort()).toEqual(Object.keys(theirs.claims).sort());
  expect([ours.claims.username, ours.signed, theirs.signed]).toEqual(['alice', true, true]);

  const tk = await token(m1);
  for (const m of members) expect((await put(m, `/app/${m.name}`, tk)).status).toBe(200);
  const range = await gateway(m3, '/v3/kv/range', { key: b64('/app/m2') }, tk);
  expect((range.body.kvs as Array<{ value: string }>)[0]?.value).toBe(b64('m2'));

  // m3 reads tokens but cannot make them, in etcd's words; etcd's own client gets them elsewhere.
  const refused = await login(m3);
  expect([refused.status, refused.body.message]).toEqual([
    400,
    'auth: token signing attempted with verify-only key',
  ]);
  expect(etcdctl(m2, '--user=alice:alicepw', 'put', '/app/ctl', 'v')).toBe('OK');
  expect(etcdctl(m3, '--user=alice:alicepw', 'get', '/app/ctl', '--print-value-only')).toMatch(
    /verify-only key$/,
  );

  const forged = read(await token(m1), stranger.publicPem);
  expect(forged.signed).toBe(false);
  const otherKey = await tempCluster('jwt-other', {
    size: 1,
    extraArgs: [...TEST_MEMBER_ARGS, `--auth-token=${signing(stranger)}`],
  });
  try {
    const [o] = otherKey.cluster.members as [LocalMember];
    await agreedLeader(() => [o]);
    enableAuth(o, 'rootpw');
    const foreign = await put(m1, '/app/x', await token(o, 'root'));
    expect([foreign.status, foreign.body.message]).toEqual([401, 'etcdserver: invalid auth token']);
  } finally {
    await otherKey.dispose();
  }
});

test('after a change to the auth store an older token reads and writes nothing, as with etcd; root still administers', async () => {
  const [m1, m2, m3] = members;
  const before = { ours: await token(m1), theirs: await token(reference) };
  const rootBefore = await token(m2, 'root');
  for (const m of [m1, reference])
    expect(etcdctl(m, '--user=root:rootpw', 'role', 'add', 'ops')).toBe('Role ops created');

  const theirs = await put(reference, '/app/a', before.theirs);
  expect(theirs.body.message).toBe('etcdserver: revision of auth store is old');
  for (const m of [m1, m2, m3]) {
    // m2 and m3 refuse once they have applied the change (etcdctl heard from m1).
    const refusal = await waitFor(`${m.name} to refuse the older token`, async () => {
      const r = await put(m, '/app/a', before.ours);
      return r.status === 200 ? undefined : r;
    });
    expect([refusal.status, refusal.body]).toEqual([theirs.status, theirs.body]);
    const range = await gateway(m, '/v3/kv/range', { key: b64('/app/a') }, before.ours);
    expect([range.status, range.body.message]).toEqual([400, 'etcdserver: revision of auth store is old']);
  }
  const roles = await gateway(m3, '/v3/auth/role/list', {}, rootBefore);
  expect(roles.body.roles).toEqual(['app', 'ops', 'root']);

  const fresh = await token(m2);
  for (const m of members) expect((await put(m, '/app/a', fresh)).status).toBe(200);
});

test('key files that cannot sign stop a member at start, naming the file', () => {
  const garbage = join(dir, 'garbage.key');
  writeFileSync(garbage, 'not a key');
  const main = join(process.cwd(), 'dist/node/main.js');
  const start = (tokenFlag: string) =>
    spawnSync(process.execPath, [
      main,
      '--name=x',
      `--data-dir=${join(dir, 'x')}`,
      `--auth-token=${tokenFlag}`,
    ]);
  const bad = start(`jwt,sign-method=RS256,priv-key=${garbage}`);
  expect([bad.status, bad.stderr.toString()]).toEqual([
    2,
    expect.stringContaining(`raftkv: --auth-token priv-key=${garbage}:`),
  ]);
  const mismatched = start(`jwt,sign-method=RS256,priv-key=${keys.priv},pub-key=${stranger.pub}`);
  expect(mismatched.stderr.toString()).toContain(`${keys.priv} and ${stranger.pub} are not a key pair`);
  expect(mismatched.status).toBe(2);
});
