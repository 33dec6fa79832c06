// When a member tells the cluster where clients reach it (its client URLs, through the log): once
// there is a leader, and again after `retryMs` for as long as the applied member table does not
// show them, since a proposal is lost with a leader that dies before committing it (etcd retries
// its publish the same way). The member counts as published, and ready, only once they show.
export type PublishStep = 'published' | 'propose' | 'wait';

export function publishStep(o: {
  /** The applied member table holds this member's name and client URLs as configured. */
  listed: boolean;
  hasLeader: boolean;
  now: number;
  /** When this member last proposed them (-Infinity: never). */
  proposedAt: number;
  retryMs: number;
}): PublishStep {
  if (o.listed) return 'published';
  return o.hasLeader && o.now - o.proposedAt >= o.retryMs ? 'propose' : 'wait';
}
