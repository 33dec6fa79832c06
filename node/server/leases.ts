// The member's side of etcd's leases. Grants and revokes are writes through the log (any member
// may propose them); keepalives, time-to-live and expiry belong to the leader, which keeps the
// clocks (lessor.ts) and proposes a revoke for each lease that runs out.
import type { Logger } from 'winston';
import { encodeRequest } from '../mvcc/codec.js';
import type { Lease } from '../mvcc/leases.js';
import { MvccError, type LeaseGrantRequest } from '../mvcc/types.js';
import { Lessor } from './lessor.js';
import { MemberError } from './member.js';
import type { KvBackend, WriteOutcome } from './ports.js';

/** etcd's MaxLeaseTTL, in seconds. */
export const MAX_LEASE_TTL = 9_000_000_000;
/** How often the leader looks for expired leases, and how many it revokes each time at most. */
const CHECK_MS = 500;
const MAX_REVOKES_PER_CHECK = 500;

/** What the leases need from the member. */
export interface LeaseHost {
  readonly kv: KvBackend;
  isLeader(): boolean;
  term(): number;
  write(request: Uint8Array): Promise<WriteOutcome>;
  linearizableBarrier(): Promise<void>;
}

export interface LeaseTiming {
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
}

export class LeaseTooLarge extends Error {
  constructor() {
    super('etcdserver: too large lease TTL');
    this.name = 'LeaseTooLarge';
  }
}

export class Leases {
  private readonly lessor: Lessor;
  /** Seconds: etcd's minimum, 1.5 election timeouts rounded up, so a lease outlives a leader change. */
  readonly minTtl: number;
  private readonly revoking = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: LeaseHost,
    timing: LeaseTiming,
    private readonly logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lessor = new Lessor(timing.electionTimeoutMs);
    const electionTicks = Math.round(timing.electionTimeoutMs / timing.heartbeatIntervalMs);
    this.minTtl = Math.ceil((Math.floor((3 * electionTicks) / 2) * timing.heartbeatIntervalMs) / 1000);
  }

  start(): void {
    this.timer = setInterval(() => this.expire(), CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The grant to propose: a new random ID if none was asked for, the TTL raised to the minimum. */
  grantRequest(id: number, ttl: number): LeaseGrantRequest {
    if (ttl > MAX_LEASE_TTL) throw new LeaseTooLarge();
    return { ID: id > 0 ? id : randomId(), TTL: Math.max(ttl, this.minTtl) };
  }

  /** Leader only: restarts the lease's clock; its TTL, or 0 if it does not exist or has expired. */
  async keepAlive(id: number): Promise<number> {
    await this.host.linearizableBarrier(); // a revoke committed before is applied here
    this.mustLead();
    const lease = this.host.kv.lease(id);
    return lease && this.lessor.renew(lease, this.now()) ? lease.ttl : 0;
  }

  /** Leader only: seconds left (-1 if there is no such lease), the granted TTL, and its keys if asked. */
  async timeToLive(id: number, withKeys: boolean) {
    await this.host.linearizableBarrier();
    this.mustLead();
    const lease = this.host.kv.lease(id);
    if (!lease) return { ID: id, TTL: -1, grantedTTL: 0, keys: [] };
    const remaining = Math.floor(this.lessor.remainingMs(lease, this.now()) / 1000);
    return {
      ID: id,
      TTL: remaining,
      grantedTTL: lease.ttl,
      keys: withKeys ? this.host.kv.leaseKeys(id) : [],
    };
  }

  async list(): Promise<Lease[]> {
    await this.host.linearizableBarrier();
    return this.host.kv.leases();
  }

  /** Leadership can move while a request waits for its read barrier: the client retries elsewhere. */
  private mustLead(): void {
    if (!this.lead()) throw new MemberError('etcdserver: not primary', 'unavailable');
  }

  /**
   * Keeps the clocks while this member leads (restarting them in a new term, from `leases`, read
   * only then unless given); false if it does not lead.
   */
  private lead(leases = () => this.host.kv.leases()): boolean {
    if (!this.host.isLeader()) {
      this.lessor.follow();
      return false;
    }
    this.lessor.lead(this.host.term(), this.now(), leases);
    return true;
  }

  /** On the leader: a revoke through the log for each lease that ran out, one proposal per lease at a time. */
  private expire(): void {
    let read: Lease[] | undefined; // one read serves a new term's restart and the tracking
    const leases = () => (read ??= this.host.kv.leases());
    if (!this.lead(leases)) return;
    const now = this.now();
    this.lessor.track(leases(), now);
    for (const id of this.lessor.expired(now, MAX_REVOKES_PER_CHECK)) {
      if (this.revoking.has(id)) continue;
      this.revoking.add(id);
      this.host
        .write(encodeRequest({ lease_revoke: { ID: id } }))
        .then((out) => {
          if (!(out instanceof MvccError)) this.logger.info('lease expired and revoked', { lease: id });
        })
        .catch((e: unknown) =>
          this.logger.warn('revoking an expired lease failed', { lease: id, error: String(e) }),
        )
        .finally(() => this.revoking.delete(id));
    }
  }
}

/** A random ID in [1, 2^53-1]: int64 on the wire, kept exactly by a JS number. */
function randomId(): number {
  return Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - 1)) + 1;
}
