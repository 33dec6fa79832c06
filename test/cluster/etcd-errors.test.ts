// Refused membership and leadership calls answer with etcd's own gRPC errors, word for word:
// etcd's client libraries turn an error into a typed one (rpctypes.ErrMemberNotFound, ...) by its
// message, so a client switching from etcd keeps its error handling. The same calls go to the
// leader of a 3-member raftkv and of a 3-member etcd 3.4, and each step's code and message must
// match (and be etcd's). Last, etcd's --strict-reconfig-check: with a member down, removing a
// healthy one (which would leave no quorum up) is refused, and removing the one that is down is not.
import { jest } from '@jest/globals';
import type { ServiceError } from '@grpc/grpc-js';
import { freePort, type LocalMember } from '../../node/tools/local-cluster.js';
import type { Obj } from '../support/grpc-stubs.js';
import { bothSystems, type System } from '../support/side-by-side.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(120_000);

const systems = bothSystems('errors');

/** A call's refusal as [code, message]; a call that succeeds fails the test. */
async function refusal(s: System, service: string, method: string, req: Obj): Promise<[number, string]> {
  try {
    await s.stubs.call(service, method, req);
  } catch (e) {
    const err = e as ServiceError;
    return [err.code, err.details];
  }
  throw new Error(`${service}.${method} ${JSON.stringify(req)} succeeded`);
}

const idOf = async (s: System, m: LocalMember): Promise<string> => {
  const r = await s.stubs.call<{ members: Array<{ ID: string; name: string }> }>('Cluster', 'MemberList', {});
  return r.members.find((x) => x.name === m.name)!.ID;
};

const UNHEALTHY = 'etcdserver: unhealthy cluster';
const unhealthy = (e: unknown) => (e as ServiceError).details === UNHEALTHY;

/**
 * Runs the same step on both systems and returns [raftkv's, etcd's] refusals. etcd refuses
 * membership changes as unhealthy until its peers have been connected for 5 s: a step is retried
 * while it gets that answer (and the test's own steps are never meant to get it).
 */
async function both(step: (s: System) => Promise<[number, string]>) {
  const settled = (s: System) =>
    waitFor('a membership change past the unhealthy window', async () => {
      try {
        const r = await step(s);
        return r[1] === UNHEALTHY ? undefined : r;
      } catch (e) {
        if (unhealthy(e)) return undefined;
        throw e;
      }
    });
  return [await settled(systems.raftkv), await settled(systems.etcd)];
}

const FAILED_PRECONDITION = 9;
const NOT_FOUND = 5;

test('moving leadership to an unknown member', async () => {
  const [ours, theirs] = await both((s) => refusal(s, 'Maintenance', 'MoveLeader', { targetID: '4660' }));
  expect(theirs).toEqual([FAILED_PRECONDITION, 'etcdserver: bad leader transferee']);
  expect(ours).toEqual(theirs);
});

test('promoting a voter, or a member that does not exist', async () => {
  const voter = await both(async (s) => {
    const follower = s.t.cluster.members.find((m) => m !== s.leader)!;
    return refusal(s, 'Cluster', 'MemberPromote', { ID: await idOf(s, follower) });
  });
  expect(voter[1]).toEqual([FAILED_PRECONDITION, 'etcdserver: can only promote a learner member']);
  expect(voter[0]).toEqual(voter[1]);

  const unknown = await both((s) => refusal(s, 'Cluster', 'MemberPromote', { ID: '4660' }));
  expect(unknown[1]).toEqual([NOT_FOUND, 'etcdserver: member not found']);
  expect(unknown[0]).toEqual(unknown[1]);
});

test('removing a member that does not exist', async () => {
  const [ours, theirs] = await both((s) => refusal(s, 'Cluster', 'MemberRemove', { ID: '4660' }));
  expect(theirs).toEqual([NOT_FOUND, 'etcdserver: member not found']);
  expect(ours).toEqual(theirs);
});

test('adding a member at a peer URL a member has', async () => {
  const [ours, theirs] = await both((s) =>
    refusal(s, 'Cluster', 'MemberAdd', { peerURLs: [s.leader.peerURL], isLearner: true }),
  );
  expect(theirs).toEqual([FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists']);
  expect(ours).toEqual(theirs);
});

test('promoting a learner that has not caught up (it never started)', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const [ours, theirs] = await both(async (s) => {
    const added = await s.stubs.call<{ member: { ID: string } }>('Cluster', 'MemberAdd', {
      peerURLs: [url],
      isLearner: true,
    });
    const refused = await refusal(s, 'Cluster', 'MemberPromote', { ID: added.member.ID });
    await s.stubs.call('Cluster', 'MemberRemove', { ID: added.member.ID });
    return refused;
  });
  expect(theirs).toEqual([
    FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ]);
  expect(ours).toEqual(theirs);
});

test('with a member down, removing a healthy one is refused as unhealthy; removing the one down is not', async () => {
  const down = async (s: System) => {
    const [victim, healthy] = s.t.cluster.members.filter((m) => m !== s.leader) as [LocalMember, LocalMember];
    const ids = { victim: await idOf(s, victim), healthy: await idOf(s, healthy) };
    await s.t.cluster.stop(victim, 'SIGKILL');
    return ids;
  };
  const [ours, theirs] = [await down(systems.raftkv), await down(systems.etcd)];
  const refusals = [
    await refusal(systems.raftkv, 'Cluster', 'MemberRemove', { ID: ours.healthy }),
    await refusal(systems.etcd, 'Cluster', 'MemberRemove', { ID: theirs.healthy }),
  ];
  expect(refusals[1]).toEqual([14, UNHEALTHY]);
  expect(refusals[0]).toEqual(refusals[1]);

  for (const [s, ids] of [
    [systems.raftkv, ours],
    [systems.etcd, theirs],
  ] as const) {
    await s.stubs.call('Cluster', 'MemberRemove', { ID: ids.victim });
    const left = await s.stubs.call<{ members: unknown[] }>('Cluster', 'MemberList', {});
    expect(left.members).toHaveLength(2);
  }
});
