// etcd's auth on real processes, driven as etcd's users drive it: etcdctl 3.4 sets up a root user,
// a user with a prefix, and turns auth on; then who may read and write what, over gRPC and the
// gateway, with a token from one member used at the others, a permission revoked, and a restart.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { etcdctl, gateway } from '../support/etcd-clients.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

let t: TempCluster;
let members: [LocalMember, LocalMember, LocalMember];
beforeAll(async () => {
  t = await tempCluster('auth', { size: 3, extraArgs: TEST_MEMBER_ARGS });
  await agreedLeader(() => t.cluster.members);
  members = t.cluster.members as [LocalMember, LocalMember, LocalMember];
});
afterAll(() => t.dispose());

/** raftkvctl against one member: exit status and output. */
function raftkvctl(m: LocalMember, ...args: string[]): { status: number | null; out: string } {
  const ctl = join(process.cwd(), 'dist/node/cli/raftkvctl.js');
  const r = spawnSync(process.execPath, [ctl, `--endpoints=${m.clientURL}`, '-w', 'json', ...args]);
  return { status: r.status, out: (r.stdout.toString() + r.stderr.toString()).trim() };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('etcdctl sets auth up; then only what a role grants goes through, on every member', async () => {
  const [m1, m2, m3] = members;
  expect(etcdctl(m1, 'user', 'add', 'root:rootpw')).toBe('User root created');
  expect(etcdctl(m2, 'user', 'add', 'alice:alicepw')).toBe('User alice created');
  expect(etcdctl(m3, 'role', 'add', 'app')).toBe('Role app created');
  expect(etcdctl(m1, 'role', 'grant-permission', 'app', '--prefix=true', 'readwrite', '/app/')).toBe(
    'Role app updated',
  );
  expect(etcdctl(m2, 'user', 'grant-role', 'alice', 'app')).toBe('Role app is granted to user alice');
  // etcdctl adds the root role and grants it when the server says root lacks it: etcd's words matter.
  expect(etcdctl(m3, 'auth', 'enable')).toBe('Authentication Enabled');

  expect(etcdctl(m1, 'put', '/app/a', '1')).toBe('Error: etcdserver: user name is empty');
  for (const m of members) expect(etcdctl(m, '--user=alice:alicepw', 'put', '/app/a', m.name)).toBe('OK');
  expect(etcdctl(m2, '--user=alice:alicepw', 'get', '/app/', '--prefix')).toBe(`/app/a\n${m3.name}`);
  expect(etcdctl(m2, '--user=alice:alicepw', 'put', '/other', '1')).toMatch(
    /Error: etcdserver: permission denied$/,
  );
  expect(etcdctl(m3, '--user=alice:alicepw', 'get', '/', '--prefix')).toMatch(/permission denied$/);
  expect(etcdctl(m1, '--user=alice:wrong', 'get', '/app/a')).toMatch(
    /Error: etcdserver: authentication failed, invalid user ID or password$/,
  );
  // Users, roles and members are root's.
  expect(etcdctl(m1, '--user=alice:alicepw', 'user', 'list')).toMatch(/permission denied$/);
  expect(etcdctl(m1, '--user=alice:alicepw', 'member', 'add', 'x', '--peer-urls=http://127.0.0.1:1')).toMatch(
    /permission denied$/,
  );
  expect(etcdctl(m2, '--user=root:rootpw', 'user', 'list')).toBe('alice\nroot');
  expect(etcdctl(m2, '--user=root:rootpw', 'user', 'get', 'alice')).toBe('User: alice\nRoles: app');
  expect(etcdctl(m3, '--user=root:rootpw', 'put', '/other', 'by-root')).toBe('OK');
  // raftkvctl takes etcdctl's --user.
  const read = raftkvctl(m1, '--user=alice:alicepw', 'get', '/app/a');
  expect([read.status, JSON.parse(read.out).kvs[0].value]).toEqual([0, m3.name]);
  const anonymous = raftkvctl(m1, 'get', '/app/a');
  expect([anonymous.status, anonymous.out]).toEqual([1, 'raftkvctl: etcdserver: user name is empty']);
});

test('a token from one member works at the others through the gateway; a bad one is refused', async () => {
  const [m1, m2, m3] = members;
  const login = await gateway(m1, '/v3/auth/authenticate', { name: 'alice', password: 'alicepw' });
  expect(login.status).toBe(200);
  const token = login.body.token as string;
  expect(token).toMatch(/^[a-z]{16}\.\d+$/);
  for (const m of [m2, m3]) {
    // The token is answered once applied on m1; a follower knows it once it applies the same entry
    // (it learns the commit with the leader's next message), as with etcd's simple tokens.
    const r = await waitFor(`${m.name} knows the token`, async () => {
      const out = await gateway(m, '/v3/kv/range', { key: b64('/app/a') }, token);
      return out.status === 401 ? undefined : out;
    });
    expect([r.status, (r.body.kvs as Array<{ value: string }>)[0]?.value]).toEqual([200, b64(m3.name)]);
  }
  const bad = await gateway(m2, '/v3/kv/range', { key: b64('/app/a') }, `${token}x`);
  expect([bad.status, bad.body.message]).toEqual([401, 'etcdserver: invalid auth token']);
  const none = await gateway(m2, '/v3/kv/put', { key: b64('/app/b'), value: b64('1') });
  expect([none.status, none.body.message]).toEqual([400, 'etcdserver: user name is empty']);
  const denied = await gateway(m3, '/v3/kv/put', { key: b64('/other'), value: b64('1') }, token);
  expect([denied.status, denied.body.message]).toEqual([403, 'etcdserver: permission denied']);
  // A watch outside the role's prefix is cancelled at once with the reason.
  const watch = await fetch(new URL('/v3/watch', m1.clientURL), {
    method: 'POST',
    body: JSON.stringify({ create_request: { key: b64('/other') } }),
    headers: { authorization: token },
  });
  const first = JSON.parse((await watch.text()).split('\n')[0]!) as { result: Record<string, unknown> };
  expect([first.result.canceled, first.result.cancel_reason]).toEqual([
    true,
    'etcdserver: permission denied',
  ]);
});

test('a revoked permission refuses the next write; a new password ends the old tokens', async () => {
  const [m1, m2] = members;
  // A token from the member it is used at: known there from the answer on.
  const login = await gateway(m2, '/v3/auth/authenticate', { name: 'alice', password: 'alicepw' });
  const token = login.body.token as string;
  expect(
    etcdctl(m2, '--user=root:rootpw', 'role', 'revoke-permission', 'app', '/app/', '--prefix=true'),
  ).toBe('Permission of range [/app/, /app0) is revoked from role app');
  const put = await gateway(m2, '/v3/kv/put', { key: b64('/app/a'), value: b64('2') }, token);
  expect([put.status, put.body.message]).toEqual([403, 'etcdserver: permission denied']);

  const changed = await gateway(
    m1,
    '/v3/auth/user/changepw',
    { name: 'alice', password: 'newpw' },
    await rootToken(m1),
  );
  expect(changed.status).toBe(200);
  await waitFor('the old token refused on m2', async () => {
    const r = await gateway(m2, '/v3/kv/range', { key: b64('/app/a') }, token);
    return r.status === 401 ? true : undefined;
  });
  const again = await gateway(m2, '/v3/auth/authenticate', { name: 'alice', password: 'newpw' });
  expect(again.status).toBe(200);
  const old = await gateway(m2, '/v3/auth/authenticate', { name: 'alice', password: 'alicepw' });
  expect(old.body.message).toBe('etcdserver: authentication failed, invalid user ID or password');
});

test('after a restart a member still has auth on, with the same users, and none of its old tokens', async () => {
  const [m1, , m3] = members;
  const token = await rootToken(m1);
  const status = async (m: LocalMember) => (await gateway(m, '/v3/auth/user/list', {}, token)).status;
  await waitFor('m3 knows the token', async () => ((await status(m3)) === 200 ? true : undefined));
  expect([await status(m1), await status(m3)]).toEqual([200, 200]);
  await t.cluster.stop(m3, 'SIGTERM');
  await t.cluster.start(m3);
  await waitFor('m3 ready', async () =>
    (await fetch(new URL('/readyz', m3.clientURL))).ok ? true : undefined,
  );
  expect(etcdctl(m3, 'get', '/app/a')).toMatch(/user name is empty$/);
  // Tokens live in memory: the restarted member forgets the ones it had (replaying the log grants
  // none again), the others keep them.
  expect([await status(m1), await status(m3)]).toEqual([200, 401]);
  expect(etcdctl(m3, '--user=root:rootpw', 'user', 'list')).toBe('alice\nroot');
  expect(etcdctl(m3, '--user=root:rootpw', 'auth', 'disable')).toBe('Authentication Disabled');
  expect(etcdctl(m3, 'get', '/other')).toBe('/other\nby-root');
});

async function rootToken(m: LocalMember): Promise<string> {
  const r = await gateway(m, '/v3/auth/authenticate', { name: 'root', password: 'rootpw' });
  return r.body.token as string;
}
