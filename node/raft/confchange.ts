// Membership changes travel through the log as 'conf' entries with a small JSON body.
import type { ConfChange, ConfState, NodeId, Snapshot } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(cc));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const cc = JSON.parse(decoder.decode(data)) as ConfChange;
  if (!['addLearner', 'promote', 'remove'].includes(cc.type) || typeof cc.nodeId !== 'string') {
    throw new Error(`malformed conf change entry: ${decoder.decode(data)}`);
  }
  return cc;
}

/** The configuration after `cc`; changes that do not apply (e.g. promoting a non-learner) are no-ops. */
export function applyToConfState(cs: ConfState, cc: ConfChange): ConfState {
  const voters = cs.voters.filter((id) => id !== cc.nodeId);
  const learners = cs.learners.filter((id) => id !== cc.nodeId);
  const wasVoter = cs.voters.includes(cc.nodeId);
  const wasLearner = cs.learners.includes(cc.nodeId);
  switch (cc.type) {
    case 'addLearner':
      if (wasVoter) return cs;
      return { voters, learners: [...learners, cc.nodeId] };
    case 'promote':
      if (!wasLearner) return cs;
      return { voters: [...voters, cc.nodeId], learners };
    case 'remove':
      return { voters, learners };
  }
}

/**
 * The state every founding member of a new cluster starts from: a snapshot at index 1, term 1,
 * holding the initial voters and an empty application state. Keeping the bootstrap configuration
 * in a snapshot (not in log entries) means a member added later learns it the same way it learns
 * everything else: from the leader's snapshot.
 */
export function bootstrapSnapshot(voters: readonly NodeId[]): Snapshot {
  return {
    meta: { index: 1, term: 1, confState: { voters: [...voters], learners: [] } },
    data: new Uint8Array(),
  };
}
