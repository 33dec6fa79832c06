// The leader that every given member reports, once they all agree on one (polled with a deadline);
// `tls` for https:// members.
import type { ConnectionOptions } from 'node:tls';
import { KvClient } from '../../node/client/client.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import { waitFor } from './wait.js';

export async function agreedLeader<M extends Pick<LocalMember, 'clientURL'>>(
  live: () => M[],
  ms = 20_000,
  statusTimeoutMs = 1000,
  tls?: ConnectionOptions,
): Promise<M> {
  const status = (m: M) => KvClient.using([m.clientURL], statusTimeoutMs, tls, (c) => c.status());
  return waitFor(
    'an agreed leader',
    async () => {
      const members = live();
      const statuses = await Promise.all(members.map(status));
      const leader = statuses[0]?.leader;
      if (!leader || leader === '0' || !statuses.every((s) => s.leader === leader)) return undefined;
      const i = statuses.findIndex((s) => s.memberId === leader);
      return i >= 0 ? members[i] : undefined;
    },
    ms,
  );
}
