// A simulated 3-member cluster in one process, printing elections, faults and commits as they
// happen: what `make run` showed before the real member existed, kept as `make sim-demo`.
import { Simulation } from './simulation.js';

const seed = Number(process.argv[2] ?? Date.now() % 100000);
console.log(`simulated 3-member cluster, seed ${seed}`);
const result = new Simulation({ seed, members: 3, trace: (line) => console.log(line) }).run();
console.log(JSON.stringify(result));
