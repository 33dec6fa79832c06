// etcd's Election service (v3electionpb), served beside KV as etcd serves it: etcd's
// concurrency.Election run in the member (concurrency.ts). A candidate's key is N/<its lease in
// hex>, attached to that lease and holding its value; the leader of election N is the key created
// first under N/, so a campaign returns once every key created before its own is gone. The
// leader key a campaign returns (name, key, creation revision, lease) is what Proclaim and Resign
// act on: they change or delete that key only while it is still the one created then.
import { prefixEnd } from '../mvcc/key-range.js';
import { MvccError, type KeyValue } from '../mvcc/types.js';
import type { Caller } from './auth-service.js';
import { Concurrency, prefixOf } from './concurrency.js';
import { BadRequest } from './json.js';
import type { Header, KvService } from './service.js';

export interface LeaderKey {
  name: Uint8Array;
  key: Uint8Array;
  rev: number;
  lease: number;
}

export interface LeaderResponse {
  header: Header;
  kv: KeyValue;
}

// etcd's own answers, which reach clients with gRPC code Unknown.
const notLeader = () => new MvccError('unknown', 'election: not leader');
const noLeader = () => new MvccError('unknown', 'election: no leader');

export class ElectionService {
  private readonly steps: Concurrency;

  constructor(kv: KvService) {
    this.steps = new Concurrency(kv);
  }

  /** Resolves once the caller leads election `name` with `value`. Aborted, it resigns. */
  async campaign(
    name: Uint8Array,
    lease: number,
    value: Uint8Array,
    caller: Caller,
    signal: AbortSignal,
  ): Promise<{ header: Header; leader: LeaderKey }> {
    const id = await this.steps.sessionLease(lease, caller);
    const prefix = prefixOf(name);
    const { key, header, created, value: held } = await this.steps.claim(prefix, id, value, caller);
    const leader: LeaderKey = { name, key, rev: created, lease: id };
    // Campaigning again on the same lease keeps the candidate's place, with the new value.
    if (!Buffer.from(held).equals(value)) {
      try {
        await this.proclaim(leader, value, caller);
      } catch (e) {
        await this.resign(leader, caller).catch(() => {});
        throw e;
      }
    }
    try {
      await this.steps.waitDeletes(prefix, leader.rev, caller, signal);
    } catch (e) {
      if (signal.aborted) await this.resign(leader, caller).catch(() => {});
      throw e;
    }
    return { header, leader };
  }

  /** Sets the leader's value, if `leader` still leads (its key is the one it created). */
  async proclaim(
    leader: LeaderKey | undefined,
    value: Uint8Array,
    caller: Caller,
  ): Promise<{ header: Header }> {
    const { key, rev, lease } = required(leader);
    const txn = await this.steps.ifCreatedAt(key, rev, [{ request_put: { key, value, lease } }], [], caller);
    if (!txn.succeeded) throw notLeader();
    return { header: txn.header };
  }

  /** Gives up leadership (deletes the key, if it is still the one created then). */
  async resign(leader: LeaderKey | undefined, caller: Caller): Promise<{ header: Header }> {
    const { key, rev } = required(leader);
    const txn = await this.steps.ifCreatedAt(key, rev, [{ request_delete_range: { key } }], [], caller);
    return { header: txn.header };
  }

  /** The leader's key and value. */
  async leader(name: Uint8Array, caller: Caller): Promise<LeaderResponse> {
    const found = await this.steps.first(prefixOf(name), caller);
    const kv = found.kvs[0];
    if (!kv) throw noLeader();
    return { header: found.header, kv };
  }

  /**
   * Sends the leader (once there is one), then each new value it proclaims, then the next leader
   * once it resigns or its lease ends, and so on until `signal` aborts.
   */
  async observe(
    name: Uint8Array,
    caller: Caller,
    signal: AbortSignal,
    send: (r: LeaderResponse) => void,
  ): Promise<never> {
    const prefix = prefixOf(name);
    const at = (kv: KeyValue) => this.steps.kv.header(kv.mod_revision);
    for (;;) {
      const found = await this.steps.first(prefix, caller);
      let leader: LeaderResponse | undefined = found.kvs[0] && { header: found.header, kv: found.kvs[0] };
      if (!leader) {
        const range = { key: prefix, rangeEnd: prefixEnd(prefix), from: found.header.revision + 1 };
        const [put] = await this.steps.nextEvents({ ...range, only: 'PUT' }, signal);
        leader = { header: at(put!.kv), kv: put!.kv };
      }
      send(leader);
      for (let from = leader.header.revision + 1; ;) {
        const events = await this.steps.nextEvents({ key: leader.kv.key, from }, signal);
        const gone = events.findIndex((e) => e.type === 'DELETE');
        for (const e of gone < 0 ? events : events.slice(0, gone)) send({ header: at(e.kv), kv: e.kv });
        if (gone >= 0) break;
        from = events.at(-1)!.kv.mod_revision + 1;
      }
    }
  }
}

function required(leader: LeaderKey | undefined): LeaderKey {
  if (!leader) throw new BadRequest('"leader" field must be provided');
  return leader;
}
