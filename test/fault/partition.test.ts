// Scripted partitions on a real 3-member cluster whose peer links pass through proxies: an
// isolated leader, an isolated follower, a one-way cut and a bridge. Each checks who may serve
// what while cut off, that the connected majority keeps committing, and that every member has the
// majority's writes once the links heal.
import { jest } from '@jest/globals';
import { KvClient } from '../../node/client/client.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { agreedLeader } from '../support/leader.js';
import { servesLocally } from '../support/membership.js';
import { waitFor } from '../support/wait.js';
import { FaultRun } from './harness.js';

jest.setTimeout(120_000);

let run: FaultRun;

beforeAll(async () => {
  run = new FaultRun({ seconds: 0, seed: 1 });
  await run.start();
});

afterAll(() => run?.close());

afterEach(async () => {
  run.links.healAll();
  await run.leader(20_000);
});

const kv = (m: LocalMember, timeoutMs = 1500) => new KvClient([m.clientURL], timeoutMs);
const others = (m: LocalMember) => run.cluster.members.filter((x) => x !== m);

/** Every member serves `value` for `key` from its own store (after a heal: caught up). */
async function everyMemberHas(key: string, value: string): Promise<void> {
  for (const m of run.cluster.members) {
    await servesLocally(kv(m), key, value, 20_000);
  }
}

/** A write through `m` that succeeds within the deadline (retried while the cluster settles). */
const writeThrough = (m: LocalMember, key: string, value: string) =>
  waitFor(`a write of ${key} through ${m.name}`, () => kv(m).put(key, value), 15_000);

/**
 * Writes through `m` for `ms` (many election timeouts, so a member cut off from the leader has
 * time to campaign), each succeeding within the deadline; returns the last value written.
 */
async function keepWriting(m: LocalMember, key: string, ms: number): Promise<string> {
  const end = Date.now() + ms;
  let i = 0;
  while (Date.now() < end) await writeThrough(m, key, `w${++i}`);
  return `w${i}`;
}

test('an isolated leader is replaced by the majority and serves nothing linearizable until it heals', async () => {
  const old = await run.leader();
  const rest = others(old);
  await writeThrough(old, 'iso', 'before');
  run.links.split(
    [old.name],
    rest.map((m) => m.name),
  );

  const next = await agreedLeader(() => rest, 15_000);
  expect(next).not.toBe(old);
  await writeThrough(rest[0]!, 'iso', 'majority');
  // The old leader cannot confirm it still leads: a linearizable read must fail, not answer 'before'.
  await expect(kv(old).get('iso')).rejects.toThrow();
  await expect(kv(old).put('iso', 'minority')).rejects.toThrow();

  run.links.healAll();
  await run.leader(20_000);
  await everyMemberHas('iso', 'majority');
});

test('an isolated follower answers serializable reads from its own (stale) state, never linearizable ones', async () => {
  const leader = await run.leader();
  const follower = others(leader)[0]!;
  await writeThrough(leader, 'fol', 'v1');
  await everyMemberHas('fol', 'v1');
  run.links.split(
    [follower.name],
    others(follower).map((m) => m.name),
  );

  await writeThrough(leader, 'fol', 'v2');
  expect((await kv(follower).get('fol', { serializable: true })).kvs[0]?.value).toBe('v1');
  await expect(kv(follower).get('fol')).rejects.toThrow();

  run.links.healAll();
  await everyMemberHas('fol', 'v2');
});

test('a one-way cut from the leader to a follower does not stop the cluster from committing', async () => {
  const leader = await run.leader();
  const [deaf, third] = others(leader) as [LocalMember, LocalMember];
  run.links.cut(leader.name, deaf.name);
  // Whoever leads after the follower stops hearing the leader, writes commit through every member
  // that can reach a majority in both directions.
  const last = await keepWriting(third, 'oneway', 3000);
  run.links.healAll();
  await everyMemberHas('oneway', last);
});

test('a bridge (the leader and a follower cut from each other, both reaching the third) keeps committing', async () => {
  const leader = await run.leader();
  const [cut, bridge] = others(leader) as [LocalMember, LocalMember];
  run.links.split([leader.name], [cut.name]);
  const last = await keepWriting(bridge, 'bridge', 3000);
  run.links.healAll();
  await everyMemberHas('bridge', last);
});
