// `make bench`: raftkv and etcd side by side; prints the table and writes it to bench/RESULTS.md.
//   node dist/test/bench/run-bench.js [--seconds 10] [--kills 15] [--out bench/RESULTS.md]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { benchBoth, resultsTable } from './bench.js';
import { argNumber, argText } from '../support/args.js';

const seconds = argNumber('seconds', 10);
// The election timeout is randomized over [1, 2) s, so one kill is one draw from a wide spread:
// with 7 kills the median moved between 0.75x and 1.26x etcd's from run to run.
const kills = argNumber('kills', 15);
const out = argText('out', 'bench/RESULTS.md');
const etcdVersion = execFileSync('etcd', ['--version']).toString().split('\n')[0];
const loadBefore = loadavg()[0]!.toFixed(1);
const { raftkv, etcd } = await benchBoth(seconds, { kills });
const loadAfter = loadavg()[0]!.toFixed(1);
const table = resultsTable(raftkv, etcd);
const doc = `# raftkv vs etcd

Measured by \`make bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}),
Node.js ${process.version}, ${etcdVersion}. Both clusters are 3 processes on loopback started
by the same process tree with the same flags (heartbeat 100 ms, election timeout 1000 ms), up
at the same time and taking turns workload by workload, driven by the same closed-loop load
generators (\`test/bench/load.ts\`: HTTP/JSON through the v3 JSON API, keep-alive;
\`test/bench/grpc-load.ts\`: etcd's gRPC KV service with @grpc/grpc-js, one channel per member;
workers spread over the 3 members; the 1-client puts go to the member that leads, then to one
that follows, looked up each round),
256-byte values. The first row is the first ${seconds / 5} s of each cluster: gRPC puts from 64 clients
the moment it has a leader, from a load generator in a process of its own, as new as the cluster.
Then a warm-up of ${seconds / 5} s of HTTP puts and ${seconds / 5} s of gRPC puts from 64 clients on each, then
${seconds / 5} s of 1-client puts via the leader and ${seconds / 5} s via a follower
(a member's JavaScript is compiled as it runs, each API's code and each shape of load's path
through it when it is first used; the second row is the warm-up's 1-client puts via the leader,
the first seconds of that path after the 64-client loads), and
${seconds} s per workload in 3 rounds that alternate between the systems (ops/s and disk
writes are the system's median round, p50 and p99 are over the requests of all 3 rounds; failover is the median of ${kills} leader kills each, the systems taking turns, all listed below the table). Memory is each member's
RSS and PSS (pages shared between processes, such as the executable that the 3 members of a
system share, split evenly among them) after all loads, averaged over the 3. Disk writes are the
bytes the 3 members sent to the disk during the round (\`write_bytes\` in /proc/<pid>/io: WAL and
backend pages, each page counted every time it is written) per acknowledged put. The TLS rows come
from a second pair of clusters, started after the first is stopped, with mutual TLS on the client
and peer ports (\`--cert-file\`, \`--client-cert-auth\` and their \`--peer-\` twins, one throwaway CA), the
same warm-up and the same 64-client puts over HTTPS and over gRPC with TLS. Machine load average (1 min) before and after:
${loadBefore} and ${loadAfter}; other work on the machine weighs on both clusters alike but makes
the figures noisy.

${table}
`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, doc);
console.log(doc);
