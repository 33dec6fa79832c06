// A lease client for fault runs. In turn it grants a lease through any member, puts a key under
// it, keeps it alive for a while through random members (as the faults allow) while reading the
// key linearizably, then lets it lapse and reads on until the key is gone. Checked:
// - never early: a read that finds the key gone must end at least a TTL after the send of a
//   keepalive (or the grant) that was acknowledged before the read began, since the leader
//   renewed it no sooner than that send;
// - never kept: once the faults are over, every lapsed lease's key goes within the TTL and a
//   new leader's grace (an election timeout), plus slack.
import { KvClient } from '../../node/client/client.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { delay } from '../support/wait.js';

export interface LeaseProbeResult {
  leases: number;
  keepalives: number;
  reads: number;
  /** Keys found gone before their lease could have expired. */
  early: string[];
  /** Keys still there after their lease lapsed and the grace passed. */
  kept: string[];
}

interface Tracked {
  id: string;
  key: string;
  /** Send times of the grant and of each acknowledged keepalive, with when the answer came. */
  renewals: Array<{ sent: number; acked: number }>;
  /** When the put under the lease was acknowledged (undefined: not known to be written). */
  putAt?: number;
}

export class LeaseProbe {
  private readonly tracked: Tracked[] = [];
  private keepalives = 0;
  private reads = 0;
  private readonly early: string[] = [];

  constructor(
    private readonly members: () => LocalMember[],
    private readonly rnd: () => number,
    private readonly o: { ttlSeconds: number; prefix: string; timeoutMs: number; graceMs: number },
  ) {}

  private any(): KvClient {
    const live = this.members();
    const m = live[Math.floor(this.rnd() * live.length)]!;
    return new KvClient([m.clientURL], this.o.timeoutMs);
  }

  /** Lease after lease while `going()`. */
  async run(going: () => boolean): Promise<void> {
    for (let n = 0; going(); n++) await this.cycle(`${this.o.prefix}${n}`, going);
  }

  private async cycle(key: string, going: () => boolean): Promise<void> {
    const ttlMs = this.o.ttlSeconds * 1000;
    const sent = performance.now();
    let t: Tracked;
    try {
      const { id } = await this.any().leaseGrant(this.o.ttlSeconds);
      t = { id, key, renewals: [{ sent, acked: performance.now() }] };
    } catch {
      return delay(100);
    }
    this.tracked.push(t);
    try {
      await this.any().put(key, 'leased', { lease: t.id });
      t.putAt = performance.now();
    } catch {
      // unknown: the key may exist; it is still checked at the end
    }
    const holdUntil = Date.now() + ttlMs * (1 + 2 * this.rnd());
    while (going() && Date.now() < holdUntil) {
      const kaSent = performance.now();
      try {
        if ((await this.any().leaseKeepAlive(t.id)) > 0) {
          t.renewals.push({ sent: kaSent, acked: performance.now() });
          this.keepalives++;
        }
      } catch {
        // a member down or an election; the next keepalive goes elsewhere
      }
      await this.read(t);
      await delay(ttlMs / 4);
    }
    // Lapsed: reads until the key goes show when it went, against the last renewal.
    const watchUntil = Date.now() + ttlMs + this.o.graceMs;
    while (going() && Date.now() < watchUntil && (await this.read(t)) !== false) await delay(ttlMs / 10);
  }

  /** Whether the key is there (undefined: the read failed); a key gone too soon is recorded. */
  private async read(t: Tracked): Promise<boolean | undefined> {
    const invoked = performance.now();
    let present: boolean;
    try {
      present = (await this.any().get(t.key)).kvs.length > 0;
    } catch {
      return undefined;
    }
    const completed = performance.now();
    this.reads++;
    if (present || t.putAt === undefined || t.putAt > invoked) return present;
    const renewed = Math.max(...t.renewals.filter((r) => r.acked <= invoked).map((r) => r.sent));
    if (completed < renewed + this.o.ttlSeconds * 1000) {
      this.early.push(
        `${t.key} (lease ${t.id}, TTL ${this.o.ttlSeconds} s) found gone ${Math.round(completed - renewed)} ms ` +
          `after a renewal sent at ${Math.round(renewed)} ms`,
      );
    }
    return false;
  }

  /** Call once the faults are over and the cluster agrees: every key goes within TTL + grace. */
  async finish(): Promise<LeaseProbeResult> {
    const deadline = performance.now() + this.o.ttlSeconds * 1000 + this.o.graceMs;
    const kept: string[] = [];
    for (const t of this.tracked) {
      // Not waitFor: past the shared deadline a key still gets one read.
      for (;;) {
        const gone = await this.any()
          .get(t.key)
          .then((r) => r.kvs.length === 0)
          .catch(() => false);
        if (gone) break;
        if (performance.now() > deadline) {
          kept.push(`${t.key} (lease ${t.id}) still there after its TTL and the grace`);
          break;
        }
        await delay(100);
      }
    }
    return {
      leases: this.tracked.length,
      keepalives: this.keepalives,
      reads: this.reads,
      early: [...this.early],
      kept,
    };
  }
}
