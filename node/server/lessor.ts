// Lease clocks, kept by the leader only, as etcd's lessor does: time is not replicated, so a new
// leader starts every lease's clock afresh at its full TTL plus an election timeout (the time an
// old leader may have gone unheard), and a follower keeps no clocks. A lease therefore never
// expires sooner than its TTL after its last acknowledged keepalive; it may live up to a TTL and
// an election timeout longer across a leader change. Pure: time comes in as `now` (ms).
import type { Lease } from '../mvcc/leases.js';

export class Lessor {
  /** lease ID → when it expires (ms) */
  private readonly expiry = new Map<number, number>();
  /** The term this member leads in, or -1 while it follows. */
  private term = -1;

  constructor(private readonly extendMs: number) {}

  /**
   * Call while leading, before any other use. In a new term every clock restarts (`leases` is read
   * only then); in the same term nothing changes.
   */
  lead(term: number, now: number, leases: () => Lease[]): void {
    if (term === this.term) return;
    this.term = term;
    this.expiry.clear();
    for (const l of leases()) this.expiry.set(l.id, now + l.ttl * 1000 + this.extendMs);
  }

  /** Forgets every clock: only a leader expires leases. */
  follow(): void {
    this.term = -1;
    this.expiry.clear();
  }

  /** Brings the clocks in line with the leases that exist: new ones start now, revoked ones go. */
  track(leases: Lease[], now: number): void {
    const ids = new Set(leases.map((l) => l.id));
    for (const id of this.expiry.keys()) if (!ids.has(id)) this.expiry.delete(id);
    for (const l of leases) this.clock(l, now);
  }

  /** Restarts the lease's clock at its TTL; false if it has already expired (its revoke is due). */
  renew(lease: Lease, now: number): boolean {
    if (this.clock(lease, now) <= now) return false;
    this.expiry.set(lease.id, now + lease.ttl * 1000);
    return true;
  }

  /** Milliseconds the lease has left (0 once expired). */
  remainingMs(lease: Lease, now: number): number {
    return Math.max(0, this.clock(lease, now) - now);
  }

  /** Up to `max` expired leases, the longest expired first. */
  expired(now: number, max: number): number[] {
    return [...this.expiry]
      .filter(([, at]) => at <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, max)
      .map(([id]) => id);
  }

  /** The lease's expiry, starting its clock now if it has none yet (granted since the last track). */
  private clock(lease: Lease, now: number): number {
    let at = this.expiry.get(lease.id);
    if (at === undefined) {
      at = now + lease.ttl * 1000;
      this.expiry.set(lease.id, at);
    }
    return at;
  }
}
