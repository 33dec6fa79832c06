// A fault soak of any length: node dist/test/fault/soak.js --seconds N --seed S [--members 3|5]
// [--clients C] [--keys K] [--weights kill=4,partition=2,...] [--snapshot-count N] [--verbose]
// Prints a summary table; exits non-zero when any anomaly was found or the checker could not decide.
import { DEFAULT_FAULT_WEIGHTS, faultRun, type FaultWeights } from './harness.js';
import { argNumber } from '../support/args.js';

/** --weights kill=4,partition=0,...: fault weights over the defaults (harness.ts). */
function weights(): Partial<FaultWeights> {
  const i = process.argv.indexOf('--weights');
  if (i < 0) return {};
  return Object.fromEntries(
    (process.argv[i + 1] ?? '').split(',').map((kv) => {
      const [k, v] = kv.split('=');
      if (!k || !Number.isFinite(Number(v))) throw new Error(`--weights: '${kv}' is not name=number`);
      return [k, Number(v)];
    }),
  );
}

const seconds = argNumber('seconds', 60);
const seed = argNumber('seed', Date.now() % 100000);
const verbose = process.argv.includes('--verbose');
const r = await faultRun({
  seconds,
  seed,
  members: argNumber('members', 3),
  clientsPerMember: argNumber('clients', 2),
  faultWeights: { ...DEFAULT_FAULT_WEIGHTS, ...weights() },
  keys: argNumber('keys', 4),
  checkDeadlineMs: argNumber('check-deadline', 60) * 1000,
  memberArgs: process.argv.includes('--snapshot-count')
    ? [`--snapshot-count=${argNumber('snapshot-count', 10000)}`]
    : [],
  log: (line) => {
    if (verbose) console.error(`[${new Date().toISOString()}] ${line}`);
  },
});
const anomalies =
  (r.check.result === 'illegal' ? 1 : 0) +
  r.serializable.violations.length +
  r.headerAnomalies.length +
  r.watch.problems.length +
  r.leases.early.length +
  r.leases.kept.length +
  r.lost.length;
const f = r.faults;
const rows: Array<[string, string]> = [
  ['seed', String(r.seed)],
  ['load + faults', `${r.seconds} s`],
  ['operations', `${r.ops.total} (ok ${r.ops.ok}, failed ${r.ops.fail}, unknown ${r.ops.unknown})`],
  [
    '  by kind',
    Object.entries(r.ops.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', '),
  ],
  [
    'faults injected',
    `${f.kill + f.pause + f.transfer + f.replace + f.partition + f.slow + f.membership + f.slowDisk + f.unsynced} (SIGKILL ${f.kill} [leader ${f.killLeader}], ` +
      `SIGSTOP ${f.pause} [leader ${f.pauseLeader}], transfer ${f.transfer} [failed ${f.transferFailed}], ` +
      `replace ${f.replace}, partition ${f.partition} [leader cut ${f.partitionLeader}], slow links ${f.slow}, ` +
      `add+promote+remove ${f.membership} [removed while leading ${f.membershipLeader}], ` +
      `slow disk ${f.slowDisk}, power cut ${f.unsynced} [${f.unsyncedBytesDropped} unsynced WAL bytes dropped])`,
  ],
  ['converged', `revision ${r.finalRevision} after ${r.convergeMs} ms`],
  ['acknowledged writes verified', `${r.writesVerified} (lost ${r.lost.length})`],
  ['linearizable', `${r.check.result} (${r.check.perKey.size} keys)`],
  ['checker time', `${Math.round(r.checkMs)} ms`],
  ['serializable anomalies', String(r.serializable.violations.length)],
  ['reads newer than their header', String(r.headerAnomalies.length)],
  [
    'watchers',
    `${r.watch.watchers}, resumed ${r.watch.resumes} times, ${r.watch.eventsChecked} events checked, ` +
      `${r.watch.problems.length} problems`,
  ],
  [
    'leases',
    `${r.leases.leases} granted, ${r.leases.keepalives} keepalives, ${r.leases.reads} reads; ` +
      `expired early ${r.leases.early.length}, kept past TTL ${r.leases.kept.length}`,
  ],
  ['anomalies (must be 0)', String(anomalies)],
];
const width = Math.max(...rows.map(([k]) => k.length));
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
for (const line of r.counterexample ?? []) console.log(line);
for (const line of r.serializable.described) console.log(line);
for (const line of r.headerAnomalies.slice(0, 20)) console.log(line);
for (const line of r.lost.slice(0, 20)) console.log(line);
for (const line of r.watch.problems.slice(0, 20)) console.log(line);
for (const line of [...r.leases.early, ...r.leases.kept].slice(0, 20)) console.log(line);
const dump = process.argv.indexOf('--dump');
if (dump >= 0) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(process.argv[dump + 1]!, JSON.stringify({ history: r.history, logs: r.memberLogs }, null, 1));
}
process.exitCode = anomalies > 0 || r.check.result !== 'ok' ? 1 : 0;
