// The operator's view of a running cluster through the members' own API (the etcd-shaped JSON
// gateway on the client port): who is a member, who leads, how far each log is, and the
// membership changes. Members are reached by pod IP, which works in-cluster and from the host
// of the e2e environment alike. Membership changes may go to any member: followers forward them.
import { ApiError, KvClient } from '../../node/client/client.js';
import { hexToDecimal, parseMemberId } from '../../node/server/ids.js';

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
  constructor(private readonly timeoutMs = 3000) {}

  private client(endpoints: string[]): KvClient {
    return new KvClient(endpoints, this.timeoutMs);
  }

  async status(endpoint: string): Promise<MemberStatus> {
    const s = await this.client([endpoint]).status();
    return {
      id: hex(s.memberId),
      leader: s.leader === '0' ? undefined : hex(s.leader),
      raftIndex: s.raftIndex,
      raftTerm: s.raftTerm,
      isLearner: s.isLearner,
    };
  }

  async list(endpoints: string[]): Promise<ListedMember[]> {
    const members = await this.client(endpoints).members();
    return members.map((m) => ({
      id: hex(m.ID),
      name: m.name,
      peerURLs: m.peerURLs,
      isLearner: m.isLearner === true,
    }));
  }

  async addLearner(endpoints: string[], peerURL: string): Promise<string> {
    try {
      return hex(await this.client(endpoints).memberAdd(peerURL, true));
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
    await this.client(endpoints).memberPromote(hexToDecimal(id));
  }

  async remove(endpoints: string[], id: string): Promise<void> {
    await this.client(endpoints).memberRemove(hexToDecimal(id));
  }

  async transferLeadership(leaderEndpoint: string, to: string): Promise<void> {
    await this.client([leaderEndpoint]).call('/v3/maintenance/transfer-leadership', {
      targetID: hexToDecimal(to),
    });
  }
}
