import { decodeConfChange, encodeConfChange } from '../raft/confchange.js';
import type { Entry } from '../raft/types.js';
import type { WalState } from '../storage/replay.js';
import { standaloneLog } from './force-new-cluster.js';

const put = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'normal',
  data: new Uint8Array([1]),
});
const conf = (
  index: number,
  term: number,
  type: 'addLearner' | 'promote' | 'remove',
  nodeId: string,
): Entry => ({
  index,
  term,
  type: 'conf',
  data: encodeConfChange({ type, nodeId }),
});
const state = (entries: Entry[], commit: number): WalState => ({
  hardState: { term: 4, vote: 'a', commit },
  snapshotMeta: { index: 10, term: 2, confState: { voters: ['a', 'b', 'c'], learners: [] } },
  entries,
});

test('every other member, voter or learner as of the last entry, is removed after the whole log, and all of it commits', () => {
  // d joins as a learner and b leaves, both past the commit index: the log's last word counts.
  const s = state(
    [put(11, 3), conf(12, 3, 'addLearner', 'd'), put(13, 4), conf(14, 4, 'remove', 'b'), put(15, 4)],
    12,
  );
  const { append, hardState } = standaloneLog(s, 'a');
  expect(append.map((e) => [e.index, e.term, decodeConfChange(e.data)])).toEqual([
    [16, 4, { type: 'remove', nodeId: 'c' }],
    [17, 4, { type: 'remove', nodeId: 'd' }],
  ]);
  // The entries past the old commit index (13 to 15) are kept and commit with the removals.
  expect(hardState).toEqual({ term: 4, vote: 'a', commit: 17 });
});

test('with no entries after the snapshot the removals follow the snapshot', () => {
  const { append, hardState } = standaloneLog(state([], 10), 'b');
  expect(append.map((e) => e.index)).toEqual([11, 12]);
  expect(append.map((e) => decodeConfChange(e.data).nodeId)).toEqual(['a', 'c']);
  expect(hardState.commit).toBe(12);
});

test('a member alone already appends nothing and commits what it has', () => {
  const s = state([conf(11, 3, 'remove', 'b'), conf(12, 3, 'remove', 'c'), put(13, 3)], 12);
  expect(standaloneLog(s, 'a')).toEqual({ append: [], hardState: { term: 4, vote: 'a', commit: 13 } });
});

test('a learner or a removed member is refused: its log may lack acknowledged writes', () => {
  const s = state([conf(11, 3, 'addLearner', 'd')], 11);
  expect(() => standaloneLog(s, 'd')).toThrow('member d is not a voter of its cluster (voters a, b, c)');
  expect(() => standaloneLog(state([conf(11, 3, 'remove', 'c')], 11), 'c')).toThrow('not a voter');
});

test('a data dir without a cluster in it is refused', () => {
  expect(() => standaloneLog({ hardState: { term: 0, vote: '', commit: 0 }, entries: [] }, 'a')).toThrow(
    'needs the data of a member',
  );
});
