// One test per rule of the Raft paper (§ numbers from the extended version) and of the thesis's
// extensions that the core implements.
import { emptyMessage } from './raft.js';
import { RawNode } from './rawnode.js';
import { entry, initialState, isolate, seededRand, TestCluster } from './test-cluster.js';
import { RaftRangeError, type Message } from './types.js';

const ids3 = ['a', 'b', 'c'];
const ids5 = ['a', 'b', 'c', 'd', 'e'];

describe('leader election (§5.2)', () => {
  test('a follower that hears from no leader for its randomized election timeout campaigns', () => {
    const timeouts = new Set<number>();
    for (let seed = 1; seed <= 50; seed++) {
      const rn = new RawNode(
        { id: 'a', electionTick: 10, heartbeatTick: 1, rand: seededRand(seed), preVote: false },
        initialState(ids3),
      );
      let ticks = 0;
      while (rn.raft.role === 'follower') {
        rn.tick();
        ticks++;
      }
      expect(rn.raft.role).toBe('candidate');
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      timeouts.add(ticks);
    }
    expect(timeouts.size).toBeGreaterThan(3); // randomized, not fixed
  });

  test('a candidate that gets votes from a majority becomes leader, and only one leader per term', () => {
    const c = new TestCluster(ids5);
    c.elect('a');
    expect(c.leaders()).toEqual(['a']);
    expect(c.node('b').raft.lead).toBe('a');
  });

  test('a candidate cut off from the majority does not become leader', () => {
    const c = new TestCluster(ids5, { preVote: false });
    c.drop = (m) => m.from === 'a' && !['b'].includes(m.to);
    c.elect('a');
    expect(c.leaders()).toEqual([]);
  });

  test('each member votes for at most one candidate per term', () => {
    const c = new TestCluster(ids3, { preVote: false });
    const votes: Message[] = [];
    c.drop = (m) => {
      if (m.type === 'voteResp') votes.push(m);
      return false;
    };
    c.node('a').campaign();
    c.node('b').campaign();
    c.stabilize();
    // a and b both asked c in term 2: c granted exactly one of them.
    const cGranted = votes.filter((m) => m.from === 'c' && m.term === 2 && !m.reject);
    expect(cGranted.length).toBe(1);
    expect(c.leaders().length).toBeLessThanOrEqual(1);
  });

  test('a member that sees a higher term adopts it and steps down (§5.1)', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    const a = c.node('a');
    a.step({ ...heartbeatFrom('b', 'a', 9) });
    expect(a.raft.role).toBe('follower');
    expect(a.raft.term).toBe(9);
  });

  test('a vote is denied to a candidate whose log is less up to date (§5.4.1)', () => {
    const longer = initialState(ids3, [entry(2, 2, 'x')], 2);
    const c = new TestCluster(ids3, { preVote: false }, { b: longer, c: longer });
    c.elect('a'); // a's log ends at 1/1, b and c at 2/2
    expect(c.leaders()).not.toContain('a');
  });
});

describe('log replication (§5.3)', () => {
  test('an entry is committed once a majority stores it, and every member applies it', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    c.drop = isolate('c');
    c.propose('a', 'one');
    c.stabilize();
    expect(c.appliedTexts('a')).toEqual(['one']);
    expect(c.appliedTexts('b')).toEqual(['one']);
    expect(c.appliedTexts('c')).toEqual([]);
    c.drop = () => false;
    c.tick(['a']);
    c.stabilize();
    expect(c.appliedTexts('c')).toEqual(['one']);
  });

  test('deferred commit notices: a commit rides on the next append or heartbeat, and a forwarder is told at once', () => {
    const c = new TestCluster(ids3, { deferCommitNotice: true });
    c.elect('a');
    const a = c.node('a');
    c.propose('a', 'one');
    c.stabilize();
    expect(c.appliedTexts('a')).toEqual(['one']);
    expect(c.appliedTexts('b')).toEqual([]); // stored, but not yet told it is committed
    expect(a.commitNoticeOwed()).toBe(true);
    c.propose('a', 'two');
    c.stabilize();
    expect(c.appliedTexts('b')).toEqual(['one']); // the append of 'two' carried it
    a.flushCommitNotices();
    c.stabilize();
    expect(c.appliedTexts('b')).toEqual(['one', 'two']);
    expect(c.appliedTexts('c')).toEqual(['one', 'two']);
    expect(a.commitNoticeOwed()).toBe(false);
    // b answers the client of its forwarded proposal, so it hears of the commit at once; c does not.
    c.propose('b', 'three');
    c.stabilize();
    expect(c.appliedTexts('b')).toEqual(['one', 'two', 'three']);
    expect(c.appliedTexts('c')).toEqual(['one', 'two']);
    c.tick(['a']);
    c.stabilize();
    expect(c.appliedTexts('c')).toEqual(['one', 'two', 'three']);
    expect(a.commitNoticeOwed()).toBe(false);
  });

  test('deferred commit notices: a follower answered a read index is told that index is committed', () => {
    const c = new TestCluster(ids3, { deferCommitNotice: true });
    c.elect('a');
    c.propose('a', 'one');
    c.stabilize();
    // 'two' commits through c while b's acknowledgement is held back, so the heartbeat of b's
    // read round can tell b only the commit up to what a knows b has ('one'); b's answer to it
    // shows b behind, and the append that follows carries the commit.
    c.propose('a', 'two');
    const held: Message[] = [];
    for (let round = 0; round < 10; round++) {
      c.flushReadies();
      for (const m of c.inbox.splice(0)) {
        if (m.from === 'b' && m.type === 'appResp') held.push(m);
        else c.node(m.to).step(m);
      }
    }
    expect(c.appliedTexts('a')).toEqual(['one', 'two']);
    c.node('b').readIndex('rb');
    c.stabilize();
    const [rs] = c.reads.get('b')!;
    expect(rs!.index).toBe(c.node('a').raft.log.committed);
    expect(c.node('b').raft.log.committed).toBeGreaterThanOrEqual(rs!.index);
    expect(held.length).toBeGreaterThan(0);
  });

  test('without deferral every follower is told of a commit at once', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    c.propose('a', 'one');
    c.stabilize();
    expect(c.appliedTexts('b')).toEqual(['one']);
    expect(c.appliedTexts('c')).toEqual(['one']);
    expect(c.node('a').commitNoticeOwed()).toBe(false);
  });

  test('an entry stored only on a minority is not committed', () => {
    const c = new TestCluster(ids5);
    c.elect('a');
    c.drop = (m) => m.from === 'a' && m.to !== 'b';
    c.propose('a', 'x');
    c.stabilize();
    expect(c.appliedTexts('a')).toEqual([]);
  });

  test('a follower rejects an append whose previous entry does not match, then the leader repairs its log', () => {
    // b holds entries of term 2 that the leader (term 3, log of term 3 after 1) never had.
    const states = {
      a: initialState(ids3, [entry(2, 3, 'L2'), entry(3, 3, 'L3')], 3),
      b: initialState(ids3, [entry(2, 2, 'stale2'), entry(3, 2, 'stale3'), entry(4, 2, 'stale4')], 2),
      c: initialState(ids3, [entry(2, 3, 'L2')], 3),
    };
    const c = new TestCluster(ids3, { preVote: false }, states);
    const rejects: Message[] = [];
    c.drop = (m) => {
      if (m.type === 'appResp' && m.reject) rejects.push(m);
      return false;
    };
    c.elect('a');
    c.propose('a', 'L5');
    c.stabilize();
    expect(rejects.some((m) => m.from === 'b')).toBe(true);
    const b = c.node('b').raft.log;
    expect([2, 3, 4, 5].map((i) => b.term(i))).toEqual([3, 3, 4, 4]);
    expect(c.appliedTexts('b')).toEqual(['L2', 'L3', 'L5']);
  });

  test('fast backtracking skips a whole conflicting term in one round trip', () => {
    const stale = Array.from({ length: 50 }, (_, i) => entry(i + 2, 2, `s${i}`));
    const states = {
      a: initialState(ids3, [entry(2, 3, 'L')], 3),
      b: initialState(ids3, stale, 2),
      c: initialState(ids3, [entry(2, 3, 'L')], 3),
    };
    const c = new TestCluster(ids3, { preVote: false }, states);
    let rejectsFromB = 0;
    c.drop = (m) => {
      if (m.type === 'appResp' && m.reject && m.from === 'b') rejectsFromB++;
      return false;
    };
    c.elect('a');
    c.stabilize();
    expect(rejectsFromB).toBeLessThanOrEqual(2); // not one per stale entry (50)
    expect(c.node('b').raft.log.lastIndex()).toBe(3);
  });

  test('figure 8: a leader never commits an entry of an earlier term by counting replicas (§5.4.2)', () => {
    // a led term 2 and stored entry 2 on a and b only; it is leader again in term 4.
    const states = {
      a: initialState(ids5, [entry(2, 2, 'from-term-2')], 3),
      b: initialState(ids5, [entry(2, 2, 'from-term-2')], 3),
    };
    const c = new TestCluster(ids5, { preVote: false }, states);
    c.drop = (m) => m.type === 'app'; // the election completes, replication is ours to script
    c.elect('a');
    expect(c.leaders()).toEqual(['a']);
    const a = c.node('a').raft;
    // Entry 2 (term 2) reaches c too: three of five members hold it, but entry 3 (term 4, the
    // new leader's no-op) is only on a. Acknowledgements that stop at index 2:
    const ack = (from: string): Message => ({
      ...heartbeatFrom(from, 'a', a.term),
      type: 'appResp',
      index: 2,
    });
    c.node('a').step(ack('b'));
    c.node('a').step(ack('c'));
    c.flushReadies();
    expect(a.log.committed).toBe(1);
    // Once a majority holds the term-4 entry, both are committed together.
    const ack3 = (from: string): Message => ({ ...ack(from), index: 3 });
    c.node('a').step(ack3('b'));
    c.node('a').step(ack3('c'));
    c.flushReadies();
    expect(a.log.committed).toBe(3);
  });

  test('pipelined appends stop at the in-flight window and resume as acknowledgements arrive', () => {
    const c = new TestCluster(ids3, { maxInflightMsgs: 2, maxSizePerMsg: 1 });
    c.elect('a');
    c.drop = (m) => m.type === 'appResp';
    for (let i = 0; i < 10; i++) c.propose('a', `p${i}`);
    c.flushReadies();
    const toB = c.inbox.filter((m) => m.type === 'app' && m.to === 'b' && m.entries.length > 0);
    expect(toB.length).toBe(2); // one entry per message, two messages in flight
    c.drop = () => false;
    c.stabilize();
    expect(c.appliedTexts('b')).toHaveLength(10);
  });

  test('proposals made while one batch is being written go out together in the next', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    for (let i = 0; i < 20; i++) c.propose('a', `p${i}`);
    c.flushReadies();
    const toB = c.inbox.filter((m) => m.type === 'app' && m.to === 'b' && m.entries.length > 0);
    expect(toB.length).toBe(1);
    expect(toB[0]!.entries).toHaveLength(20);
  });
});

describe('pre-vote and check-quorum (thesis §9.6)', () => {
  test('a member rejoining after a partition does not disrupt a healthy leader', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    c.drop = isolate('c');
    for (let i = 0; i < 60; i++) {
      c.tick();
      c.stabilize();
    }
    expect(c.node('c').raft.term).toBe(c.node('a').raft.term); // pre-vote never raised it
    c.drop = () => false;
    for (let i = 0; i < 30; i++) {
      c.tick();
      c.stabilize();
    }
    expect(c.leaders()).toEqual(['a']);
  });

  test('a leader that cannot hear from a quorum for an election timeout steps down', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    c.drop = isolate('a');
    for (let i = 0; i < 25; i++) {
      c.tick(['a']);
      c.stabilize();
    }
    expect(c.node('a').raft.role).toBe('follower');
  });
});

describe('linearizable reads (ReadIndex, thesis §6.4)', () => {
  test('one heartbeat round answers every read that was waiting, at the commit index', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    c.propose('a', 'w');
    c.stabilize();
    let heartbeats = 0;
    c.drop = (m) => {
      if (m.type === 'heartbeat') heartbeats++;
      return false;
    };
    for (let i = 0; i < 5; i++) c.node('a').readIndex(`r${i}`);
    c.stabilize();
    expect(heartbeats).toBe(2); // one round, to b and c
    expect(c.reads.get('a')!.map((r) => r.context)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(c.reads.get('a')!.every((r) => r.index === c.node('a').raft.log.committed)).toBe(true);
  });

  test('a read is not answered without a quorum confirming the leadership', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    c.drop = (m) => m.type === 'heartbeatResp';
    c.node('a').readIndex('r');
    c.stabilize();
    expect(c.reads.get('a')).toEqual([]);
  });

  test('a new leader answers reads only after committing an entry of its term', () => {
    const c = new TestCluster(ids3);
    c.drop = (m) => m.type === 'appResp';
    c.elect('a');
    c.node('a').readIndex('early');
    c.stabilize();
    expect(c.reads.get('a')).toEqual([]);
    c.drop = () => false;
    c.tick(['a']);
    c.stabilize();
    expect(c.reads.get('a')!.map((r) => r.context)).toEqual(['early']);
  });

  test('a follower forwards reads and proposals to the leader', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    c.propose('b', 'via-b');
    c.node('b').readIndex('rb');
    c.stabilize();
    expect(c.appliedTexts('a')).toEqual(['via-b']);
    const rs = c.reads.get('b')!;
    expect(rs.map((r) => r.context)).toEqual(['rb']);
    expect(rs[0]!.index).toBeGreaterThanOrEqual(c.node('a').raft.log.committed - 1);
  });
});

describe('snapshots and log compaction (§7)', () => {
  test('a follower that fell behind the compacted log is caught up by the snapshot', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    c.drop = isolate('c');
    for (let i = 0; i < 20; i++) c.propose('a', `p${i}`);
    c.stabilize();
    const a = c.node('a');
    a.compact(a.raft.log.committed, new TextEncoder().encode('state'), 0);
    let snaps = 0;
    c.drop = (m) => {
      if (m.type === 'snap') snaps++;
      return false;
    };
    c.tick(['a']);
    c.stabilize();
    a.reportSnapshot('c', false);
    c.tick(['a']);
    c.stabilize();
    expect(snaps).toBe(1);
    const follower = c.node('c').raft;
    expect(follower.snapshot.meta.index).toBe(a.raft.snapshot.meta.index);
    expect(new TextDecoder().decode(follower.snapshot.data)).toBe('state');
    c.propose('a', 'after');
    c.stabilize();
    expect(c.appliedTexts('c')).toEqual(['after']);
  });
});

describe('membership changes (thesis §4)', () => {
  test('a learner receives the log but does not count toward the quorum', () => {
    const c = new TestCluster(['a']);
    c.elect('a');
    expect(c.node('a').proposeConfChange({ type: 'addLearner', nodeId: 'l' }).accepted).toBe(true);
    c.add('l', {
      ...initialState([]),
      snapshot: emptySnapshot(),
      hardState: { term: 0, vote: '', commit: 0 },
    });
    c.stabilize();
    c.tick(['a']);
    c.stabilize();
    expect(c.node('a').raft.confState).toEqual({ voters: ['a'], learners: ['l'] });
    c.drop = isolate('l');
    c.propose('a', 'solo');
    c.stabilize();
    expect(c.appliedTexts('a')).toEqual(['solo']); // committed without the learner
    c.drop = () => false;
    c.tick(['a']);
    c.stabilize();
    expect(c.appliedTexts('l')).toEqual(['solo']);
    expect(c.node('l').raft.role).toBe('follower');
  });

  test('a learner is promoted only once caught up, and only one change is in flight at a time', () => {
    const c = new TestCluster(ids3, { learnerCatchUpLag: 0 });
    c.elect('a');
    const a = c.node('a');
    expect(a.proposeConfChange({ type: 'addLearner', nodeId: 'd' }).accepted).toBe(true);
    const second = a.proposeConfChange({ type: 'addLearner', nodeId: 'e' });
    expect(second).toEqual({
      accepted: false,
      refusal: 'confChangePending',
      reason: 'a membership change is already in progress',
    });
    c.stabilize();
    const early = a.proposeConfChange({ type: 'promote', nodeId: 'd' });
    expect(early.accepted).toBe(false); // d does not exist as a process yet: nothing replicated
    c.add('d', {
      ...initialState([]),
      snapshot: emptySnapshot(),
      hardState: { term: 0, vote: '', commit: 0 },
    });
    for (let i = 0; i < 3; i++) {
      c.tick(['a']);
      c.stabilize();
      a.reportSnapshot('d', false);
    }
    c.tick(['a']);
    c.stabilize();
    expect(a.proposeConfChange({ type: 'promote', nodeId: 'd' }).accepted).toBe(true);
    c.stabilize();
    expect(a.raft.confState.voters.sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  test('strict reconfiguration check: a voter goes only if the voters left that were heard from lately are a quorum', () => {
    const removable = (strictReconfigCheck: boolean) => {
      const c = new TestCluster(ids3, { strictReconfigCheck });
      c.elect('a');
      const a = c.node('a');
      const healthy = a.raft.confState.voters.length;
      // c goes silent for an election timeout (10 ticks): it no longer counts as up.
      c.drop = isolate('c');
      c.tick(['a'], 10);
      c.stabilize();
      expect(a.raft.role).toBe('leader'); // b still answers: check-quorum keeps a leading
      return {
        healthy,
        b: a.proposeConfChange({ type: 'remove', nodeId: 'b' }),
        c: () => a.proposeConfChange({ type: 'remove', nodeId: 'c' }),
      };
    };
    // Removing b would leave {a, c} with only a up: no quorum. Removing c, which is down, is fine.
    const strict = removable(true);
    expect(strict.healthy).toBe(3);
    expect(strict.b).toMatchObject({ accepted: false, refusal: 'unhealthy' });
    expect(strict.c().accepted).toBe(true);
    // Without the check the core accepts the removal that loses the quorum.
    expect(removable(false).b.accepted).toBe(true);
  });

  test('strict reconfiguration check: a member the transport lost counts as down at once, until heard again', () => {
    const c = new TestCluster(ids3, { strictReconfigCheck: true });
    c.elect('a');
    const a = c.node('a');
    a.reportUnreachable('c');
    expect(a.proposeConfChange({ type: 'remove', nodeId: 'b' })).toMatchObject({ refusal: 'unhealthy' });
    c.tick(['a']); // a heartbeat, and c answers it
    c.stabilize();
    expect(a.proposeConfChange({ type: 'remove', nodeId: 'b' }).accepted).toBe(true);
  });

  test('strict reconfiguration check: with every voter answering, any one may be removed, the leader too', () => {
    for (const id of ids3) {
      const c = new TestCluster(ids3, { strictReconfigCheck: true });
      c.elect('a');
      c.tick(['a'], 9); // heartbeats keep b and c heard from
      c.stabilize();
      expect(c.node('a').proposeConfChange({ type: 'remove', nodeId: id }).accepted).toBe(true);
    }
  });

  test('a removed leader hands leadership to a remaining voter', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    expect(c.node('a').proposeConfChange({ type: 'remove', nodeId: 'a' }).accepted).toBe(true);
    for (let i = 0; i < 5; i++) {
      c.tick(['a']);
      c.stabilize();
    }
    const leaders = c.leaders();
    expect(leaders).toHaveLength(1);
    expect(['b', 'c']).toContain(leaders[0]);
    expect(c.node(leaders[0]!).raft.confState.voters.sort()).toEqual(['b', 'c']);
    expect(c.node('a').raft.role).toBe('follower');
  });
});

describe('leadership transfer (thesis §3.10)', () => {
  test('leadership moves to a caught-up voter, and proposals are refused while it moves', () => {
    const c = new TestCluster(ids3);
    c.elect('a');
    c.drop = isolate('c');
    c.propose('a', 'x');
    c.stabilize();
    expect(c.node('a').transferLeadership('c').accepted).toBe(true);
    expect(c.node('a').propose(new Uint8Array([1])).accepted).toBe(false);
    c.drop = () => false;
    c.tick(['a']);
    c.stabilize();
    expect(c.leaders()).toEqual(['c']);
  });
});

describe('bounds', () => {
  test('terms stop at 2^53-1 with a RaftRangeError instead of losing precision', () => {
    const rn = new RawNode(
      { id: 'a', electionTick: 10, heartbeatTick: 1, rand: seededRand(1) },
      initialState(ids3, [], Number.MAX_SAFE_INTEGER),
    );
    expect(() => rn.campaign()).toThrow(RaftRangeError);
  });
});

function heartbeatFrom(from: string, to: string, term: number): Message {
  return emptyMessage('heartbeat', from, to, term);
}

function emptySnapshot() {
  return { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array() };
}
