// `make run`: a 3-member raftkv cluster on loopback, logs to the terminal, stopped with Ctrl-C.
import { resolve } from 'node:path';
import { LocalCluster } from './local-cluster.js';

const dataRoot = resolve(process.env.RAFTKV_DATA ?? 'data');
const cluster = new LocalCluster({
  size: 3,
  dataRoot,
  basePort: Number(process.env.RAFTKV_BASE_PORT ?? 2379),
  echo: process.env.RAFTKV_QUIET !== '1',
  ownProcessGroups: true,
});
await cluster.plan();
await cluster.startAll();
const endpoints = cluster.members.map((m) => m.clientURL).join(',');
const first = cluster.members[0]!.clientURL;
console.log(`
raftkv: 3 members on loopback, data under ${dataRoot}
  client endpoints: ${endpoints}
  peer URLs:        ${cluster.members.map((m) => m.peerURL).join(',')}

Try (keys and values are base64, as in etcd's JSON gateway):
  curl -s ${first}/v3/kv/put -d '{"key":"Zm9v","value":"YmFy"}'
  curl -s ${first}/v3/kv/range -d '{"key":"Zm9v"}'
  curl -s ${first}/v3/cluster/member/list -d '{}'
  curl -s ${first}/v3/maintenance/status -d '{}'
  curl -s ${first}/health ; curl -s ${first}/metrics | grep etcd_server_has_leader
  ETCDCTL_API=3 etcdctl --endpoints=${endpoints} put foo bar   (gRPC on the same ports)

Ctrl-C stops all members cleanly.
`);
let stopping = false;
// One at a time, so that a leader hands leadership to a member still running; the last one has
// none left and stops at once. Ctrl-C reaches only this process (the members have their own
// process groups), so they do not all stop together.
const stop = async () => {
  if (stopping) return;
  stopping = true;
  for (const m of cluster.members) await cluster.stop(m, 'SIGTERM');
  console.log('raftkv: all members stopped');
  process.exit(0);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop());
// Any other way out (an error) takes the members along.
process.on('exit', () => {
  for (const m of cluster.members) m.proc?.kill('SIGKILL');
});
