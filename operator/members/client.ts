// The operator's view of a running cluster through the members' own API (the etcd-shaped JSON
// gateway on the client port): who is a member, who leads, how far each log is, and the
// membership changes. Members are reached by pod IP, which works in-cluster and from the host
// of the e2e environment alike. Membership changes may go to any member: followers forward them.
import type { ConnectionOptions } from 'node:tls';
import type { CoreV1Api } from '@kubernetes/client-node';
import { ApiError, KvClient } from '../../node/client/client.js';
import { hexToDecimal, parseMemberId } from '../../node/server/ids.js';
import type { KVCluster } from '../api/index.js';

export interface ListedMember {
  /** 16 hex digits. */
  id: string;
  name: string;
  peerURLs: string[];
  isLearner: boolean;
}

export interface MemberStatus {
  /** 16 hex digits. */
  id: string;
  /** 16 hex digits, or undefined when the member knows no leader. */
  leader: string | undefined;
  raftIndex: number;
  raftTerm: number;
  isLearner: boolean;
}

/** What the reconciler needs of the members; tests of the reconciler may stand in for it. */
export interface MemberApi {
  status(endpoint: string): Promise<MemberStatus>;
  list(endpoints: string[]): Promise<ListedMember[]>;
  addLearner(endpoints: string[], peerURL: string): Promise<string>;
  promote(endpoints: string[], id: string): Promise<void>;
  remove(endpoints: string[], id: string): Promise<void>;
  transferLeadership(leaderEndpoint: string, to: string): Promise<void>;
}

const hex = (id: string): string => {
  const parsed = parseMemberId(id);
  if (parsed === undefined) throw new Error(`member answered an unreadable member id "${id}"`);
  return parsed;
};

/** A user with the root role, for a cluster with auth on (memberCredentials). */
export interface Credentials {
  user: string;
  password: string;
}

export class HttpMemberApi implements MemberApi {
  /** The token `credentials` were last given; the same for every member once they apply it. */
  private token: string | undefined;

  /**
   * `tls`: a TLS cluster's CA and the certificate the operator presents (memberTls).
   * `credentials`: for membership changes once auth is on (memberCredentials).
   */
  constructor(
    private readonly timeoutMs = 3000,
    private readonly tls?: ConnectionOptions,
    private readonly credentials?: Credentials,
  ) {}

  /** A client for one call; a TLS one's connections are closed after it (a handshake per call). */
  private with<T>(endpoints: string[], call: (c: KvClient) => Promise<T>): Promise<T> {
    return KvClient.using(endpoints, this.timeoutMs, this.tls, call);
  }

  /**
   * A call that needs the root role once auth is on (etcd's membership and leadership calls).
   * With credentials it carries a token, got when first needed and again when a member refuses it
   * (it expired, or the member restarted and forgot it); with auth off it carries none, until a
   * member asks for a user (auth was turned on since).
   */
  private asRoot<T>(endpoints: string[], call: (c: KvClient) => Promise<T>): Promise<T> {
    const creds = this.credentials;
    return this.with(endpoints, async (c) => {
      if (!creds) return call(c).catch((e: unknown) => Promise.reject(explainAuth(e)));
      if (this.token === undefined) await this.login(c, creds);
      c.token = this.token;
      try {
        return await call(c);
      } catch (e) {
        const refused = e instanceof ApiError && (e.status === 401 || /user name is empty/.test(e.message));
        if (!refused) throw e;
        await this.login(c, creds);
        c.token = this.token;
        return call(c);
      }
    });
  }

  private async login(c: KvClient, { user, password }: Credentials): Promise<void> {
    try {
      await c.authenticate(user, password);
      this.token = c.token;
    } catch (e) {
      // Auth is off: calls need no token.
      if (e instanceof ApiError && /authentication is not enabled/.test(e.message)) this.token = '';
      else throw new Error(`authenticating as ${user}: ${(e as Error).message}`);
    }
  }

  async status(endpoint: string): Promise<MemberStatus> {
    const s = await this.with([endpoint], (c) => c.status());
    return {
      id: hex(s.memberId),
      leader: s.leader === '0' ? undefined : hex(s.leader),
      raftIndex: s.raftIndex,
      raftTerm: s.raftTerm,
      isLearner: s.isLearner,
    };
  }

  async list(endpoints: string[]): Promise<ListedMember[]> {
    // The leader's view; with no leader there is none, and the member's own view (etcd 3.4 serves
    // every member list so) still tells who the voters are while quorum is lost.
    const members = await this.with(endpoints, (c) => c.members()).catch(() =>
      this.with(endpoints, (c) => c.members({ linearizable: false })),
    );
    return members.map((m) => ({
      id: hex(m.ID),
      name: m.name,
      peerURLs: m.peerURLs,
      isLearner: m.isLearner === true,
    }));
  }

  async addLearner(endpoints: string[], peerURL: string): Promise<string> {
    try {
      return hex(await this.asRoot(endpoints, (c) => c.memberAdd(peerURL, true)));
    } catch (e) {
      // A retried add after a crash: the member is already there, which is what was wanted.
      if (e instanceof ApiError && /already|exists/i.test(e.message)) {
        const existing = (await this.list(endpoints)).find((m) => m.peerURLs.includes(peerURL));
        if (existing) return existing.id;
      }
      throw e;
    }
  }

  async promote(endpoints: string[], id: string): Promise<void> {
    await this.asRoot(endpoints, (c) => c.memberPromote(hexToDecimal(id)));
  }

  async remove(endpoints: string[], id: string): Promise<void> {
    await this.asRoot(endpoints, (c) => c.memberRemove(hexToDecimal(id)));
  }

  async transferLeadership(leaderEndpoint: string, to: string): Promise<void> {
    await this.asRoot([leaderEndpoint], (c) =>
      c.call('/v3/maintenance/transfer-leadership', { targetID: hexToDecimal(to) }),
    );
  }
}

/** A call refused for want of a user: say what the operator needs. */
function explainAuth(e: unknown): unknown {
  if (!(e instanceof ApiError && /user name is empty/.test(e.message))) return e;
  return new Error(
    `${e.message}: auth is on in this cluster; give the operator a user with the root role in spec.auth.secretName`,
  );
}

/**
 * How the operator reaches a TLS cluster's members: trusting the cluster's CA and presenting the
 * members' certificate from its Secret. Members are reached by pod IP, which that certificate does
 * not name, so the chain to the cluster's own CA is what is checked, not the name.
 */
export async function memberTls(core: CoreV1Api, kvc: KVCluster): Promise<ConnectionOptions | undefined> {
  const tls = kvc.spec.tls;
  if (!tls) return undefined;
  const file = await secretData(core, kvc, 'TLS', tls.secretName);
  return {
    ca: file('ca.crt'),
    cert: file('tls.crt'),
    key: file('tls.key'),
    checkServerIdentity: () => undefined,
  };
}

/** The root user the operator authenticates as, from the cluster's auth Secret (spec.auth). */
export async function memberCredentials(core: CoreV1Api, kvc: KVCluster): Promise<Credentials | undefined> {
  const auth = kvc.spec.auth;
  if (!auth) return undefined;
  const field = await secretData(core, kvc, 'auth', auth.secretName);
  return { user: field('username').toString(), password: field('password').toString() };
}

/** A Secret of the cluster's namespace, as a reader of its fields that names what is missing. */
async function secretData(
  core: CoreV1Api,
  kvc: KVCluster,
  what: string,
  name: string,
): Promise<(key: string) => Buffer> {
  const where = `${what} Secret ${kvc.metadata.namespace}/${name}`;
  const secret = await core
    .readNamespacedSecret({ name, namespace: kvc.metadata.namespace! })
    .catch((e: unknown) => {
      throw new Error(`${where}: ${(e as Error).message}`);
    });
  return (key) => {
    const b64 = secret.data?.[key];
    if (!b64) throw new Error(`${where} has no ${key}`);
    return Buffer.from(b64, 'base64');
  };
}
