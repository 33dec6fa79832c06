// `make soak`: seeded simulations for as long as it is given, then a summary table.
//   node dist/test/sim/soak.js --seconds 600 [--first-seed 100000]
import { Simulation } from './simulation.js';
import { argNumber } from '../support/args.js';

const seconds = argNumber('seconds', 60);
let seed = argNumber('first-seed', 1_000_000);
const sizes = [1, 3, 5, 7];
const rows = new Map(sizes.map((m) => [m, { runs: 0, events: 0, committed: 0, reads: 0, failures: 0 }]));
const started = Date.now();
while (Date.now() - started < seconds * 1000) {
  for (const members of sizes) {
    const row = rows.get(members)!;
    try {
      const r = new Simulation({ seed, members }).run();
      row.events += r.events;
      row.committed += r.committed;
      row.reads += r.reads;
    } catch (e) {
      row.failures++;
      console.error(`FAIL ${e instanceof Error ? e.message : String(e)}`);
      console.error(`  replay with: make sim-replay SEED=${seed} MEMBERS=${members}`);
    }
    row.runs++;
  }
  seed++;
}
const elapsed = (Date.now() - started) / 1000;
console.log('| members | runs | messages delivered | commands committed | reads checked | failures |');
console.log('|---|---|---|---|---|---|');
let events = 0;
let failures = 0;
for (const [m, r] of rows) {
  console.log(`| ${m} | ${r.runs} | ${r.events} | ${r.committed} | ${r.reads} | ${r.failures} |`);
  events += r.events;
  failures += r.failures;
}
console.log(
  `\n${elapsed.toFixed(0)} s, ${Math.round(events / elapsed)} messages/s delivered by the simulator`,
);
process.exitCode = failures > 0 ? 1 : 0;
