// A model of what the operator acts on — a StatefulSet controller, pods, claims and a Raft
// membership — that applies the operator's Steps the way Kubernetes and the members would, in
// simulated time with seeded faults. The decision tests drive decide() against it.
import type { Decision, Observed, PendingOperation, Step } from '../../operator/reconcile/model.js';
import { Rng } from '../sim/rng.js';

interface Pod {
  ordinal: number;
  revision: string;
  createdAt: number;
  /** The process crash-loops (a broken member) until repaired. */
  broken: boolean;
  terminating: boolean;
}
interface Pvc {
  ordinal: number;
  createdAt: number;
  terminating: boolean;
  /** The identity whose data it holds was removed from the membership while it existed. */
  holdsRemovedIdentity: boolean;
  /** Its data is lost for good: the member on it never starts (until the claim is replaced). */
  lost: boolean;
}
interface Member {
  ordinal: number;
  isLearner: boolean;
  index: number;
}

export class World {
  now = 1_700_000_000_000;
  stsReplicas: number | undefined;
  bootstrapReplicas: number | undefined;
  readonly pods = new Map<number, Pod>();
  readonly pvcs = new Map<number, Pvc>();
  members: Member[] = [];
  leader: number | undefined;
  leaderIndex = 10;
  pending: PendingOperation | undefined;
  lastRecovery: string | undefined;
  lastForce: string | undefined;
  /** The ordinal the StatefulSet's template forces into a cluster of its own (--force-new-cluster-member). */
  templateForce: number | undefined;
  revision = 'r1';
  desired = 3;
  /** Unhealthy-since per ordinal, kept as the operator's status would. */
  private readonly lastSeen = new Map<number, number>();
  readonly violations: string[] = [];

  constructor(readonly rng: Rng) {}

  id = (ordinal: number): string => ordinal.toString(16).padStart(16, '0');

  private podUp(k: number): boolean {
    const p = this.pods.get(k);
    const c = this.pvcs.get(k);
    return p !== undefined && !p.broken && !p.terminating && c !== undefined && !c.lost;
  }

  healthy(k: number): boolean {
    return this.podUp(k) && this.members.some((m) => m.ordinal === k) && this.leader !== undefined;
  }

  get voters(): Member[] {
    return this.members.filter((m) => !m.isLearner);
  }

  healthyVoters(): number {
    return this.voters.filter((m) => this.podUp(m.ordinal)).length;
  }

  quorumHeld(): boolean {
    return this.healthyVoters() >= Math.floor(this.voters.length / 2) + 1;
  }

  /** The template as the operator renders it at the start of each reconcile: from the pending operation. */
  private renderTemplate(): void {
    this.templateForce = this.pending?.kind === 'forceNewCluster' ? this.pending.ordinal : undefined;
  }

  observe(recoveryRequest?: string, forceRequest?: string): Observed {
    if (this.stsReplicas !== undefined) this.renderTemplate();
    const members = this.members.map((m) => ({
      id: this.id(m.ordinal),
      name: `kv-${m.ordinal}`,
      peerURL: `http://kv-${m.ordinal}`,
      ordinal: m.ordinal,
      isLearner: m.isLearner,
    }));
    const answered = this.members.some((m) => this.podUp(m.ordinal));
    return {
      now: this.now,
      desired: { replicas: this.desired, revision: this.revision },
      statefulSetReplicas: this.stsReplicas,
      bootstrapReplicas: this.bootstrapReplicas,
      pods: [...this.pods.values()].map((p) => ({
        ordinal: p.ordinal,
        name: `kv-${p.ordinal}`,
        revision: p.revision,
        phase: 'Running',
        ready: this.healthy(p.ordinal) && this.caughtUp(p.ordinal),
        terminating: p.terminating,
        createdAt: p.createdAt,
      })),
      pvcs: [...this.pvcs.values()].map((c) => ({
        ordinal: c.ordinal,
        name: `data-kv-${c.ordinal}`,
        terminating: c.terminating,
        createdAt: Math.floor(c.createdAt / 1000) * 1000,
      })),
      members: answered ? members : undefined,
      health: this.members.map((m) => {
        const healthy = this.healthy(m.ordinal);
        if (healthy) this.lastSeen.set(m.ordinal, this.now);
        const seen = this.lastSeen.get(m.ordinal);
        return {
          id: this.id(m.ordinal),
          healthy,
          raftIndex: healthy ? m.index : 0,
          lastSeen: seen,
          unhealthySince: healthy ? undefined : (seen ?? this.now),
        };
      }),
      leaderId: this.leader === undefined ? undefined : this.id(this.leader),
      leaderIndex: this.leaderIndex,
      pending: this.pending,
      formedBefore: this.lastSeen.size > 0,
      recoveryRequest,
      lastRecovery: this.lastRecovery,
      forceRequest,
      lastForce: this.lastForce,
    };
  }

  private caughtUp(k: number): boolean {
    const m = this.members.find((x) => x.ordinal === k);
    return m !== undefined && m.index + 100 >= this.leaderIndex;
  }

  private ordinalOf(id: string): number {
    return parseInt(id, 16);
  }

  /** What the operator writes to status before it carries a step out (it survives an operator crash). */
  record(d: Decision): void {
    this.pending = d.pending;
    const { step } = d;
    if (step.kind === 'restartPods') this.lastRecovery = step.request;
    if (step.kind === 'forceNewCluster' || step.kind === 'declineForce') this.lastForce = step.request;
  }

  /** Carries out a step as the API server and the members would; refusals are what they would refuse. */
  apply(step: Step): void {
    switch (step.kind) {
      case 'bootstrap':
        this.stsReplicas = step.replicas;
        this.bootstrapReplicas = step.replicas;
        this.members = Array.from({ length: step.replicas }, (_, k) => ({
          ordinal: k,
          isLearner: false,
          index: 0,
        }));
        return;
      case 'addLearner': {
        if (this.members.some((m) => m.ordinal === step.ordinal)) return;
        if (this.members.some((m) => m.isLearner))
          this.violations.push(`added ${step.ordinal} while a learner exists`);
        if (this.templateForce !== undefined)
          this.violations.push(`added ${step.ordinal} while the template still forces ${this.templateForce}`);
        if (this.pvcs.get(step.ordinal)?.holdsRemovedIdentity) {
          this.violations.push(`re-added ${step.ordinal} while its old volume still exists`);
        }
        this.members.push({ ordinal: step.ordinal, isLearner: true, index: 0 });
        return;
      }
      case 'promote': {
        const m = this.members.find((x) => x.ordinal === this.ordinalOf(step.id));
        if (!m?.isLearner || !this.caughtUp(m.ordinal)) return;
        m.isLearner = false;
        return;
      }
      case 'removeMember': {
        const k = this.ordinalOf(step.id);
        this.members = this.members.filter((m) => m.ordinal !== k);
        const pvc = this.pvcs.get(k);
        if (pvc) pvc.holdsRemovedIdentity = true;
        if (this.leader === k) this.leader = undefined;
        return;
      }
      case 'transferLeadership': {
        const to = this.ordinalOf(step.to);
        if (this.voters.some((m) => m.ordinal === to) && this.podUp(to)) this.leader = to;
        return;
      }
      case 'setReplicas':
        this.stsReplicas = step.replicas;
        this.renderTemplate();
        return;
      case 'deletePod': {
        const p = this.pods.get(step.ordinal);
        if (p) p.terminating = true;
        return;
      }
      case 'deletePvc': {
        const c = this.pvcs.get(step.ordinal);
        if (c) c.terminating = true;
        return;
      }
      case 'restartPods':
        for (const k of step.ordinals) {
          const p = this.pods.get(k);
          if (p) p.terminating = true;
        }
        return;
      case 'forceNewCluster': {
        this.renderTemplate();
        const p = this.pods.get(step.ordinal);
        if (p) p.terminating = true;
        return;
      }
      case 'endForce':
        this.renderTemplate();
        return;
      case 'declineForce':
      case 'wait':
      case 'idle':
        return;
    }
  }

  /** One second of Kubernetes and Raft: controllers act, logs grow, leaders come and go. */
  tick(faults: boolean): void {
    this.now += 1000;
    this.leaderIndex += 5;
    for (const [k, p] of this.pods) if (p.terminating) this.pods.delete(k);
    for (const [k, c] of this.pvcs) if (c.terminating && !this.pods.has(k)) this.pvcs.delete(k);
    for (let k = 0; k < (this.stsReplicas ?? 0); k++) {
      if (this.pods.has(k)) continue;
      if (!this.pvcs.has(k)) {
        this.pvcs.set(k, {
          ordinal: k,
          createdAt: this.now,
          terminating: false,
          holdsRemovedIdentity: false,
          lost: false,
        });
      }
      this.pods.set(k, {
        ordinal: k,
        revision: this.revision,
        createdAt: this.now,
        broken: false,
        terminating: false,
      });
      if (this.templateForce === k) this.forceNewCluster(k);
    }
    for (const [k, p] of this.pods) if (k >= (this.stsReplicas ?? 0)) p.terminating = true;
    for (const m of this.members) {
      if (this.podUp(m.ordinal) && !this.pvcs.get(m.ordinal)?.holdsRemovedIdentity) {
        m.index = Math.min(this.leaderIndex, m.index + this.rng.int(20, 200));
      }
    }
    if (this.leader !== undefined && !this.podUp(this.leader)) this.leader = undefined;
    if (this.leader === undefined && this.quorumHeld()) {
      const candidates = this.voters.filter((m) => this.podUp(m.ordinal));
      if (candidates.length > 0) this.leader = this.rng.pick(candidates).ordinal;
    }
    if (!faults) return;
    const pods = [...this.pods.values()].filter((p) => !p.terminating);
    if (pods.length > 0 && this.rng.chance(0.03)) this.rng.pick(pods).broken = true;
    if (pods.length > 0 && this.rng.chance(0.03)) this.rng.pick(pods).terminating = true;
    if (this.rng.chance(0.1)) for (const p of pods) if (p.broken && this.rng.chance(0.5)) p.broken = false;
  }

  /** What --force-new-cluster does on the member of pod k, if it has a voter's data: it alone is left. */
  private forceNewCluster(k: number): void {
    const m = this.members.find((x) => x.ordinal === k);
    if (!m || m.isLearner || !this.podUp(k) || this.pvcs.get(k)!.holdsRemovedIdentity) return;
    this.members = [m];
    for (const [j, c] of this.pvcs) if (j !== k) c.holdsRemovedIdentity = true;
    this.leader = k;
  }

  /** The data of these members is gone for good (their volumes' contents lost). */
  loseData(ordinals: number[]): void {
    for (const k of ordinals) {
      const c = this.pvcs.get(k);
      if (c) c.lost = true;
    }
    if (this.leader !== undefined && ordinals.includes(this.leader)) this.leader = undefined;
  }

  repairAll(): void {
    for (const p of this.pods.values()) p.broken = false;
  }
}
