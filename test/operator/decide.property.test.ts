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

/** Whatever goes wrong in one run, with the seed to replay it. */
function run(seed: number): string | undefined {
  const rng = new Rng(seed);
  const w = new World(rng);
  w.desired = rng.pick(SIZES);
  const fail = (what: string) => `seed ${seed}: ${what} (replay: OPERATOR_SEED=${seed})`;
  const step = (faults: boolean): string | undefined => {
    const before = w.quorumHeld();
    const o = w.observe();
    const d = decide(o, policy);
    if (JSON.stringify(decide(o, policy)) !== JSON.stringify(d)) return fail('decide() is not deterministic');
    w.pending = d.pending;
    // An operator crash between recording the operation and doing the step.
    if (!(faults && rng.chance(0.05))) w.apply(d.step);
    if (w.violations.length > 0) return fail(w.violations[0]!);
    if (w.members.filter((m) => m.isLearner).length > 1) return fail('two learners');
    const alone = w.voters.length <= 1 && d.step.kind === 'deletePod';
    if (before && !w.quorumHeld() && !alone) return fail(`step ${JSON.stringify(d.step)} lost quorum`);
    w.tick(faults);
    return undefined;
  };

  for (let t = 0; t < 150; t++) {
    if (rng.chance(0.04)) w.desired = rng.pick(SIZES);
    if (rng.chance(0.02)) w.revision = `r${rng.int(1, 3)}`;
    const bad = step(true);
    if (bad) return bad;
  }
  w.repairAll();
  const bound = 40 + 25 * 9;
  for (let t = 0; t < bound; t++) {
    const bad = step(false);
    if (bad) return bad;
    const d = decide(w.observe(), policy);
    if (d.step.kind === 'idle') {
      const voters = w.voters.length;
      if (voters !== w.desired) return fail(`idle with ${voters} voters, ${w.desired} desired`);
      if ([...w.pods.values()].some((p) => p.revision !== w.revision)) return fail('idle with outdated pods');
      const available = d.assessment.conditions.find((c) => c.type === 'Available');
      if (available?.status !== 'True') return fail(`idle but not Available: ${available?.message}`);
      return undefined;
    }
  }
  const last = decide(w.observe(), policy);
  return fail(`not idle after ${bound} steps without faults; last: ${last.reason}`);
}

test(`${RUNS} seeded runs: quorum kept, one learner at most, no rejoin over old data, convergence`, () => {
  const only = process.env.OPERATOR_SEED;
  const seeds = only ? [Number(only)] : Array.from({ length: RUNS }, (_, i) => i + 1);
  const failures = seeds.map(run).filter((f) => f !== undefined);
  expect(failures.slice(0, 5)).toEqual([]);
});
