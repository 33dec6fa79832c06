// The deterministic cluster simulator, over many seeds: SIM_SEEDS of them (make test sets 2000),
// spread over clusters of 1, 3, 5 and 7 members. A failure names its seed and how to replay it.
import { Simulation, type SimResult } from './simulation.js';

const SIZES = [1, 3, 5, 7];
const seeds = Number(process.env.SIM_SEEDS ?? 400);
const firstSeed = Number(process.env.SIM_FIRST_SEED ?? 1);

const PROFILES = [
  ...SIZES.map((members) => ({ members, figure8: false, label: `a ${members}-member cluster` })),
  { members: 3, figure8: true, label: 'a 3-member cluster in the figure-8 profile' },
];

describe('deterministic cluster simulation', () => {
  for (const { members, figure8, label } of PROFILES) {
    const count = Math.ceil(seeds / SIZES.length);
    test(`${count} seeded runs of ${label} stay safe and live`, () => {
      const totals = {
        runs: 0,
        events: 0,
        committed: 0,
        reads: 0,
        elections: 0,
        confChanges: 0,
        unhealthyRefusals: 0,
        crashes: 0,
      };
      for (let seed = firstSeed; seed < firstSeed + count; seed++) {
        let r: SimResult;
        try {
          r = new Simulation({ seed, members, figure8 }).run();
        } catch (e) {
          const replay = `make sim-replay SEED=${seed} MEMBERS=${members}${figure8 ? ' FIGURE8=1' : ''}`;
          throw new Error(`${e instanceof Error ? e.message : String(e)}\n  replay with: ${replay}`);
        }
        totals.runs++;
        totals.events += r.events;
        totals.committed += r.committed;
        totals.reads += r.reads;
        totals.elections += r.elections;
        totals.confChanges += r.confChanges;
        totals.unhealthyRefusals += r.unhealthyRefusals;
        totals.crashes += r.crashes;
      }
      // The runs must have exercised the cluster, not idled through it.
      expect(totals.committed).toBeGreaterThan(totals.runs * 50);
      expect(totals.reads).toBeGreaterThan(totals.runs * (figure8 ? 5 : 10));
      expect(totals.elections).toBeGreaterThanOrEqual(totals.runs);
      if (members > 1) {
        expect(totals.confChanges).toBeGreaterThan(0);
        // Half the seeds run the strict check; with members down it must have refused removals.
        expect(totals.unhealthyRefusals).toBeGreaterThan(0);
        expect(totals.crashes).toBeGreaterThan(0);
      }
    });
  }
});
