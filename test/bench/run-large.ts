// `make bench-large`: a large data set on raftkv and etcd, one after the other; prints the table
// and writes it to bench/LARGE.md.
//   node dist/test/bench/run-large.js [--mib 1024] [--out bench/LARGE.md]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { largeDataset, largeTable } from './large.js';
import { argNumber, argText } from '../support/args.js';

const mib = argNumber('mib', 1024);
const out = argText('out', 'bench/LARGE.md');
const etcdVersion = execFileSync('etcd', ['--version']).toString().split('\n')[0];
const raftkv = await largeDataset('raftkv', mib * 1024 ** 2);
const etcd = await largeDataset('etcd', mib * 1024 ** 2);
const doc = `# A large data set: raftkv vs etcd

Measured by \`make bench-large\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores,
Node.js ${process.version}, ${etcdVersion}. Each system in turn: 3 processes on loopback
(heartbeat 100 ms, election timeout 1000 ms, snapshot every 100 entries; raftkv keeps 50 entries
behind a snapshot, etcd 3.4 a fixed 5000), filled through the v3 JSON API with ${mib} MiB of
512 KiB values under distinct keys. The leader is backed up with etcdctl 3.4's \`snapshot save\`
(timed until the file is written; the peak resident memory of the leader meanwhile). A follower
is then restarted (SIGTERM, then SIGKILL) and timed until it serves the last key from its own
store; then its volume is "lost" (SIGKILL, member remove, data directory wiped, member add,
start) and it is timed until it serves the last key again, with the peak resident memory
(VmHWM, reset before the backup and before the catch-up on the leader) of the leader and of the
new member.

${largeTable(raftkv, etcd)}
`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, doc);
console.log(doc);
