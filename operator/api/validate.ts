// The operator's own check of a spec, with the same rules the CRD gives the API server, so an
// object that got past it (an older CRD, validation off) still gets a clear condition instead of
// an action.
import { Value } from '@sinclair/typebox/value';
import { ReplicasRule, SpecSchema, type KVCluster, type KVClusterSpec } from './kvcluster.js';

/** The spec with every default filled in, as the API server stores it. */
export function withDefaults(kvc: KVCluster): KVCluster {
  const spec = Value.Default(SpecSchema, structuredClone(kvc.spec ?? {})) as KVClusterSpec;
  return { ...kvc, spec };
}

/** Problems with a spec, each a sentence naming the field; empty when it is valid. */
export function validateSpec(spec: unknown): string[] {
  const filled = Value.Default(SpecSchema, structuredClone(spec ?? {}));
  const problems = [...Value.Errors(SpecSchema, filled)].map((e) => `${e.path || 'spec'}: ${e.message}`);
  if (problems.length > 0) return problems;
  const s = filled as KVClusterSpec;
  if (s.replicas % 2 !== 1) problems.push(`/replicas: ${ReplicasRule.message} (got ${s.replicas})`);
  const auto = s.raft.autoCompaction;
  if (auto?.mode === 'revision' && !/^[0-9]+$/.test(auto.retention)) {
    problems.push(
      `/raft/autoCompaction: in revision mode the retention is a number of revisions (got ${auto.retention})`,
    );
  }
  if (s.raft.electionTimeoutMs < 5 * s.raft.heartbeatIntervalMs) {
    problems.push(
      `/raft: electionTimeoutMs (${s.raft.electionTimeoutMs}) must be at least 5 × heartbeatIntervalMs (${s.raft.heartbeatIntervalMs})`,
    );
  }
  return problems;
}
