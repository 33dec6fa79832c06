// Whether a member told it was removed should exit. Told by its own log (it applied its removal),
// it exits unless the log has added it back since (a replaced member catching up). Told by a peer
// (a refused connection), it may be a stale view: a member that joined later and is replaying the
// log between an old removal of this ID and its re-addition refuses it too. So a refused member
// stays if a leader has replicated to it since the refusal, and exits only once no leader has for
// a number of checks (one per election timeout): a leader may be changing hands just then.

export interface RemovalView {
  how: 'applied' | 'refused';
  /** In the latest configuration this member knows. */
  inConfiguration: boolean;
  /** It leads, or a leader has replicated to it since the refusal. */
  leaderSinceRefusal: boolean;
  /** Checks left after this one. */
  checksLeft: number;
}

export type RemovalDecision = 'stay' | 'exit' | 'check again';

export function removalDecision(v: RemovalView): RemovalDecision {
  if (!v.inConfiguration) return 'exit';
  if (v.how === 'applied' || v.leaderSinceRefusal) return 'stay';
  return v.checksLeft > 0 ? 'check again' : 'exit';
}
