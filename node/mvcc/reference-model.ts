// A deliberately naive in-memory model of etcd's key-value semantics, for the randomized test of the
// store. It shares no code with the store: keys are latin1 strings, history is the list of events,
// and an old read replays that list; a lease is an ID with a TTL, and revoking it deletes the live
// keys whose lease it is. Left out because the generator never asks for them: quota, the txn
// operation budget and duplicate-key refusals (each tested by hand elsewhere).
import {
  ERR,
  type Compare,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
  type WriteRequest,
} from './types.js';

export interface ModelKv {
  key: string;
  value: string;
  create: number;
  mod: number;
  version: number;
  lease: number;
}

export interface ModelRange {
  revision: number;
  kvs: ModelKv[];
  more: boolean;
  count: number;
}

/** A write's revision afterwards and the ranges it ran (a txn's, in execution order), or its error code. */
export type ModelOutcome = { revision: number; ranges: ModelRange[] } | { error: string };

/** A watch event; `prev` is the key's value before it, when the key existed. */
export interface ModelEvent {
  type: 'PUT' | 'DELETE';
  key: string;
  value: string;
  mod: number;
  prev?: string;
}

/** A write in progress: committed only if it changed something and nothing refused it. */
interface Pending {
  rev: number;
  live: Map<string, ModelKv>;
  events: ModelEvent[];
  changes: Change[];
  ranges: ModelRange[];
}

interface Change {
  key: string;
  rev: number;
  kv?: ModelKv;
}

/** A txn's branch, chosen against the state before the outermost txn, nested ones included. */
interface Plan {
  ops: RequestOp[];
  nested: Array<Plan | undefined>;
}

const text = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('latin1') : '');

function covers(k: string, key: string, end: string): boolean {
  if (end === '') return k === key;
  return k >= key && (end === '\0' || k < end);
}

export class ReferenceModel {
  revision = 1;
  compacted = 0;
  /** Every change ever made, in revision order: the whole history. */
  readonly events: ModelEvent[] = [];
  /** The same history as key-values; `kv` is undefined for a deletion. */
  private readonly history: Change[] = [];
  private live = new Map<string, ModelKv>();
  private readonly leases = new Map<number, number>();

  apply(req: WriteRequest): ModelOutcome {
    try {
      if ('lease_grant' in req) return this.grant(req.lease_grant.ID, req.lease_grant.TTL);
      if ('lease_revoke' in req) return this.revoke(req.lease_revoke.ID);
      if ('put' in req) return this.write({ ops: [{ request_put: req.put }], nested: [] });
      if ('delete_range' in req)
        return this.write({ ops: [{ request_delete_range: req.delete_range }], nested: [] });
      if ('txn' in req) return this.write(this.plan(req.txn));
      if ('compaction' in req) return this.compact(req.compaction.revision);
    } catch (e) {
      if (e instanceof Error && 'code' in e) return { error: String(e.code) };
      throw e;
    }
    throw new Error('the model does not do alarms');
  }

  private grant(id: number, ttl: number): ModelOutcome {
    if (this.leases.has(id)) throw ERR.leaseExists();
    this.leases.set(id, ttl);
    return { revision: this.revision, ranges: [] };
  }

  /** A revoke is a txn deleting each key the lease holds. */
  private revoke(id: number): ModelOutcome {
    if (!this.leases.has(id)) throw ERR.leaseNotFound();
    const held = inKeyOrder(this.live, '', '\0').filter((kv) => kv.lease === id);
    this.leases.delete(id);
    const ops = held.map((kv): RequestOp => ({
      request_delete_range: { key: Buffer.from(kv.key, 'latin1') },
    }));
    return this.write({ ops, nested: [] });
  }

  /** Throws the store's MvccError where etcd refuses the read. */
  range(req: RangeRequest): ModelRange {
    return this.read(req, this.live);
  }

  private plan(t: TxnRequest): Plan {
    const ops = ((t.compare ?? []).every((c) => this.holds(c)) ? t.success : t.failure) ?? [];
    return { ops, nested: ops.map((op) => ('request_txn' in op ? this.plan(op.request_txn) : undefined)) };
  }

  /** etcd checks the chosen path against the state before the txn, then runs it as one revision. */
  private write(plan: Plan): ModelOutcome {
    this.check(plan);
    const p: Pending = {
      rev: this.revision + 1,
      live: new Map(this.live),
      events: [],
      changes: [],
      ranges: [],
    };
    this.run(p, plan);
    if (p.events.length > 0) {
      this.live = p.live;
      this.revision = p.rev;
      this.events.push(...p.events);
      this.history.push(...p.changes);
    }
    return { revision: this.revision, ranges: p.ranges };
  }

  private check(plan: Plan): void {
    plan.ops.forEach((op, i) => {
      if ('request_txn' in op) this.check(plan.nested[i]!);
      if ('request_range' in op) this.checkRevision(op.request_range.revision ?? 0);
      if ('request_put' in op) {
        const r = op.request_put;
        if ((r.ignore_value || r.ignore_lease) && !this.live.has(text(r.key))) throw ERR.keyNotFound();
        if (!r.ignore_lease && r.lease && !this.leases.has(r.lease)) throw ERR.leaseNotFound();
      }
    });
  }

  private run(p: Pending, plan: Plan): void {
    plan.ops.forEach((op, i) => {
      if ('request_put' in op) this.put(p, op.request_put);
      else if ('request_delete_range' in op) this.del(p, op.request_delete_range);
      else if ('request_range' in op) p.ranges.push(this.read(op.request_range, p.live));
      else this.run(p, plan.nested[i]!);
    });
  }

  private put(p: Pending, r: PutRequest): void {
    const key = text(r.key);
    const prev = p.live.get(key);
    const kv: ModelKv = {
      key,
      value: r.ignore_value ? prev!.value : text(r.value),
      create: prev ? prev.create : p.rev,
      mod: p.rev,
      version: (prev?.version ?? 0) + 1,
      lease: r.ignore_lease ? prev!.lease : (r.lease ?? 0),
    };
    p.live.set(key, kv);
    p.events.push(event('PUT', key, kv.value, p.rev, prev));
    p.changes.push({ key, rev: p.rev, kv });
  }

  private del(p: Pending, r: DeleteRangeRequest): void {
    for (const prev of inKeyOrder(p.live, text(r.key), text(r.range_end))) {
      p.live.delete(prev.key);
      p.events.push(event('DELETE', prev.key, '', p.rev, prev));
      p.changes.push({ key: prev.key, rev: p.rev });
    }
  }

  private checkRevision(rev: number): void {
    if (rev > this.revision) throw ERR.futureRev();
    if (rev > 0 && rev < this.compacted) throw ERR.compacted();
  }

  /** etcd's order: count the range, filter, sort, cut at the limit, drop values. */
  private read(r: RangeRequest, live: Map<string, ModelKv>): ModelRange {
    const rev = r.revision ?? 0;
    this.checkRevision(rev);
    const all = inKeyOrder(rev > 0 ? this.stateAt(rev) : live, text(r.key), text(r.range_end));
    let kvs = all.filter(
      (kv) =>
        (!r.min_mod_revision || kv.mod >= r.min_mod_revision) &&
        (!r.max_mod_revision || kv.mod <= r.max_mod_revision) &&
        (!r.min_create_revision || kv.create >= r.min_create_revision) &&
        (!r.max_create_revision || kv.create <= r.max_create_revision),
    );
    const order = r.sort_order ?? 'NONE';
    const target = r.sort_target ?? 'KEY';
    if (order !== 'NONE' || target !== 'KEY') {
      const sign = order === 'DESCEND' ? -1 : 1;
      kvs.sort((a, b) => sign * cmp(field(a, target), field(b, target)));
    }
    if (r.count_only) kvs = [];
    const limit = r.limit ?? 0;
    const more = limit > 0 && kvs.length > limit;
    if (more) kvs = kvs.slice(0, limit);
    if (r.keys_only) kvs = kvs.map((kv) => ({ ...kv, value: '' }));
    return { revision: this.revision, kvs, more, count: all.length };
  }

  /** Replays the history up to `rev`. */
  private stateAt(rev: number): Map<string, ModelKv> {
    const state = new Map<string, ModelKv>();
    for (const c of this.history) {
      if (c.rev > rev) break;
      if (c.kv) state.set(c.key, c.kv);
      else state.delete(c.key);
    }
    return state;
  }

  /** etcd: every key in the range must satisfy it; no key compares as zeros, except on VALUE. */
  private holds(c: Compare): boolean {
    const kvs = inKeyOrder(this.live, text(c.key), text(c.range_end));
    if (kvs.length === 0 && c.target === 'VALUE') return false;
    const zero: ModelKv = { key: '', value: '', create: 0, mod: 0, version: 0, lease: 0 };
    return (kvs.length > 0 ? kvs : [zero]).every((kv) => {
      const d = cmp(field(kv, c.target), operand(c));
      if (c.result === 'EQUAL') return d === 0;
      if (c.result === 'NOT_EQUAL') return d !== 0;
      return c.result === 'GREATER' ? d > 0 : d < 0;
    });
  }

  private compact(rev: number): ModelOutcome {
    if (rev <= this.compacted) throw ERR.compacted();
    if (rev > this.revision) throw ERR.futureRev();
    this.compacted = rev;
    return { revision: this.revision, ranges: [] };
  }
}

function event(
  type: ModelEvent['type'],
  key: string,
  value: string,
  mod: number,
  prev?: ModelKv,
): ModelEvent {
  return prev ? { type, key, value, mod, prev: prev.value } : { type, key, value, mod };
}

function inKeyOrder(live: Map<string, ModelKv>, key: string, end: string): ModelKv[] {
  return [...live.values()].filter((kv) => covers(kv.key, key, end)).sort((a, b) => cmp(a.key, b.key));
}

function cmp<T extends string | number>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function field(kv: ModelKv, target: string): string | number {
  if (target === 'VERSION') return kv.version;
  if (target === 'CREATE') return kv.create;
  if (target === 'MOD') return kv.mod;
  if (target === 'LEASE') return kv.lease;
  return target === 'VALUE' ? kv.value : kv.key;
}

function operand(c: Compare): string | number {
  if (c.target === 'VALUE') return text(c.value);
  if (c.target === 'VERSION') return c.version ?? 0;
  if (c.target === 'CREATE') return c.create_revision ?? 0;
  if (c.target === 'MOD') return c.mod_revision ?? 0;
  return c.lease ?? 0;
}
