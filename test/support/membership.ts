// Membership changes for tests, retried while the cluster settles (a member add is refused while
// the leader does not yet count every voter as active) and safe to retry after an answer lost to
// a timeout.
import type { KvClient } from '../../node/client/client.js';
import { waitFor } from './wait.js';

/**
 * Adds a member (retrying while the cluster settles) and returns its id. A retry after an
 * answer lost to a timeout finds the member already there instead of failing on the duplicate.
 */
export function addMember(c: KvClient, peerURL: string, learner: boolean): Promise<string> {
  return waitFor(
    `member ${peerURL} added`,
    async () => {
      const known = (await c.members()).find((m) => m.peerURLs.includes(peerURL));
      return known ? known.ID : c.memberAdd(peerURL, learner);
    },
    20_000,
    200,
  );
}

/** Removes a member (retrying while the cluster settles) until the membership no longer lists it. */
export function removeMember(c: KvClient, id: string): Promise<true> {
  return waitFor(
    `member ${id} removed`,
    async () => {
      if ((await c.members()).some((m) => m.ID === id)) await c.memberRemove(id);
      return (await c.members()).some((m) => m.ID === id) ? undefined : true;
    },
    20_000,
    200,
  );
}

/**
 * Promotes a learner (retrying until it has caught up) until the membership lists it as a voter:
 * a retry after an answer lost to a timeout finds it promoted instead of failing on "not a learner".
 */
export function promoteMember(c: KvClient, id: string): Promise<true> {
  return waitFor(
    `member ${id} promoted`,
    async () => {
      const me = (await c.members()).find((m) => m.ID === id);
      if (me?.isLearner) await c.memberPromote(id);
      return (await c.members()).some((m) => m.ID === id && !m.isLearner) ? true : undefined;
    },
    30_000,
    200,
  );
}

/**
 * Waits until the member behind `c` serves `key` from its own store (a serializable read), with
 * `value` if one is given: it has caught up that far.
 */
export function servesLocally(c: KvClient, key: string, value?: string, ms = 30_000): Promise<true> {
  return waitFor(
    `${key}${value === undefined ? '' : `=${value}`} served locally`,
    async () => {
      const kv = (await c.get(key, { serializable: true })).kvs[0];
      return kv && (value === undefined || kv.value === value) ? true : undefined;
    },
    ms,
    50,
  );
}
