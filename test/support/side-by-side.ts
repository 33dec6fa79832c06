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

async function startSystem(name: string, etcd: boolean): Promise<System> {
  const t = await tempCluster(
    name,
    etcd
      ? { size: 3, command: ['etcd'], extraArgs: ['--heartbeat-interval=50', '--election-timeout=500'] }
      : { size: 3, extraArgs: TEST_MEMBER_ARGS },
  );
  const leader = await agreedLeader(() => t.cluster.members);
  return { t, leader, stubs: grpcStubs(leader) };
}

/**
 * A raftkv and an etcd for the calling test file: started before its tests (beforeAll), stopped
 * after them. The fields are set once they are up.
 */
export function bothSystems(name: string): { raftkv: System; etcd: System } {
  const both = {} as { raftkv: System; etcd: System };
  beforeAll(async () => {
    [both.raftkv, both.etcd] = await Promise.all([
      startSystem(name, false),
      startSystem(`${name}-etcd`, true),
    ]);
  });
  afterAll(async () => {
    const systems = [both.raftkv, both.etcd].filter((x) => x !== undefined);
    for (const x of systems) x.stubs.close();
    await Promise.all(systems.map((x) => x.t.dispose()));
  });
  return both;
}
