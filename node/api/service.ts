// The client-facing operations, once, for both APIs (HTTP/JSON and gRPC): reads with the right
// consistency, writes through Raft, membership changes on the leader, status. Results keep
// etcd's proto field names; each API only converts encodings.
import type { ConnectionOptions } from 'node:tls';
import type { JwtTokens } from '../auth/jwt.js';
import { withSha256 } from '../mvcc/backup.js';
import { encodeRequest } from '../mvcc/codec.js';
import { checkTxnOps } from '../mvcc/txn-check.js';
import { MvccError, type RangeRequest, type WriteRequest } from '../mvcc/types.js';
import { hexToDecimal, memberId } from '../server/ids.js';
import type { Leases } from '../server/leases.js';
import { MemberError, type Member } from '../server/member.js';
import { ApiError, KvClient, type Json } from '../client/client.js';
import { AuthService, type Caller } from './auth-service.js';
import { BadRequest } from './json.js';

/** A request passed on to the leader fails after this long (an unreachable leader, a lost answer). */
const FORWARD_TIMEOUT_MS = 10_000;

/**
 * The etcd API level served, as the server version in /version and in Status (etcdctl's endpoint
 * status table): that of etcd 3.4, raftkv's reference in the tests. Tools compare it to decide
 * which etcd features they may use; raftkv's own version is in /version too.
 */
export const ETCD_API_LEVEL = '3.4.0';

export interface ServiceContext {
  member: Member;
  leases: Leases;
  clusterId: string;
  clusterToken: string;
  version: string;
  /** For requests passed on to the leader's https:// client port: the CA, and this member's certificate. */
  clientTls?: ConnectionOptions;
  /** Set with --auth-token jwt. */
  jwt?: JwtTokens;
  /** --bcrypt-cost, for passwords set through this member. */
  bcryptCost: number;
  /** --max-txn-ops: checked here, on the member the client calls, as etcd's API layer does. */
  maxTxnOps: number;
}

export interface Header {
  cluster_id: string;
  member_id: string;
  revision: number;
  raft_term: number;
}

export interface MemberOut {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export class KvService {
  /** The header's constant part, in decimal once. */
  private ids: Pick<Header, 'cluster_id' | 'member_id'> | undefined;

  /** One client per leader URL seen, so passed-on requests reuse their connections. */
  private readonly leaderClients = new Map<string, KvClient>();
  private clientTls: ConnectionOptions | undefined;
  readonly auth: AuthService;

  constructor(private readonly ctx: ServiceContext) {
    this.clientTls = ctx.clientTls;
    this.auth = new AuthService(this, ctx.bcryptCost, ctx.jwt);
  }

  /** Renewed certificates: requests passed on from now on present them. */
  useClientTls(tls: ConnectionOptions): void {
    this.clientTls = tls;
    for (const c of this.leaderClients.values()) void c.close();
    this.leaderClients.clear();
  }

  get member(): Member {
    return this.ctx.member;
  }

  /** Every response carries one, so it reads only what it needs (not status(): a page scan). */
  header(revision?: number): Header {
    this.ids ??= { cluster_id: hexToDecimal(this.ctx.clusterId), member_id: hexToDecimal(this.member.id) };
    return {
      ...this.ids,
      revision: revision ?? this.member.kv.currentRevision(),
      raft_term: this.member.term(),
    };
  }

  get watches() {
    return this.member.watches;
  }

  compactedRevision(): number {
    return this.member.kv.compactedRevision();
  }

  async range(req: RangeRequest, caller: Caller) {
    await this.auth.checkRead(caller, req.key, req.range_end);
    // A serializable read may be stale, but it sees every write this member has answered.
    if (!req.serializable) await this.member.linearizableBarrier();
    const reopening = this.member.kv.whenOpen();
    if (reopening) await reopening;
    const r = this.member.kv.range(req);
    return { ...r, header: this.header(r.header.revision) };
  }

  /** A client's write, with who makes it: the member that applies it checks its permissions then. */
  async write(w: WriteRequest, caller: Caller) {
    if ('txn' in w) checkTxnOps(w.txn, this.ctx.maxTxnOps);
    const { user, revision } = await this.auth.identify(caller);
    const out = await this.member.write(
      encodeRequest({ ...w, user, ...(revision === undefined ? {} : { authRevision: revision }) }),
    );
    if (out instanceof MvccError) throw out;
    const r = out as { header: { revision: number } };
    return { ...r, header: this.header(r.header.revision) };
  }

  members(): MemberOut[] {
    const s = this.member.status();
    const table = this.member.memberTable();
    return [...s.voters, ...s.learners].map((id) => {
      const info = table.get(id);
      return {
        ID: hexToDecimal(id),
        name: info?.name ?? '',
        peerURLs: info?.peerURLs ?? [],
        clientURLs: info?.clientURLs ?? [],
        isLearner: s.learners.includes(id),
      };
    });
  }

  async memberList(linearizable: boolean) {
    // Like etcd's linearizable member list: a change acknowledged anywhere is visible here.
    if (linearizable) await this.member.linearizableBarrier();
    return { header: this.header(), members: this.members() };
  }

  async memberAdd(peerURLs: string[], isLearner: boolean, caller: Caller) {
    return this.rootOnLeader(caller, '/v3/cluster/member/add', { peerURLs, isLearner }, async () => {
      const id = memberId(peerURLs[0]!, this.ctx.clusterToken);
      await this.member.addMember(id, peerURLs, isLearner);
      const members = this.members();
      return { header: this.header(), member: members.find((m) => m.ID === hexToDecimal(id)), members };
    });
  }

  async memberRemove(id: string, caller: Caller) {
    return this.rootOnLeader(caller, '/v3/cluster/member/remove', { ID: hexToDecimal(id) }, async () => {
      // An unknown ID is refused by the core as etcd refuses it: `member not found`.
      await this.member.changeMembership({ type: 'remove', nodeId: id });
      return { header: this.header(), members: this.members() };
    });
  }

  async memberUpdate(id: string, peerURLs: string[], caller: Caller) {
    const body = { ID: hexToDecimal(id), peerURLs };
    return this.rootOnLeader(caller, '/v3/cluster/member/update', body, async () => {
      await this.member.updateMember(id, peerURLs);
      return { header: this.header(), members: this.members() };
    });
  }

  async memberPromote(id: string, caller: Caller) {
    return this.rootOnLeader(caller, '/v3/cluster/member/promote', { ID: hexToDecimal(id) }, async () => {
      await this.member.changeMembership({ type: 'promote', nodeId: id });
      return { header: this.header(), members: this.members() };
    });
  }

  status() {
    const s = this.member.status();
    const alarms = this.member.kv.alarms();
    return {
      header: this.header(),
      version: ETCD_API_LEVEL,
      dbSize: s.dbSize,
      dbSizeInUse: s.dbSize,
      leader: s.leader ? hexToDecimal(s.leader) : '0',
      raftIndex: s.commit,
      raftTerm: s.term,
      raftAppliedIndex: s.applied,
      errors: alarms.map((a) => `memberID:${hexToDecimal(this.member.id)} alarm:${a}`),
      isLearner: s.isLearner,
    };
  }

  /** etcd's Alarm: GET lists the alarms, DEACTIVATE (after compacting) lets puts through again. */
  async alarm(action: unknown, caller: Caller) {
    if (action !== 'GET' && action !== 0) {
      if (action !== 'DEACTIVATE' && action !== 2) throw new BadRequest('action must be GET or DEACTIVATE');
      await this.write({ alarm: { action: 'DEACTIVATE', alarm: 'NOSPACE' } }, caller);
    }
    const memberID = hexToDecimal(this.member.id);
    return { header: this.header(), alarms: this.member.kv.alarms().map((alarm) => ({ memberID, alarm })) };
  }

  /**
   * etcd's Snapshot: this member's whole state from one read transaction as an etcd snapshot (a
   * bbolt file), then its sha256: what `etcdctl snapshot save` stores, restored by `raftkvctl
   * snapshot restore` or by etcd's own `etcdctl snapshot restore`.
   */
  async *snapshot(caller: Caller): AsyncGenerator<Uint8Array> {
    await this.auth.requireAdmin(caller);
    yield* withSha256(this.member.kv.exportBackup());
  }

  /** etcd's HashKV: a checksum of this member's history up to `revision` (0: the current one). */
  async hashKV(revision: number, caller: Caller) {
    await this.auth.requireAdmin(caller);
    const h = this.member.kv.hashKV(revision);
    return { header: this.header(h.revision), hash: h.hash, compact_revision: h.compact_revision };
  }

  /** etcd's Defragment: this member's backend file rewritten compactly. */
  async defragment(caller: Caller) {
    await this.auth.requireAdmin(caller);
    await this.member.defragment();
    return { header: this.header() };
  }

  async moveLeader(target: string, caller: Caller) {
    const body = { targetID: hexToDecimal(target) };
    return this.rootOnLeader(caller, '/v3/maintenance/transfer-leadership', body, async () => {
      await this.member.transferLeadership(target);
      return { header: this.header() };
    });
  }

  leaseGrant(id: number, ttl: number, caller: Caller) {
    if (id < 0) throw new BadRequest('ID must be 0 (the member picks one) or a positive integer');
    return this.write({ lease_grant: this.ctx.leases.grantRequest(id, ttl) }, caller);
  }

  leaseRevoke(id: number, caller: Caller) {
    return this.write({ lease_revoke: { ID: id } }, caller);
  }

  /** Keepalives and time-to-live are answered by the leader, which keeps the lease clocks. */
  async leaseKeepAlive(id: number) {
    if (!this.member.isLeader()) {
      const out = await this.forward<{ result: unknown }>('/v3/lease/keepalive', { ID: String(id) });
      return out.result;
    }
    const TTL = await this.ctx.leases.keepAlive(id);
    return { header: this.header(), ID: id, TTL };
  }

  async leaseTimeToLive(id: number, keys: boolean) {
    if (!this.member.isLeader()) return this.forward('/v3/lease/timetolive', { ID: String(id), keys });
    return { header: this.header(), ...(await this.ctx.leases.timeToLive(id, keys)) };
  }

  async leaseLeases() {
    const leases = await this.ctx.leases.list();
    return { header: this.header(), leases: leases.map((l) => ({ ID: l.id })) };
  }

  /** etcd's /health: a leader exists and a linearizable read goes through. Returns a reason, or ''. */
  async health(): Promise<string> {
    if (!this.member.status().leader) return 'no leader';
    await this.member.linearizableBarrier();
    const alarms = this.member.kv.alarms();
    return alarms.length > 0 ? `alarm: ${alarms.join(',')}` : '';
  }

  /**
   * A call that needs the root role and runs on the leader (membership changes, leadership
   * transfers): `here` when this member leads, else passed on to the leader as `path` with `body`
   * and the caller's token (for a certificate's user, one granted here), where it is checked again.
   */
  private async rootOnLeader<T>(
    caller: Caller,
    path: string,
    body: Json,
    here: () => Promise<T>,
  ): Promise<T> {
    await this.auth.requireAdmin(caller);
    return this.member.isLeader() ? here() : this.forward<T>(path, body, caller);
  }

  /**
   * Membership changes, transfers, keepalives and time-to-live run on the leader; a follower passes
   * them on (JSON API). The answer is in the gateway's JSON shapes, which both APIs pass through.
   */
  private async forward<T = never>(path: string, body: unknown, caller: Caller = {}): Promise<T> {
    const leader = this.member.memberTable().get(this.member.leaderId());
    const url = leader?.clientURLs[0];
    if (!url) throw new MemberError('etcdserver: no leader', 'unavailable');
    let client = this.leaderClients.get(url);
    if (!client) {
      client = new KvClient([url], FORWARD_TIMEOUT_MS, this.clientTls);
      this.leaderClients.set(url, client);
    }
    // Outside the try: a refusal to grant the token is the caller's answer, not the leader's.
    const token = await this.auth.tokenFor(caller);
    try {
      return (await client.call(path, body as Json, token)) as T;
    } catch (e) {
      if (!(e instanceof ApiError)) {
        throw new MemberError(`etcdserver: leader ${(e as Error).message}`, 'unavailable');
      }
      throw new MemberError(e.message, e.status === 404 ? 'notFound' : 'failedPrecondition');
    }
  }
}
