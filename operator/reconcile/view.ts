// Questions about one Observed that the decisions ask again and again: who votes, who is
// healthy, how big the quorum is, and whether taking a member away keeps it.
import type { MemberView, Observed, PodView, Policy, PvcView } from './model.js';

export const quorumOf = (voters: number): number => Math.floor(voters / 2) + 1;

export const validReplicas = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 9 && n % 2 === 1;

/** creationTimestamp has whole seconds: an object made after `t` has a timestamp ≥ t's second. */
export const createdSince = (createdAt: number, t: number): boolean =>
  createdAt >= Math.floor(t / 1000) * 1000;

export class ClusterView {
  readonly members: MemberView[];
  readonly voters: MemberView[];
  readonly learners: MemberView[];

  constructor(
    readonly o: Observed,
    private readonly policy: Policy,
  ) {
    this.members = o.members ?? [];
    this.voters = this.members.filter((m) => !m.isLearner);
    this.learners = this.members.filter((m) => m.isLearner);
  }

  healthy(id: string): boolean {
    return this.o.health.find((h) => h.id === id)?.healthy ?? false;
  }

  get healthyVoters(): number {
    return this.voters.filter((m) => this.healthy(m.id)).length;
  }

  get quorum(): number {
    return quorumOf(this.voters.length);
  }

  get quorumLost(): boolean {
    return this.o.members === undefined || this.healthyVoters < this.quorum;
  }

  /** Healthy voters minus what it would take to keep quorum: how many more may fail. */
  get failureTolerance(): number {
    return Math.max(0, this.healthyVoters - this.quorum);
  }

  member(ordinal: number): MemberView | undefined {
    return this.members.find((m) => m.ordinal === ordinal);
  }

  pod(ordinal: number): PodView | undefined {
    return this.o.pods.find((p) => p.ordinal === ordinal);
  }

  pvc(ordinal: number): PvcView | undefined {
    return this.o.pvcs.find((p) => p.ordinal === ordinal && !p.terminating);
  }

  isLeader(m: MemberView): boolean {
    return m.id === this.o.leaderId;
  }

  /** Healthy, its pod ready, and its log within catchUpEntries of the leader's. */
  caughtUp(m: MemberView): boolean {
    const h = this.o.health.find((x) => x.id === m.id);
    const pod = m.ordinal === undefined ? undefined : this.pod(m.ordinal);
    return (
      h !== undefined &&
      h.healthy &&
      pod?.ready === true &&
      h.raftIndex + this.policy.catchUpEntries >= this.o.leaderIndex
    );
  }

  /** Stopping this voter's pod for a while keeps a healthy majority of the same voters. */
  canTakeDown(m: MemberView): boolean {
    if (m.isLearner) return true;
    return this.healthyVoters - (this.healthy(m.id) ? 1 : 0) >= this.quorum;
  }

  /** Removing this member from the membership keeps a healthy majority of the voters left. */
  canRemove(m: MemberView): boolean {
    if (m.isLearner) return true;
    return this.healthyVoters - (this.healthy(m.id) ? 1 : 0) >= quorumOf(this.voters.length - 1);
  }

  /** The healthy, caught-up voter to hand leadership to (the most advanced log, then lowest ordinal). */
  successor(except: MemberView): MemberView | undefined {
    const index = (m: MemberView) => this.o.health.find((h) => h.id === m.id)?.raftIndex ?? 0;
    return this.voters
      .filter((m) => m.id !== except.id && this.caughtUp(m))
      .sort((a, b) => index(b) - index(a) || (a.ordinal ?? 99) - (b.ordinal ?? 99))[0];
  }

  /** Unhealthy longer than the grace period. */
  failedFor(m: MemberView): boolean {
    const h = this.o.health.find((x) => x.id === m.id);
    return h?.unhealthySince !== undefined && this.o.now - h.unhealthySince >= this.policy.replaceAfterMs;
  }
}
