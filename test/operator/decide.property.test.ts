// The operator's decisions against a model of Kubernetes and the members, thousands of seeded
// runs: random sizes, spec changes mid-operation, member failures, pod deletions and operator
// crashes (the pending operation recorded but the step lost). Checked on every step: quorum is
// never taken away by the operator, never two learners, no member re-added over its old data;
// and once faults stop, the desired size and revision are reached and the cluster is idle.
import { decide } from '../../operator/reconcile/decide.js';
import type { Policy } from '../../operator/reconcile/model.js';
import { Rng } from '../sim/rng.js';
import { World } from './world.js';

const RUNS = Number(process.env.OPERATOR_SEEDS ?? 1500);
const policy: Policy = { replaceAfterMs: 20_000, catchUpEntries: 100, pollMs: 2000 };
const SIZES = [1, 3, 5, 7] as const;

type Fail = (what: string) => string;

/** One reconcile against the world: decide, record, (maybe crash), act, then a second passes. */
function stepper(w: World, rng: Rng, fail: Fail) {
  return (faults: boolean, forceRequest?: string): string | undefined => {
    const before = w.quorumHeld();
    const o = w.observe(undefined, forceRequest);
    const d = decide(o, policy);
    if (JSON.stringify(decide(o, policy)) !== JSON.stringify(d)) return fail('decide() is not deterministic');
    w.record(d);
    // An operator crash between recording the operation and doing the step.
    if (!(faults && rng.chance(0.05))) w.apply(d.step);
    if (w.violations.length > 0) return fail(w.violations[0]!);
    if (w.members.filter((m) => m.isLearner).length > 1) return fail('two learners');
    const alone = w.voters.length <= 1 && d.step.kind === 'deletePod';
    if (before && !w.quorumHeld() && !alone) return fail(`step ${JSON.stringify(d.step)} lost quorum`);
    w.tick(faults);
    return undefined;
  };
}

/** Steps without faults until decide() says idle, then checks what idle promises. */
function untilIdle(w: World, step: ReturnType<typeof stepper>, fail: Fail, forceRequest?: string) {
  const bound = 40 + 25 * 9;
  for (let t = 0; t < bound; t++) {
    const bad = step(false, forceRequest);
    if (bad) return bad;
    const d = decide(w.observe(undefined, forceRequest), policy);
    if (d.step.kind === 'idle') {
      const voters = w.voters.length;
      if (voters !== w.desired) return fail(`idle with ${voters} voters, ${w.desired} desired`);
      if ([...w.pods.values()].some((p) => p.revision !== w.revision)) return fail('idle with outdated pods');
      const available = d.assessment.conditions.find((c) => c.type === 'Available');
      if (available?.status !== 'True') return fail(`idle but not Available: ${available?.message}`);
      return undefined;
    }
  }
  const last = decide(w.observe(undefined, forceRequest), policy);
  return fail(`not idle after ${bound} steps without faults; last: ${last.reason}`);
}

/** Whatever goes wrong in one run, with the seed to replay it. */
function run(seed: number): string | undefined {
  const rng = new Rng(seed);
  const w = new World(rng);
  w.desired = rng.pick(SIZES);
  const fail = (what: string) => `seed ${seed}: ${what} (replay: OPERATOR_SEED=${seed})`;
  const step = stepper(w, rng, fail);
  for (let t = 0; t < 150; t++) {
    if (rng.chance(0.04)) w.desired = rng.pick(SIZES);
    if (rng.chance(0.02)) w.revision = `r${rng.int(1, 3)}`;
    const bad = step(true);
    if (bad) return bad;
  }
  w.repairAll();
  return untilIdle(w, step, fail);
}

/**
 * A majority's data lost for good: the operator changes nothing by itself; a force request naming
 * a survivor brings the cluster back to its size around that member's data, through operator
 * crashes. Half the runs first name a member whose data is gone (it never leads, nothing else
 * changes) and then change the request to a survivor.
 */
function lostForGood(seed: number): string | undefined {
  const rng = new Rng(seed);
  const w = new World(rng);
  w.desired = rng.pick([3, 5, 7] as const);
  const fail = (what: string) => `seed ${seed}: ${what} (replay: OPERATOR_FORCE_SEED=${seed})`;
  const step = stepper(w, rng, fail);
  const formed = untilIdle(w, step, fail);
  if (formed) return formed;
  const voters = w.voters.map((m) => m.ordinal);
  const need = Math.floor(voters.length / 2) + 1;
  const lost = rng.shuffle(voters).slice(0, rng.int(voters.length - need + 1, voters.length - 1));
  w.loseData(lost);
  const survivor = rng.pick(voters.filter((k) => !lost.includes(k)));
  const membership = () => JSON.stringify(w.members.map((m) => [m.ordinal, m.isLearner]));
  const before = membership();
  const requests = rng.chance(0.5) ? [`kv-${rng.pick(lost)}`, `kv-${survivor}`] : [`kv-${survivor}`];
  for (const [i, request] of [undefined, ...requests.slice(0, -1)].entries()) {
    for (let t = 0; t < 15; t++) {
      const bad = step(false, request);
      if (bad) return bad;
      if (membership() !== before)
        return fail(`membership changed while lost (request ${request ?? 'none'}, step ${i})`);
    }
  }
  const last = requests.at(-1)!;
  for (let t = 0; t < 10; t++) {
    const bad = step(true, last);
    if (bad) return bad;
  }
  w.repairAll();
  const done = untilIdle(w, step, fail, last);
  if (done) return done;
  if (!w.members.some((m) => m.ordinal === survivor))
    return fail(`survivor ${survivor} is no longer a member`);
  return undefined;
}

test(`${RUNS} seeded runs: quorum kept, one learner at most, no rejoin over old data, convergence`, () => {
  const only = process.env.OPERATOR_SEED;
  const seeds = only ? [Number(only)] : Array.from({ length: RUNS }, (_, i) => i + 1);
  const failures = seeds.map(run).filter((f) => f !== undefined);
  expect(failures.slice(0, 5)).toEqual([]);
});

const FORCE_RUNS = Number(process.env.OPERATOR_FORCE_SEEDS ?? 500);

test(`${FORCE_RUNS} seeded runs: a majority lost for good waits for a force request, then heals around the survivor`, () => {
  const only = process.env.OPERATOR_FORCE_SEED;
  const seeds = only ? [Number(only)] : Array.from({ length: FORCE_RUNS }, (_, i) => i + 1);
  const failures = seeds.map(lostForGood).filter((f) => f !== undefined);
  expect(failures.slice(0, 5)).toEqual([]);
});
