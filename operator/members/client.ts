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

export class HttpMemberApi implements MemberApi {
  /** `tls`: a TLS cluster's CA and the certificate the operator presents (memberTls). */
  constructor(
    private readonly timeoutMs = 3000,
    private readonly tls?: ConnectionOptions,
  ) {}

  /** A client for one call; a TLS one's connections are closed after it (a handshake per call). */
  private with<T>(endpoints: string[], call: (c: KvClient) => Promise<T>): Promise<T> {
    return KvClient.using(endpoints, this.timeoutMs, this.tls, call);
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
    const members = await this.with(endpoints, (c) => c.members());
    return members.map((m) => ({
      id: hex(m.ID),
      name: m.name,
      peerURLs: m.peerURLs,
      isLearner: m.isLearner === true,
    }));
  }

  async addLearner(endpoints: string[], peerURL: string): Promise<string> {
    try {
      return hex(await this.with(endpoints, (c) => c.memberAdd(peerURL, true)));
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
    await this.with(endpoints, (c) => c.memberPromote(hexToDecimal(id)));
  }

  async remove(endpoints: string[], id: string): Promise<void> {
    await this.with(endpoints, (c) => c.memberRemove(hexToDecimal(id)));
  }

  async transferLeadership(leaderEndpoint: string, to: string): Promise<void> {
    await this.with([leaderEndpoint], (c) =>
      c.call('/v3/maintenance/transfer-leadership', { targetID: hexToDecimal(to) }),
    );
  }
}

/**
 * How the operator reaches a TLS cluster's members: trusting the cluster's CA and presenting the
 * members' certificate from its Secret. Members are reached by pod IP, which that certificate does
 * not name, so the chain to the cluster's own CA is what is checked, not the name.
 */
export async function memberTls(core: CoreV1Api, kvc: KVCluster): Promise<ConnectionOptions | undefined> {
  const tls = kvc.spec.tls;
  if (!tls) return undefined;
  const where = `TLS Secret ${kvc.metadata.namespace}/${tls.secretName}`;
  const secret = await core
    .readNamespacedSecret({ name: tls.secretName, namespace: kvc.metadata.namespace! })
    .catch((e: unknown) => {
      throw new Error(`${where}: ${(e as Error).message}`);
    });
  const file = (key: string): Buffer => {
    const b64 = secret.data?.[key];
    if (!b64) throw new Error(`${where} has no ${key}`);
    return Buffer.from(b64, 'base64');
  };
  return {
    ca: file('ca.crt'),
    cert: file('tls.crt'),
    key: file('tls.key'),
    checkServerIdentity: () => undefined,
  };
}
