// Replays one simulation with its event trace: node dist/test/sim/replay.js --seed N --members M
import { Simulation } from './simulation.js';
import { argNumber } from '../support/args.js';

const seed = argNumber('seed', 1);
const members = argNumber('members', 3);
try {
  const figure8 = process.argv.includes('--figure8');
  const result = new Simulation({ seed, members, figure8, trace: (line) => console.log(line) }).run();
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
}
