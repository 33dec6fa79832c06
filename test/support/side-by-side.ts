// A 3-member raftkv or etcd 3.4 cluster, its agreed leader and gRPC stubs on that leader: the
// tests that make the same calls on both systems and compare the answers start one of each.
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { TEST_MEMBER_ARGS, tempCluster, type TempCluster } from './cluster.js';
import { grpcStubs, type GrpcStubs } from './grpc-stubs.js';
import { agreedLeader } from './leader.js';

export interface System {
  t: TempCluster;
  leader: LocalMember;
  stubs: GrpcStubs;
}

export async function startSystem(name: string, etcd: boolean): Promise<System> {
  const t = await tempCluster(
    name,
    etcd
      ? { size: 3, command: ['etcd'], extraArgs: ['--heartbeat-interval=50', '--election-timeout=500'] }
      : { size: 3, extraArgs: TEST_MEMBER_ARGS },
  );
  const leader = await agreedLeader(() => t.cluster.members);
  return { t, leader, stubs: grpcStubs(leader) };
}

export async function stopSystems(...systems: Array<System | undefined>): Promise<void> {
  for (const s of systems) s?.stubs.close();
  await Promise.all(systems.map((s) => s?.t.dispose()));
}
