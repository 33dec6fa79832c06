// The operator's calls to a cluster with auth on, on real processes: membership changes and
// leadership transfers need the root role then. With the cluster's credentials (spec.auth) the
// operator's HttpMemberApi gets a token, and another when a member refuses it (a restarted member
// has forgotten it); without them the refusal says what the operator needs. With auth off the
// credentials are not in the way.
import { jest } from '@jest/globals';
import { KvClient } from '../../node/client/client.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { HttpMemberApi } from '../../operator/members/client.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from '../support/cluster.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(60_000);

const ROOT = { user: 'root', password: 'rootpw' };
let t: TempCluster;
let fourth: LocalMember;
const running = () => t.cluster.members.filter((m) => m.proc);
const endpoints = () => running().map((m) => m.clientURL);

/** Adds the never-started fourth member as a learner and removes it again, through `api`. */
async function addAndRemove(api: HttpMemberApi, at = endpoints()): Promise<void> {
  const id = await waitFor('the learner added', () => api.addLearner(at, fourth.peerURL));
  expect((await api.list(at)).find((m) => m.id === id)?.isLearner).toBe(true);
  await api.remove(at, id);
  expect((await api.list(at)).map((m) => m.id)).not.toContain(id);
}

beforeAll(async () => {
  t = await tempCluster('operator-auth', { size: 3, extraArgs: TEST_MEMBER_ARGS });
  await agreedLeader(() => t.cluster.members);
  fourth = await t.cluster.addMember('m4');
});
afterAll(() => t.dispose());

/** Made while auth is off, and used again once it is on. */
const earlier = new HttpMemberApi(5000, undefined, ROOT);

test('with auth off, the credentials are not in the way', async () => {
  await addAndRemove(earlier);
});

test('with auth on, membership changes and leadership transfers go through with the credentials only', async () => {
  const c = new KvClient(endpoints(), 5000);
  await c.call('/v3/auth/user/add', { name: 'root', password: 'rootpw' });
  await c.call('/v3/auth/role/add', { name: 'root' });
  await c.call('/v3/auth/user/grant', { user: 'root', role: 'root' });
  await c.call('/v3/auth/enable', {});

  const anonymous = new HttpMemberApi(5000);
  await expect(anonymous.addLearner(endpoints(), fourth.peerURL)).rejects.toThrow(
    'etcdserver: user name is empty: auth is on in this cluster; give the operator a user with the root role in spec.auth.secretName',
  );
  // What the operator reads needs no user.
  expect(await anonymous.list(endpoints())).toHaveLength(3);
  const leader = await agreedLeader(running);
  expect((await anonymous.status(leader.clientURL)).leader).toBeDefined();

  await expect(
    new HttpMemberApi(5000, undefined, { user: 'root', password: 'wrong' }).addLearner(
      endpoints(),
      fourth.peerURL,
    ),
  ).rejects.toThrow('authenticating as root: etcdserver: authentication failed, invalid user ID or password');

  // The client that found auth off logs in once a member asks for a user.
  await addAndRemove(earlier);
  const api = new HttpMemberApi(5000, undefined, ROOT);
  await addAndRemove(api);
  const to = (await api.list(endpoints())).find((m) => m.name !== leader.name)!;
  await api.transferLeadership(leader.clientURL, to.id);
  await waitFor('the new leader', async () =>
    (await api.status(leader.clientURL)).leader === to.id ? true : undefined,
  );
});

test('a member that restarted has forgotten the token: the operator authenticates again', async () => {
  const api = new HttpMemberApi(5000, undefined, ROOT);
  await addAndRemove(api); // the token is now known to every member that applied it
  const m = t.cluster.members[0]!;
  await t.cluster.stop(m);
  await t.cluster.start(m);
  await agreedLeader(running);
  await addAndRemove(api, [m.clientURL]);
});
