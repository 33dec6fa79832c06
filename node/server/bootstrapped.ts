// etcd's isMemberBootstrapped: a member about to found a new cluster on an empty data dir first
// asks the other founders whether their member table lists it as published. If one does, it has
// run before and lost its data, and bootstrapping again with an empty log could let it help elect
// a leader that lacks writes it acknowledged: it must not start. Founders that give no answer
// count for nothing, since the founders of a brand-new cluster start at the same time.
import type { NodeId } from '../raft/types.js';
import {
  parsePeerUrl,
  type PublishedAnswer,
  type Transport,
  type TransportLogger,
} from '../transport/transport.js';
import type { MemberConfig } from './config.js';
import { founders } from './member.js';
import type { MemberInfo } from './members.js';

/** How long each founder has to answer (etcd's default bootstrap timeout). */
export const BOOTSTRAP_CHECK_TIMEOUT_MS = 1000;

export interface BootstrapCheck {
  id: NodeId;
  config: MemberConfig;
  /** The WAL holds no state: the data dir is new, or was emptied. */
  walEmpty: boolean;
  peers: Pick<Transport, 'askPublished'>;
  logger: Pick<TransportLogger, 'info'>;
}

/** Why this member must not start, or undefined when it may. */
export async function bootstrappedRefusal(o: BootstrapCheck): Promise<string | undefined> {
  const { config: cfg, id } = o;
  if (cfg.initialClusterState !== 'new' || !o.walEmpty || cfg.forceNewCluster) return undefined;
  const ask = async (m: MemberInfo): Promise<PublishedAnswer> => {
    try {
      return await o.peers.askPublished(m.id, parsePeerUrl(m.peerURLs[0]!), BOOTSTRAP_CHECK_TIMEOUT_MS);
    } catch (e) {
      return { unanswered: String(e) };
    }
  };
  const others = founders(cfg).filter((m) => m.id !== id);
  const answers = await Promise.all(others.map(async (m) => ({ name: m.name, answer: await ask(m) })));
  const knownBy = answers.filter(({ answer }) => 'published' in answer && answer.published.includes(id));
  if (knownBy.length === 0) {
    o.logger.info('no founder knows this member as bootstrapped; starting as a founder', {
      unanswered: Object.fromEntries(
        answers.flatMap(({ name, answer }) => ('unanswered' in answer ? [[name, answer.unanswered]] : [])),
      ),
    });
    return undefined;
  }
  const emptyDir = cfg.walDir ? `WAL dir ${cfg.walDir}` : `data dir ${cfg.dataDir}`;
  const by = knownBy.map((k) => k.name).join(', ');
  return (
    `member ${cfg.name} (${id}) has already been bootstrapped (listed as published by ${by}) but ` +
    `started with an empty ${emptyDir}: its data was lost. Remove it from the cluster (member ` +
    `remove ${id}) and add it back as a new member (member add) started with ` +
    `--initial-cluster-state=existing, or restore the data dir it lost.`
  );
}
