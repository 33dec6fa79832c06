// etcd's --force-new-cluster: when a cluster has lost a majority of its members for good, one
// survivor becomes the only member of its cluster and keeps its data. Conf entries that remove
// every other member are appended to its log at its term and taken as committed, so that it
// elects itself at once; others then join it as new members (member add). Pure: the WAL state in,
// the entries to append and the hard state to save out.
import { encodeConfChange } from '../raft/confchange.js';
import { RaftLog } from '../raft/log.js';
import type { Entry, HardState, NodeId } from '../raft/types.js';
import type { WalState } from '../storage/replay.js';

/**
 * What makes member `id` the only one. Unlike etcd, which first drops the entries past the commit
 * index it knew, every entry the member has is kept and committed: a write the old majority
 * acknowledged may be among them, and with the rest of that majority gone no other history can
 * be committed instead. A learner's log may be behind what was acknowledged, so it is refused.
 */
export function standaloneLog(state: WalState, id: NodeId): { append: Entry[]; hardState: HardState } {
  if (!state.snapshotMeta)
    throw new Error('--force-new-cluster needs the data of a member; this data dir has none');
  const log = new RaftLog(
    { meta: state.snapshotMeta, data: new Uint8Array() },
    state.entries,
    state.hardState.commit,
  );
  // The configuration at the end of the log: a change counts once it is appended, as in the core.
  const cs = log.confState();
  if (!cs.voters.includes(id)) {
    throw new Error(
      `--force-new-cluster: member ${id} is not a voter of its cluster (voters ${cs.voters.join(', ')}); ` +
        "only a voter's data holds every acknowledged write",
    );
  }
  const last = log.lastIndex();
  const { term } = state.hardState;
  const others = [...cs.voters, ...cs.learners].filter((m) => m !== id);
  const append = others.map<Entry>((nodeId, i) => ({
    term,
    index: last + 1 + i,
    type: 'conf',
    data: encodeConfChange({ type: 'remove', nodeId }),
  }));
  return { append, hardState: { ...state.hardState, commit: last + append.length } };
}
